"""workspace_access, the check every workspace page starts with, reads the membership and its
workspace with SQL built once per process (``core.prepared``): it answers what the ORM reads,
after writes made straight through the ORM as another process makes them, and on the day it is
asked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from commonroom.core.exceptions import NotFound
from commonroom.workspaces.models import Membership, Workspace
from commonroom.workspaces.selectors import access_for, workspace_access

pytestmark = pytest.mark.django_db


def _expected(user: Any, workspace_id: Any) -> Any:
    membership = Membership.objects.select_related("workspace").get(
        workspace_id=workspace_id, user=user
    )
    return access_for(
        workspace=membership.workspace,
        role=membership.role,
        user=user,
        access_until=membership.access_until,
    )


def _same(found: Any, expected: Any) -> None:
    assert (found.role, found.abilities, found.access_until) == (
        expected.role,
        expected.abilities,
        expected.access_until,
    )
    for field in Workspace._meta.concrete_fields:
        name = field.attname
        assert getattr(found.workspace, name) == getattr(expected.workspace, name), name
    assert found.workspace._state.db == "default" and not found.workspace._state.adding


def test_the_access_is_the_orms_after_each_write(team: Any, monkeypatch: Any) -> None:
    ws = team.workspace
    for user in (team.manager, team.editor, team.commenter, team.viewer):
        _same(workspace_access(user=user, workspace_id=ws.pk), _expected(user, ws.pk))
    Membership.objects.filter(workspace=ws, user=team.viewer).update(role="editor")
    Workspace.objects.filter(pk=ws.pk).update(
        archived_at=timezone.now(), viewers_download="everyone", name="Renamed"
    )
    found = workspace_access(user=team.viewer, workspace_id=str(ws.pk))
    _same(found, _expected(team.viewer, ws.pk))
    assert found.role == "editor" and found.workspace.is_archived
    assert found.workspace.name == "Renamed"
    today = timezone.localdate()
    Membership.objects.filter(workspace=ws, user=team.viewer).update(access_until=today)
    assert workspace_access(user=team.viewer, workspace_id=ws.pk).access_until == today
    tomorrow = timezone.now() + timedelta(days=1)
    monkeypatch.setattr(timezone, "now", lambda: tomorrow)
    with pytest.raises(NotFound):  # ended at midnight, in the process that built the query
        workspace_access(user=team.viewer, workspace_id=ws.pk)
    Membership.objects.filter(workspace=ws, user=team.editor).delete()
    with pytest.raises(NotFound):
        workspace_access(user=team.editor, workspace_id=ws.pk)
    for forged in ("not-a-uuid", None, "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(NotFound):
            workspace_access(user=team.manager, workspace_id=forged)
    with pytest.raises(NotFound):
        workspace_access(user=team.outsider, workspace_id=ws.pk)
