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
from commonroom.workspaces.models import Membership, Workspace, current_q
from commonroom.workspaces.selectors import (
    current_members,
    user_workspace_names,
    workspace_access,
    workspace_members,
)
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


def test_the_workspace_names_are_the_orms_after_each_write(team: Any, monkeypatch: Any) -> None:
    """user_workspace_names (the WebDAV address the document page offers), SQL built once."""

    def orms(user: Any) -> list[tuple[Any, str]]:
        rows = Membership.objects.filter(current_q(), user=user)
        return sorted(rows.values_list("workspace_id", "workspace__name"), key=lambda r: r[1])

    def found(user: Any) -> list[tuple[Any, str]]:
        return [(w.pk, w.name) for w in user_workspace_names(user=user)]

    other = make_workspace(manager=team.manager, name="Another board")
    assert found(team.manager) == orms(team.manager) and len(found(team.manager)) == 2
    assert found(team.viewer) == orms(team.viewer) and len(found(team.viewer)) == 1
    Workspace.objects.filter(pk=other.pk).update(name="A renamed board")
    Membership.objects.create(workspace=other, user=team.viewer, role="viewer")
    assert found(team.viewer) == orms(team.viewer) and found(team.viewer)[0][1] == "A renamed board"
    Membership.objects.filter(workspace=other, user=team.viewer).update(
        access_until=timezone.localdate()
    )
    assert len(found(team.viewer)) == 2
    tomorrow = timezone.now() + timedelta(days=1)
    monkeypatch.setattr(timezone, "now", lambda: tomorrow)
    assert found(team.viewer) == orms(team.viewer) and len(found(team.viewer)) == 1
    Membership.objects.filter(workspace=team.workspace, user=team.viewer).delete()
    assert found(team.viewer) == [] == orms(team.viewer)
