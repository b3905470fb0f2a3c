"""current_members, the members the document page shows (approvers to choose from, who has read
a version), reads them with SQL built once per process (``core.prepared``): it answers what
workspace_members reads through the ORM, after writes made straight through the ORM as another
process makes them, and on the day it is asked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from commonroom.accounts.models import User
from commonroom.accounts.selectors import PERSON_FIELDS
from commonroom.accounts.tests.factories import UserFactory
from commonroom.workspaces.models import Membership
from commonroom.workspaces.selectors import current_members, workspace_access, workspace_members
from commonroom.workspaces.tests.factories import make_workspace

pytestmark = pytest.mark.django_db


def _found(team: Any) -> list[tuple[Any, ...]]:
    # A new request's access each time: current_members is kept with the access it is given.
    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    return [
        (*(getattr(m.user, name) for name in PERSON_FIELDS), m.role, m.access_until)
        for m in current_members(access=access)
    ]


def _orms(team: Any) -> list[tuple[Any, ...]]:
    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    return [
        (*(getattr(m.user, name) for name in PERSON_FIELDS), m.role, m.access_until)
        for m in workspace_members(access=access)
    ]


def test_the_members_are_the_orms_after_each_write(team: Any, monkeypatch: Any) -> None:
    ws = team.workspace
    make_workspace(manager=UserFactory(email="elsewhere@example.org"))  # not among them
    assert _found(team) == _orms(team)
    assert len(_found(team)) == 4
    Membership.objects.create(workspace=ws, user=team.outsider, role="viewer")
    Membership.objects.filter(workspace=ws, user=team.viewer).update(role="editor")
    User.objects.filter(pk=team.editor.pk).update(full_name="Tom Renamed", email="aa@example.org")
    found = _found(team)
    assert found == _orms(team) and len(found) == 5
    assert found[0][1] == "aa@example.org"  # ordered by email, as the ORM orders them
    today = timezone.localdate()
    Membership.objects.filter(workspace=ws, user=team.outsider).update(access_until=today)
    assert _found(team) == _orms(team)
    assert any(row[-1] == today for row in _found(team))
    tomorrow = timezone.now() + timedelta(days=1)
    monkeypatch.setattr(timezone, "now", lambda: tomorrow)
    found = _found(team)  # ended at midnight, in the process that built the query
    assert found == _orms(team) and len(found) == 4
    Membership.objects.filter(workspace=ws, user=team.commenter).delete()
    assert _found(team) == _orms(team) and len(_found(team)) == 3
