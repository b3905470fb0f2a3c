"""API operations on workspaces, members and invitations. Same selectors, services and
abilities as the pages; the abilities are returned so clients never recompute them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any

from django.db import transaction
from ninja import Query, Router, Schema, Status
from pydantic import Field, StrictBool, StringConstraints

from commonroom.core.exceptions import NotFound
from commonroom.core.pagination import Keyset, PageIn, page_for, page_schema
from commonroom.core.request_info import RequestInfo
from commonroom.core.views import AuthedRequest
from commonroom.workspaces import services
from commonroom.workspaces.models import DownloadRule, Invitation, Membership, Role
from commonroom.workspaces.permissions import download_settings
from commonroom.workspaces.selectors import (
    WorkspaceAccess,
    invitations_listed,
    member_rows,
    membership_access,
    user_memberships,
    workspace_access,
    workspace_members,
)

router = Router(tags=["workspaces"])

# Text as people type it. PostgreSQL cannot store a NUL character, so none is accepted (422).
Text = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]


class WorkspaceOut(Schema):
    id: uuid.UUID
    name: str
    description: str
    archived: bool
    # Years a final record is kept from its approval (0: no retention): until then neither it
    # nor the workspace can be deleted.
    record_retention_years: int
    # Whether its external guests may create API tokens (staff always may).
    guests_may_create_tokens: bool
    # Who may download originals, per role: "everyone", "staff" (not external guests) or
    # "nobody"; managers always may. Reading in the browser is every member's.
    downloads: dict[str, str]
    # Whether its external guests' PDF downloads carry their watermark on every page.
    watermark_guest_downloads: bool
    created_at: datetime
    role: str
    abilities: dict[str, bool]


class WorkspaceIn(Schema):
    name: Text
    description: Text = ""


class WorkspacePatch(Schema):
    name: Text | None = None
    description: Text | None = None
    record_retention_years: Annotated[int, Field(ge=0, le=100)] | None = None
    guests_may_create_tokens: StrictBool | None = None
    # Role → "everyone", "staff" or "nobody" for the roles to change (managers: "everyone"
    # only). Anything else is refused with a sentence (400) and nothing changes.
    downloads: dict[str, Text] | None = None
    watermark_guest_downloads: StrictBool | None = None
    archived: StrictBool | None = None


class MemberOut(Schema):
    id: int
    user_id: int
    email: str
    full_name: str
    kind: str
    role: str
    added_at: datetime
    # The last day of their access (the installation's time zone): it ends at midnight at the
    # end of that day, everywhere. null: no end date.
    access_until: date | None = Field(
        description="The last day of the member's access, in the installation's time zone: "
        "it ends at midnight at the end of that day (pages, API, websockets, WebDAV). "
        "null: no end date. Told only to the workspace's managers and to the member "
        "themself (null to everyone else), as on the people page."
    )


class MemberPatch(Schema):
    role: Role | None = None
    access_until: date | None = Field(
        default=None,
        description="The last day of the member's access (today or later; never a manager's). "
        "Sent as null: no end date. Left out: unchanged.",
    )


class InvitationIn(Schema):
    email: Annotated[Text, Field(json_schema_extra={"format": "email"})]
    role: Role
    access_until: date | None = Field(
        default=None,
        description="The last day of the access the invitation gives (today or later; not "
        "for a manager). null or left out: no end date.",
    )


class InvitationOut(Schema):
    id: uuid.UUID
    email: str
    role: str
    status: str
    created_at: datetime
    expires_at: datetime
    access_until: date | None = Field(
        description="The last day of the access it gives; null: no end date."
    )


def workspace_out(access: WorkspaceAccess) -> dict[str, object]:
    ws = access.workspace
    return {
        "id": ws.pk,
        "name": ws.name,
        "description": ws.description,
        "archived": ws.is_archived,
        "record_retention_years": ws.record_retention_years,
        "guests_may_create_tokens": ws.guests_may_create_tokens,
        "downloads": {"manager": DownloadRule.EVERYONE.value, **download_settings(ws)},
        "watermark_guest_downloads": ws.watermark_guest_downloads,
        "created_at": ws.created_at,
        "role": access.role,
        "abilities": access.abilities,
    }


def member_out(m: Membership, *, end_date_told: bool = True) -> dict[str, object]:
    """A member as the API gives it; ``end_date_told``: whether the reader may know when their
    access ends (managers, and the member themself)."""
    return {
        "id": m.pk,
        "user_id": m.user_id,
        "email": m.user.email,
        "full_name": m.user.full_name,
        "kind": m.user.kind,
        "role": m.role,
        "added_at": m.added_at,
        "access_until": m.access_until if end_date_told else None,
    }


def member_row_out(row: Mapping[str, Any], *, end_date_told: bool) -> dict[str, object]:
    """:func:`member_out` of a row of ``selectors.MEMBER_COLUMNS``."""
    return {
        "id": row["id"],
        "user_id": row["user_id"],
        "email": row["user__email"],
        "full_name": row["user__full_name"],
        "kind": row["user__kind"],
        "role": row["role"],
        "added_at": row["added_at"],
        "access_until": row["access_until"] if end_date_told else None,
    }


def invitation_out(i: Invitation) -> dict[str, object]:
    return {
        "id": i.pk,
        "email": i.email,
        "role": i.role,
        "status": i.status,
        "created_at": i.created_at,
        "expires_at": i.expires_at,
        "access_until": i.access_until,
    }


def _info(request: AuthedRequest) -> RequestInfo:
    return RequestInfo.from_request(request)


WorkspacePage = page_schema(WorkspaceOut, "WorkspacePage")
MemberPage = page_schema(MemberOut, "MemberPage")
InvitationPage = page_schema(InvitationOut, "InvitationPage")

# The lists' orders (core.pagination): workspaces in use first, then by name; members by email;
# invitations newest first.
WORKSPACE_ORDER = Keyset(("archived", "workspace__name", "pk"))
MEMBER_ORDER = Keyset(("user__email", "pk"))
INVITATION_ORDER = Keyset(("-created_at", "-pk"))


@router.get("", response=WorkspacePage)
def workspace_list(request: AuthedRequest, page: Query[PageIn]) -> object:
    """The workspaces you belong to, those still in use first, then by name, a page at a
    time."""
    window = page_for(page, keyset=WORKSPACE_ORDER, scope=f"workspaces:{request.user.pk}")
    rows = window.window(user_memberships(user=request.user))
    return window.respond(
        request, rows, lambda m: workspace_out(membership_access(m, user=request.user))
    )


@router.post("", response={201: WorkspaceOut})
def workspace_create(request: AuthedRequest, payload: WorkspaceIn) -> object:
    ws = services.workspace_create(
        actor=request.user, name=payload.name, description=payload.description, info=_info(request)
    )
    return Status(201, workspace_out(workspace_access(user=request.user, workspace_id=ws.pk)))


@router.get("/{workspace_id}", response=WorkspaceOut)
def workspace_get(request: AuthedRequest, workspace_id: uuid.UUID) -> object:
    return workspace_out(workspace_access(user=request.user, workspace_id=workspace_id))


@router.patch("/{workspace_id}", response=WorkspaceOut)
def workspace_update(
    request: AuthedRequest, workspace_id: uuid.UUID, payload: WorkspacePatch
) -> object:
    # Several changes in one request: all of them or none.
    with transaction.atomic():
        access = workspace_access(user=request.user, workspace_id=workspace_id)
        if payload.archived is False and access.workspace.is_archived:
            services.workspace_set_archived(
                actor=request.user, access=access, archived=False, info=_info(request)
            )
            access = workspace_access(user=request.user, workspace_id=workspace_id)
        if (
            payload.name is not None
            or payload.description is not None
            or payload.record_retention_years is not None
            or payload.guests_may_create_tokens is not None
            or payload.downloads is not None
            or payload.watermark_guest_downloads is not None
        ):
            services.workspace_update(
                actor=request.user,
                access=access,
                name=payload.name,
                description=payload.description,
                record_retention_years=payload.record_retention_years,
                guests_may_create_tokens=payload.guests_may_create_tokens,
                downloads=payload.downloads,
                watermark_guest_downloads=payload.watermark_guest_downloads,
                info=_info(request),
            )
        if payload.archived is True and not access.workspace.is_archived:
            services.workspace_set_archived(
                actor=request.user, access=access, archived=True, info=_info(request)
            )
    return workspace_out(workspace_access(user=request.user, workspace_id=workspace_id))


@router.get("/{workspace_id}/members", response=MemberPage)
def member_list(request: AuthedRequest, workspace_id: uuid.UUID, page: Query[PageIn]) -> object:
    """The workspace's members, by email address, a page at a time."""
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    managing = access.can("manage_members")
    window = page_for(page, keyset=MEMBER_ORDER, scope=f"members:{workspace_id}")
    rows = window.window(member_rows(access=access))
    me = request.user.pk
    return window.respond(
        request,
        rows,
        lambda row: member_row_out(row, end_date_told=managing or row["user_id"] == me),
    )


@router.patch("/{workspace_id}/members/{member_id}", response=MemberOut)
def member_update(
    request: AuthedRequest, workspace_id: uuid.UUID, member_id: int, payload: MemberPatch
) -> object:
    """Change a member's role, the last day of their access, or both (all or nothing). A
    manager's access cannot end on a date: to make someone with an end date a manager, send
    ``access_until: null`` with the role."""
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    date_sent = "access_until" in payload.model_fields_set

    def set_date() -> None:
        services.membership_set_access_until(
            actor=request.user,
            access=access,
            membership_id=member_id,
            access_until=payload.access_until,
            info=_info(request),
        )

    with transaction.atomic():
        # A new manager's date goes first; a demoted manager's after the role.
        if date_sent and payload.role == Role.MANAGER:
            set_date()
        if payload.role is not None:
            services.membership_change_role(
                actor=request.user,
                access=access,
                membership_id=member_id,
                role=payload.role,
                info=_info(request),
            )
        if date_sent and payload.role != Role.MANAGER:
            set_date()
    m = next((m for m in workspace_members(access=access) if m.pk == member_id), None)
    if m is None:
        raise NotFound()
    return member_out(m)


@router.delete("/{workspace_id}/members/{member_id}", response={204: None})
def member_remove(request: AuthedRequest, workspace_id: uuid.UUID, member_id: int) -> object:
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    services.membership_remove(
        actor=request.user, access=access, membership_id=member_id, info=_info(request)
    )
    return Status(204, None)


@router.get("/{workspace_id}/invitations", response=InvitationPage)
def invitation_list(request: AuthedRequest, workspace_id: uuid.UUID, page: Query[PageIn]) -> object:
    """The workspace's invitations, pending and past, newest first, a page at a time. Managers
    only."""
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    services.require_ability(access, "manage_members", "Only managers can see invitations.")
    window = page_for(page, keyset=INVITATION_ORDER, scope=f"invitations:{workspace_id}")
    rows = window.window(invitations_listed(access=access))
    return window.respond(request, rows, invitation_out)


@router.post("/{workspace_id}/invitations", response={201: InvitationOut, 200: MemberOut})
def invitation_create(
    request: AuthedRequest, workspace_id: uuid.UUID, payload: InvitationIn
) -> object:
    """201 with the invitation; 200 with the membership when the address already had an
    account, which is a member at once (told by a notification and an email)."""
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    invited = services.member_invite(
        actor=request.user,
        access=access,
        email=payload.email,
        role=payload.role,
        access_until=payload.access_until,
        info=_info(request),
    )
    if invited.added is not None:
        return Status(200, member_out(invited.added))
    # The link goes to the invitee by email only: whoever holds it can create the account.
    return Status(201, invitation_out(invited.invitation))


@router.delete("/{workspace_id}/invitations/{invitation_id}", response={204: None})
def invitation_revoke(
    request: AuthedRequest, workspace_id: uuid.UUID, invitation_id: uuid.UUID
) -> object:
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    services.invitation_revoke(
        actor=request.user, access=access, invitation_id=invitation_id, info=_info(request)
    )
    return Status(204, None)
