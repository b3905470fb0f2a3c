"""Reading workspaces as a given person sees them. Nothing here returns what they may not see."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet

from commonroom.core.exceptions import NotFound
from commonroom.workspaces.models import Invitation, Membership, Workspace
from commonroom.workspaces.permissions import abilities_for_role


@dataclass(frozen=True)
class WorkspaceAccess:
    """A workspace together with the acting person's role and abilities in it."""

    workspace: Workspace
    role: str
    abilities: dict[str, bool]

    def can(self, ability: str) -> bool:
        return self.abilities.get(ability, False)


def parse_uuid(value: Any) -> uuid.UUID:
    """A forged or malformed id is simply not found."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise NotFound() from None


def workspace_access(*, user: Any, workspace_id: Any) -> WorkspaceAccess:
    """The workspace if ``user`` is a member, else :class:`NotFound` (never 403: no leak)."""
    if user is None or not user.is_authenticated or not user.is_active:
        raise NotFound()
    pk = parse_uuid(workspace_id)
    membership = (
        Membership.objects.select_related("workspace")
        .filter(workspace_id=pk, user=user)
        .order_by()  # one row at most: no need for the default ordering's join on users
        .first()
    )
    if membership is None:
        raise NotFound()
    return access_from_membership(membership)


def access_from_membership(membership: Membership) -> WorkspaceAccess:
    ws = membership.workspace
    return WorkspaceAccess(
        workspace=ws,
        role=membership.role,
        abilities=abilities_for_role(membership.role, archived=ws.is_archived),
    )


def workspaces_for_user(*, user: Any, include_archived: bool = True) -> list[WorkspaceAccess]:
    """The workspaces ``user`` belongs to, with their role, in one query."""
    if not user.is_authenticated:
        return []
    qs = (
        Membership.objects.filter(user=user)
        .select_related("workspace")
        .annotate(
            member_count=Count("workspace__memberships", distinct=True),
        )
        .order_by("workspace__archived_at", "workspace__name")
    )
    if not include_archived:
        qs = qs.filter(workspace__archived_at__isnull=True)
    result = []
    for m in qs:
        access = access_from_membership(m)
        access.workspace.member_count = m.member_count  # type: ignore[attr-defined]
        result.append(access)
    return result


def workspace_members(*, access: WorkspaceAccess) -> QuerySet[Membership]:
    return access.workspace.memberships.select_related("user").order_by("user__email")


def workspace_invitations(*, access: WorkspaceAccess) -> QuerySet[Invitation]:
    """Pending and past invitations: only for those who manage members."""
    if not access.can("manage_members"):
        return Invitation.objects.none()
    return access.workspace.invitations.select_related("invited_by", "accepted_by")


def member_users(workspace: Workspace) -> QuerySet[Any]:
    """The people who are members of ``workspace`` (to resolve @mentions among them)."""
    return get_user_model().objects.filter(memberships__workspace=workspace).order_by("email")


def mention_candidates(*, access: WorkspaceAccess, query: str, limit: int = 8) -> list[Any]:
    """Members whose name or email contains ``query`` (any case), for the @mention list."""
    query = query.strip()
    users = member_users(access.workspace)
    if query:
        users = users.filter(Q(email__icontains=query) | Q(full_name__icontains=query))
    return list(users[:limit])
