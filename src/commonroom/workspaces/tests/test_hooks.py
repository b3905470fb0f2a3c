"""What workspaces tells the apps that follow it (workspaces/hooks.py): role changes and removals,
typed, inside their transaction, after the change is written and before the audit row; and the
home page's parts, which other apps add. (That workspaces imports none of them is checked by
import-linter's no-app-cycles contract.)"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse

from commonroom.audit.models import Action, AuditEvent
from commonroom.core.exceptions import Conflict, PermissionDenied
from commonroom.workspaces import hooks, services
from commonroom.workspaces.models import Membership
from commonroom.workspaces.selectors import workspace_access


@dataclass
class Told:
    change: Any
    in_transaction: bool
    role_then: str | None  # the member's role in the database when the subscriber ran
    audited_then: int  # audit rows of the change's kind written by then


def _told(action: str, seen: list[Told]) -> Any:
    def note(change: Any) -> None:
        role = (
            Membership.objects.filter(workspace=change.workspace, user_id=change.user_id)
            .values_list("role", flat=True)
            .first()
        )
        audited = AuditEvent.objects.filter(action=action).count()
        seen.append(Told(change, connection.in_atomic_block, role, audited))

    return note


def access(team: Any, user: Any = None) -> Any:
    return workspace_access(user=user or team.manager, workspace_id=team.workspace.pk)


def membership(team: Any, user: Any) -> Membership:
    return Membership.objects.get(workspace=team.workspace, user=user)


def test_a_role_change_is_told_with_its_facts_once_written_before_its_audit_row(team):
    seen: list[Told] = []
    target = membership(team, team.viewer)
    with hooks.subscribed(hooks.MemberRoleChanged, _told(Action.MEMBER_ROLE_CHANGED, seen)):
        services.membership_change_role(
            actor=team.manager, access=access(team), membership_id=target.pk, role="editor"
        )
        # The same role again changes nothing, so nothing is told.
        services.membership_change_role(
            actor=team.manager, access=access(team), membership_id=target.pk, role="editor"
        )
    assert len(seen) == 1
    told = seen[0]
    assert told.change == hooks.MemberRoleChanged(
        actor=team.manager,
        workspace=team.workspace,
        user_id=team.viewer.pk,
        old_role="viewer",
        role="editor",
    )
    assert told.change.role_label == "Editor"
    assert told.in_transaction and told.role_then == "editor" and told.audited_then == 0
    assert AuditEvent.objects.filter(action=Action.MEMBER_ROLE_CHANGED).count() == 1


def test_a_removal_is_told_once_the_membership_is_gone_before_its_audit_row(team):
    seen: list[Told] = []
    target = membership(team, team.commenter)
    with hooks.subscribed(hooks.MemberRemoved, _told(Action.MEMBER_REMOVED, seen)):
        services.membership_remove(actor=team.manager, access=access(team), membership_id=target.pk)
    assert [t.change for t in seen] == [
        hooks.MemberRemoved(actor=team.manager, workspace=team.workspace, user_id=team.commenter.pk)
    ]
    assert seen[0].in_transaction and seen[0].role_then is None and seen[0].audited_then == 0


def test_a_refused_change_tells_nothing(team):
    seen: list[Any] = []
    with (
        hooks.subscribed(hooks.MemberRoleChanged, seen.append),
        hooks.subscribed(hooks.MemberRemoved, seen.append),
    ):
        with pytest.raises(PermissionDenied):
            services.membership_remove(
                actor=team.editor,
                access=access(team, team.editor),
                membership_id=membership(team, team.viewer).pk,
            )
        with pytest.raises(Conflict):  # the last manager
            services.membership_change_role(
                actor=team.manager,
                access=access(team),
                membership_id=membership(team, team.manager).pk,
                role="viewer",
            )
    assert seen == []


def test_a_followers_error_undoes_the_removal(team):
    def fails(change: hooks.MemberRemoved) -> None:
        raise RuntimeError("live is down")

    target = membership(team, team.viewer)
    with hooks.subscribed(hooks.MemberRemoved, fails), pytest.raises(RuntimeError):
        services.membership_remove(actor=team.manager, access=access(team), membership_id=target.pk)
    assert Membership.objects.filter(pk=target.pk).exists()
    assert not AuditEvent.objects.filter(action=Action.MEMBER_REMOVED).exists()


def test_the_home_page_shows_what_each_app_adds(team, client):
    """Conversations and notifications add their "what needs me" parts; a part added later
    contributes to the same page."""

    def extra(page: hooks.HomePage) -> Mapping[str, Any]:
        return {"extra_for": page.user.email}

    client.force_login(team.editor)
    context = client.get(reverse("home")).context
    for key in ("mentions", "waiting", "conversations", "changed"):
        assert key in context, key
    assert "extra_for" not in context

    hooks.add_home_part(extra)
    try:
        context = client.get(reverse("home")).context
    finally:
        hooks.home_parts.remove(extra)
    assert context["extra_for"] == team.editor.email
    assert "mentions" in context and "conversations" in context
