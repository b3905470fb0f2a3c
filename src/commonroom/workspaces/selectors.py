"""Reading workspaces as a given person sees them. Nothing here returns what they may not see."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, Q, QuerySet

from commonroom.core.exceptions import NotFound
from commonroom.workspaces.models import Invitation, Membership, Workspace
from commonroom.workspaces.permissions import (
    WorkspaceAbilities,
    WorkspaceAbility,
    abilities_for_role,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from commonroom.accounts.models import User


@dataclass(frozen=True)
class WorkspaceAccess:
    """A workspace together with the acting person's role and abilities in it."""

    workspace: Workspace
    role: str
    abilities: WorkspaceAbilities

    def can(self, ability: WorkspaceAbility) -> bool:
        return self.abilities[ability]


def parse_uuid(value: Any) -> uuid.UUID:
    """A forged or malformed id is simply not found."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise NotFound() from None


def workspace_access(*, user: User | AnonymousUser | None, workspace_id: Any) -> WorkspaceAccess:
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


def workspaces_for_user(
    *, user: User | AnonymousUser, include_archived: bool = True
) -> list[WorkspaceAccess]:
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


def member_workspace_ids(*, user: User | int) -> QuerySet[Membership, Any]:
    """The ids of the workspaces ``user`` (or the person with that id) belongs to, as a
    subquery other apps filter their rows by (``workspace_id__in=``) in the same query."""
    return Membership.objects.filter(user=user).order_by().values("workspace_id")


def workspace_members(*, access: WorkspaceAccess) -> QuerySet[Membership]:
    return access.workspace.memberships.select_related("user").order_by("user__email")


def workspace_invitations(*, access: WorkspaceAccess) -> QuerySet[Invitation]:
    """Pending and past invitations: only for those who manage members."""
    if not access.can("manage_members"):
        return Invitation.objects.none()
    return access.workspace.invitations.select_related("invited_by", "accepted_by")


def account_exists(email: str) -> bool:
    """Whether someone has an account under ``email`` (an invitation's page then asks them to
    sign in rather than make one)."""
    return get_user_model().objects.filter(email__iexact=email).exists()


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


def mention_handles(*, access: WorkspaceAccess, users: list[Any]) -> dict[Any, str]:
    """What the composer types for each of ``users`` after "@" (``core.markup`` resolves it):
    the part of their address before the "@" when no other member's is the same, which reads
    as a name and shows as theirs once sent; their whole address only when it is shared."""
    counts: dict[str, int] = {}
    for email in member_users(access.workspace).values_list("email", flat=True):
        local = email.lower().split("@", 1)[0]
        counts[local] = counts.get(local, 0) + 1
    handles: dict[Any, str] = {}
    for user in users:
        local = user.email.lower().split("@", 1)[0]
        handles[user.pk] = local if counts.get(local) == 1 else user.email.lower()
    return handles


def active_memberships(*, workspace_id: Any) -> QuerySet[Membership]:
    """The memberships of the workspace whose person's account is active: the only people whose
    open connections may follow it (filter further by person; usable as a subquery)."""
    return Membership.objects.filter(workspace_id=workspace_id, user__is_active=True)


def workspace_named(name: str) -> Workspace | None:
    """The oldest workspace called ``name``, whoever's it is: for tools outside any person's
    view (the demo seed finding its own), never for a page or the API."""
    return Workspace.objects.filter(name=name).order_by("created_at").first()


def member_workspaces(*, user: User) -> list[Workspace]:
    """The workspaces ``user`` belongs to, archived ones too, by name (one query)."""
    return list(Workspace.objects.filter(memberships__user=user).order_by("name"))


def membership_exists(*, workspace_id: Any, user_id: Any) -> Exists:
    """True where the person ``user_id`` is a member of the workspace ``workspace_id``, each a
    value or an ``OuterRef`` to a field of another app's rows: those rows filtered by
    membership in the same query (``.filter(membership_exists(...))``)."""
    return Exists(Membership.objects.filter(workspace_id=workspace_id, user_id=user_id))


def member_roles(*, workspace_id: Any, user_ids: Iterable[Any]) -> dict[int, str]:
    """The role of each of ``user_ids`` who is a member of the workspace, by user id (a person
    missing from the answer is not a member)."""
    return dict(
        Membership.objects.filter(workspace_id=workspace_id, user_id__in=list(user_ids))
        .order_by()
        .values_list("user_id", "role")
    )


def guests_tokens_allowed(user: User) -> bool:
    """Whether a workspace ``user`` belongs to, and that is not archived, lets its external
    guests create and use API tokens (its managers' choice). Accounts asks it, through
    ``accounts.hooks.guest_api_tokens``, for a guest only."""
    return Membership.objects.filter(
        user=user,
        workspace__guests_may_create_tokens=True,
        workspace__archived_at__isnull=True,
    ).exists()
