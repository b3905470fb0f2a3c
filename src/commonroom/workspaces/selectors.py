"""Reading workspaces as a given person sees them. Nothing here returns what they may not see.

A membership whose end date has passed (``Membership.access_until``, the last day of access) is
no membership here: every selector that answers who belongs to a workspace filters by
``models.current_q``, so pages, the API, sockets (``active_memberships``), WebDAV
(``workspaces_for_user``), search, mentions and notifications stop at the same moment,
before the scheduled job (``services.memberships_access_end``) removes the row."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    DateField,
    Exists,
    IntegerField,
    Q,
    QuerySet,
    UUIDField,
    Value,
    When,
)
from django.utils import timezone

from commonroom.accounts.selectors import PERSON_FIELDS, PersonRow, people_seen
from commonroom.audit.selectors import last_seen_in_workspaces
from commonroom.core.exceptions import ApplicationError, NotFound
from commonroom.core.prepared import Prepared
from commonroom.core.rows import maker
from commonroom.workspaces.models import Invitation, Membership, Workspace, current_q
from commonroom.workspaces.permissions import (
    WorkspaceAbilities,
    WorkspaceAbility,
    abilities_for_role,
    download_settings,
)
from commonroom.workspaces.roles import Role

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from commonroom.accounts.models import User


@dataclass(frozen=True)
class WorkspaceAccess:
    """A workspace together with the acting person's role and abilities in it."""

    workspace: Workspace
    role: str
    abilities: WorkspaceAbilities
    # The last day of the person's access (``Membership.access_until``), or None: no end (or not
    # read, as under a write's lock, where only the role is read again).
    access_until: date | None = None

    def can(self, ability: WorkspaceAbility) -> bool:
        return self.abilities[ability]

    @property
    def access_days_left(self) -> int | None:
        """Whole days of access after today (0: it ends tonight), or None: no end date."""
        if self.access_until is None:
            return None
        return (self.access_until - timezone.localdate()).days


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
    found = _MEMBERSHIP.window(
        limit=1, offset=0, workspace_id=pk, user_id=user.pk, today=timezone.localdate()
    )
    if not found:
        raise NotFound()
    row = found[0]
    workspace = Workspace.from_db(
        DEFAULT_DB_ALIAS, _WORKSPACE_FIELDS, [row[column] for column in _WORKSPACE_COLUMNS]
    )
    return access_for(
        workspace=workspace, role=row["role"], user=user, access_until=row["access_until"]
    )


# The workspace's fields, read with the membership in one statement, as Workspace.from_db takes
# them (its concrete fields' attribute names, in their order) and as values() names them.
_WORKSPACE_FIELDS = [field.attname for field in Workspace._meta.concrete_fields]
_WORKSPACE_COLUMNS = [f"workspace__{field.attname}" for field in Workspace._meta.concrete_fields]


def _membership(*, workspace_id: uuid.UUID, user_id: int, today: date) -> QuerySet[Membership, Any]:
    """The person's membership of the workspace that gives access today (one row at most), with
    the workspace: what :func:`workspace_access` decides from."""
    return (
        Membership.objects.filter(
            current_q(today=today), workspace_id=workspace_id, user_id=user_id
        )
        .order_by("pk")
        .values_list("role", "access_until", *_WORKSPACE_COLUMNS)
    )


# Asked on every page of a workspace: :func:`_membership`, its SQL built once per process.
_MEMBERSHIP = Prepared(
    "workspaces.membership",
    _membership,
    workspace_id=UUIDField(),
    user_id=BigIntegerField(),
    today=DateField(),
)


def _workspace_for_update(*, workspace_id: uuid.UUID) -> QuerySet[Workspace, Any]:
    """The workspace's row, locked until the transaction ends (one row at most)."""
    return (
        Workspace.objects.select_for_update()
        .filter(pk=workspace_id)
        .order_by("pk")
        .values_list(*_WORKSPACE_FIELDS)
    )


# Every write to a workspace starts by locking its row (``services.lock_access``,
# ``services.workspace_lock``): :func:`_workspace_for_update`, its SQL built once per process.
_WORKSPACE_FOR_UPDATE = Prepared(
    "workspaces.workspace_for_update", _workspace_for_update, workspace_id=UUIDField()
)


def workspace_locked(workspace_id: Any) -> Workspace | None:
    """Inside a transaction: the workspace's row as it is, locked until the transaction ends
    (on SQLite the write transaction itself is the lock), or None when there is none."""
    found = _WORKSPACE_FOR_UPDATE.window(limit=1, offset=0, workspace_id=workspace_id)
    if not found:
        return None
    row = found[0]
    return Workspace.from_db(
        DEFAULT_DB_ALIAS, _WORKSPACE_FIELDS, [row[f] for f in _WORKSPACE_FIELDS]
    )


def _role(*, workspace_id: uuid.UUID, user_id: int, today: date) -> QuerySet[Membership, Any]:
    """The role of the person's membership that gives access today (one row at most)."""
    return (
        Membership.objects.filter(
            current_q(today=today), workspace_id=workspace_id, user_id=user_id
        )
        .order_by("pk")
        .values_list("role")
    )


_ROLE = Prepared(
    "workspaces.role", _role, workspace_id=UUIDField(), user_id=BigIntegerField(), today=DateField()
)


def role_now(*, workspace_id: Any, user_id: Any) -> str | None:
    """The person's role in the workspace today, read as it is (under the workspace's lock,
    a write asks it again: ``services.lock_access``), or None: not a member today."""
    found = _ROLE.window(
        limit=1, offset=0, workspace_id=workspace_id, user_id=user_id, today=timezone.localdate()
    )
    return str(found[0]["role"]) if found else None


def access_for(
    *, workspace: Workspace, role: str, user: User, access_until: date | None = None
) -> WorkspaceAccess:
    """``user``'s access to ``workspace`` as a member with ``role``: the abilities decided by
    ``permissions.abilities_for_role`` from the role, the workspace (archived, its download
    setting) and whether the person is an external guest."""
    return WorkspaceAccess(
        workspace=workspace,
        role=role,
        abilities=abilities_for_role(
            role,
            archived=workspace.is_archived,
            guest=user.is_guest,
            downloads=download_settings(workspace),
        ),
        access_until=access_until,
    )


def access_from_membership(membership: Membership, *, user: User) -> WorkspaceAccess:
    return access_for(
        workspace=membership.workspace,
        role=membership.role,
        user=user,
        access_until=membership.access_until,
    )


def workspaces_for_user(
    *, user: User | AnonymousUser, include_archived: bool = True
) -> list[WorkspaceAccess]:
    """The workspaces ``user`` belongs to, with their role, in one query."""
    if not user.is_authenticated:
        return []
    return [
        membership_access(m, user=user)
        for m in user_memberships(user=user, include_archived=include_archived)
    ]


@dataclass(frozen=True, slots=True)
class WorkspaceName:
    pk: uuid.UUID
    name: str


def user_workspace_names(*, user: User) -> list[WorkspaceName]:
    """The id and name of each workspace ``user`` belongs to now, archived ones too (those
    :func:`workspaces_for_user` gives), without the member counts it adds: what naming them
    needs (WebDAV's folder names), one light query."""
    rows = _WORKSPACE_NAMES.tuples(user_id=user.pk, today=timezone.localdate())
    return [WorkspaceName(pk, name) for pk, name in rows]


def _workspace_names(*, user_id: int, today: date) -> QuerySet[Membership, Any]:
    """The id and name of each workspace the person belongs to on ``today``, by name."""
    return (
        Membership.objects.filter(current_q(today=today), user_id=user_id)
        .order_by("workspace__name", "workspace_id")
        .values_list("workspace_id", "workspace__name")
    )


# Asked by every document page (the WebDAV address it offers): SQL built once per process.
_WORKSPACE_NAMES = Prepared(
    "workspaces.workspace_names", _workspace_names, user_id=BigIntegerField(), today=DateField()
)


def user_memberships(*, user: User, include_archived: bool = True) -> QuerySet[Membership]:
    """``user``'s current memberships, each with its workspace and the workspace's
    ``member_count``, the workspaces still in use first (``archived``: 0 or 1), then by name
    (:func:`membership_access` makes each a ``WorkspaceAccess``)."""
    qs = (
        Membership.objects.filter(current_q(), user=user)
        .select_related("workspace")
        .annotate(
            member_count=Count(
                "workspace__memberships",
                filter=current_q("workspace__memberships__"),
                distinct=True,
            ),
            archived=Case(
                When(workspace__archived_at__isnull=True, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
        )
        .order_by("archived", "workspace__archived_at", "workspace__name")
    )
    if not include_archived:
        qs = qs.filter(workspace__archived_at__isnull=True)
    return qs


def membership_access(membership: Membership, *, user: User) -> WorkspaceAccess:
    """A membership read by :func:`user_memberships` as its person's access to its workspace."""
    access = access_from_membership(membership, user=user)
    access.workspace.member_count = membership.member_count  # type: ignore[attr-defined]
    return access


def member_workspace_ids(*, user: User | int) -> QuerySet[Membership, Any]:
    """The ids of the workspaces ``user`` (or the person with that id) belongs to, as a
    subquery other apps filter their rows by (``workspace_id__in=``) in the same query."""
    return Membership.objects.filter(current_q(), user=user).order_by().values("workspace_id")


def workspace_members(*, access: WorkspaceAccess) -> QuerySet[Membership]:
    """The members whose access has not ended (a membership past its end date is gone from
    every page at once, before the scheduled job removes it)."""
    return _members_of(workspace_id=access.workspace.pk).select_related("user")


def _members_of(*, workspace_id: Any, today: date | None = None) -> QuerySet[Membership]:
    """The workspace's memberships that give access (on ``today``, as ``current_q`` takes it),
    by the person's address: what :func:`workspace_members` and :func:`current_members` read."""
    return Membership.objects.filter(current_q(today=today), workspace_id=workspace_id).order_by(
        "user__email"
    )


# What the API shows of a member (``workspaces.api.member_row_out``), as columns of
# ``values()``.
MEMBER_COLUMNS = (
    "id",
    "user_id",
    "user__email",
    "user__full_name",
    "user__kind",
    "role",
    "added_at",
    "access_until",
)


def member_rows(*, access: WorkspaceAccess) -> QuerySet[Membership, Any]:
    """:func:`workspace_members` as rows of :data:`MEMBER_COLUMNS`, for the API's list."""
    return workspace_members(access=access).values(*MEMBER_COLUMNS)


@dataclass(frozen=True, slots=True)
class Member:
    """A current member as :func:`current_members` reads them: the person (as values), their
    role and the last day of their access."""

    user: PersonRow
    role: str
    access_until: date | None

    @property
    def user_id(self) -> Any:
        return self.user.pk


_PERSON_COLUMNS = tuple(f"user__{name}" for name in PERSON_FIELDS)


def _current_members(*, workspace_id: uuid.UUID, today: date) -> QuerySet[Membership, Any]:
    """:func:`workspace_members` of the workspace on ``today``, as the columns of a
    :class:`Member`."""
    return _members_of(workspace_id=workspace_id, today=today).values_list(
        "role", "access_until", *_PERSON_COLUMNS
    )


_MEMBER, _PERSON_ROW = maker(Member), maker(PersonRow)

# Read by the document page (the approvers to choose from, who has read a version):
# :func:`_current_members`, its SQL built once per process.
_CURRENT_MEMBERS = Prepared(
    "workspaces.current_members", _current_members, workspace_id=UUIDField(), today=DateField()
)


def current_members(*, access: WorkspaceAccess) -> list[Member]:
    """:func:`workspace_members` read once for ``access`` (one request's) and kept with it: a
    page that shows the members in several parts (the approvers to choose from, who has read a
    version) reads them once, as values (a few hundred members: a millisecond, not seven).
    Only for reads: a service that changes memberships asks :func:`workspace_members` again."""
    found: list[Member] | None = access.__dict__.get("_members")
    if found is None:
        rows = _CURRENT_MEMBERS.tuples(workspace_id=access.workspace.pk, today=timezone.localdate())
        member, person = _MEMBER, _PERSON_ROW  # without their frozen __init__ (core.rows)
        found = [member(person(*columns), role, until) for role, until, *columns in rows]
        object.__setattr__(access, "_members", found)  # frozen, but this is only a memo
        people_seen(m.user for m in found)  # the page's names checked from these rows
    return found


def workspace_invitations(*, access: WorkspaceAccess) -> QuerySet[Invitation]:
    """Pending and past invitations: only for those who manage members."""
    if not access.can("manage_members"):
        return Invitation.objects.none()
    return access.workspace.invitations.select_related("invited_by", "accepted_by")


def invitations_listed(*, access: WorkspaceAccess) -> QuerySet[Invitation]:
    """:func:`workspace_invitations` with only what the API's list shows of each (and what
    decides its ``status``), without the people who sent or accepted it."""
    return (
        workspace_invitations(access=access)
        .select_related(None)
        .only(
            "id",
            "workspace_id",
            "email",
            "role",
            "accepted_at",
            "revoked_at",
            "expires_at",
            "email_error",
            "created_at",
            "access_until",
        )
    )


def account_exists(email: str) -> bool:
    """Whether someone has an account under ``email`` (an invitation's page then asks them to
    sign in rather than make one)."""
    return get_user_model().objects.filter(email__iexact=email).exists()


def member_users(workspace: Workspace) -> QuerySet[Any]:
    """The people who are members of ``workspace`` (to resolve @mentions among them)."""
    return (
        get_user_model()
        .objects.filter(current_q("memberships__"), memberships__workspace=workspace)
        .order_by("email")
    )


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


def active_memberships(*, workspace_id: Any, today: date | None = None) -> QuerySet[Membership]:
    """The memberships of the workspace whose person's account is active: the only people whose
    open connections may follow it (filter further by person; usable as a subquery).
    ``today``: as ``models.current_q`` takes it."""
    return Membership.objects.filter(
        current_q(today=today), workspace_id=workspace_id, user__is_active=True
    )


def workspace_named(name: str) -> Workspace | None:
    """The oldest workspace called ``name``, whoever's it is: for tools outside any person's
    view (the demo seed finding its own), never for a page or the API."""
    return Workspace.objects.filter(name=name).order_by("created_at").first()


def member_workspaces(*, user: User) -> list[Workspace]:
    """The workspaces ``user`` belongs to, archived ones too, by name (one query)."""
    return list(
        Workspace.objects.filter(current_q("memberships__"), memberships__user=user).order_by(
            "name"
        )
    )


def membership_exists(*, workspace_id: Any, user_id: Any, today: date | None = None) -> Exists:
    """True where the person ``user_id`` is a member of the workspace ``workspace_id``, each a
    value or an ``OuterRef`` to a field of another app's rows: those rows filtered by
    membership in the same query (``.filter(membership_exists(...))``). ``today``: as
    ``models.current_q`` takes it."""
    return Exists(
        Membership.objects.filter(
            current_q(today=today), workspace_id=workspace_id, user_id=user_id
        )
    )


def member_roles(*, workspace_id: Any, user_ids: Iterable[Any]) -> dict[int, str]:
    """The role of each of ``user_ids`` who is a member of the workspace, by user id (a person
    missing from the answer is not a member)."""
    return dict(
        Membership.objects.filter(
            current_q(), workspace_id=workspace_id, user_id__in=list(user_ids)
        )
        .order_by()
        .values_list("user_id", "role")
    )


def guests_tokens_allowed(user: User) -> bool:
    """Whether a workspace ``user`` belongs to, and that is not archived, lets its external
    guests create and use API tokens (its managers' choice). Accounts asks it, through
    ``accounts.hooks.guest_api_tokens``, for a guest only."""
    return Membership.objects.filter(
        current_q(),
        user=user,
        workspace__guests_may_create_tokens=True,
        workspace__archived_at__isnull=True,
    ).exists()


# The ``User.kind`` of an external guest (accounts' ``UserKind.GUEST``).
GUEST_KIND = "guest"


def managed_guests(*, user: User) -> list[Membership]:
    """The external guests' memberships, whose access has not ended, of every workspace
    ``user`` manages and that is not archived (where they may remove members), by guest then
    workspace, in one query."""
    managed = Membership.objects.filter(
        current_q(), user=user, role=Role.MANAGER, workspace__archived_at__isnull=True
    ).values("workspace_id")
    return list(
        Membership.objects.filter(current_q(), workspace_id__in=managed, user__kind=GUEST_KIND)
        .select_related("user", "workspace")
        .order_by("user__email", "workspace__name")
    )


@dataclass(frozen=True)
class GuestRow:
    """An external guest in one workspace, with when they last did anything there: their
    newest audit-trail entry in it (every document they opened, once per ten minutes, and
    every change they made is one), and when they last signed in anywhere."""

    membership: Membership
    last_seen: datetime | None

    @property
    def last_sign_in(self) -> datetime | None:
        last: datetime | None = self.membership.user.last_login
        return last


def guests_overview(*, user: User) -> list[GuestRow]:
    """:func:`managed_guests` with each one's last visit (two queries in all)."""
    rows = managed_guests(user=user)
    seen = last_seen_in_workspaces(
        actor_ids={m.user_id for m in rows}, workspace_ids={m.workspace_id for m in rows}
    )
    return [GuestRow(membership=m, last_seen=seen.get((m.user_id, m.workspace_id))) for m in rows]


NOT_MANAGED = "One of the people chosen is not in a workspace you manage. Nobody was removed."


def managed_guests_chosen(*, user: User, membership_ids: Iterable[Any]) -> list[Membership]:
    """The memberships ``membership_ids`` names, each an external guest's in a workspace
    ``user`` manages (:func:`managed_guests`), or a sentence refusing them all: a forged id,
    a staff member's, one in a workspace they do not manage."""
    ids: set[int] = set()
    for value in membership_ids:
        try:
            ids.add(int(value))
        except (TypeError, ValueError):
            raise ApplicationError(NOT_MANAGED, code="not_managed") from None
    if not ids:
        raise ApplicationError("Choose at least one person to remove.", code="none_chosen")
    chosen = [m for m in managed_guests(user=user) if m.pk in ids]
    if len(chosen) != len(ids):
        raise ApplicationError(NOT_MANAGED, code="not_managed")
    return chosen
