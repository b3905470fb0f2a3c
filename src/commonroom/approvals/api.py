"""The approvals part of the JSON API (mounted on /api/v1/workspaces by commonroom/api.py): list a
document's approval requests, ask for approval, read one, decide (approve with the second
factor's code when the person has an authenticator app; decline with a reason), and the
requester's changes. Same selectors, services and abilities as the pages; a non-member gets 404
from ``documents.selectors.document_access`` before anything else is read."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field, StringConstraints

from commonroom.accounts.api import PersonOut, person_out
from commonroom.accounts.selectors import second_factor_kinds
from commonroom.accounts.services import second_factor_code_check
from commonroom.approvals import services
from commonroom.approvals.models import ApprovalRequest
from commonroom.approvals.records import PDF_TYPE, record_certificate
from commonroom.approvals.selectors import awaiting_my_approval, document_requests, request_get
from commonroom.approvals.views import certificate_response
from commonroom.core.pagination import Keyset, PageIn, page_for, page_schema
from commonroom.core.request_info import RequestInfo
from commonroom.core.views import AuthedRequest
from commonroom.documents.api import DOWNLOAD_OFF_403, NO_NUL, Text
from commonroom.documents.selectors import DocumentAccess, document_access

router = Router(tags=["approvals"])
# What concerns the person across their workspaces (mounted on /api/v1/).
mine = Router(tags=["approvals"])


def _conflict(description: str) -> dict[str, Any]:
    """The 409 an operation answers, with its ``ErrorOut`` body, for the OpenAPI schema."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }


ASK_409 = {
    "responses": {
        "409": _conflict(
            "Refused with a sentence: the version is not the latest (`not_latest`), already has "
            "an open request (`already_open`), or the document is sealed (`sealed`)."
        )
    }
}
CHANGE_409 = {
    "responses": {
        "409": _conflict(
            "Refused with a sentence: the request has ended (`request_ended`), was decided "
            "already (`already_decided`), or the change does not apply (`already_asked`, "
            "`last_approver`, `reminded_recently`, `nobody_waiting`, `not_ended`, `sealed`...)."
        )
    }
}

Reason = Annotated[str, StringConstraints(pattern=NO_NUL, max_length=services.MAX_REASON)]
StateName = Literal["open", "approved", "declined", "cancelled", "superseded"]
DecisionName = Literal["pending", "approved", "declined", "removed"]


class ApproverOut(Schema):
    person: PersonOut
    guest: bool = Field(description="An external guest, not the organisation's staff.")
    decision: DecisionName
    decided_at: datetime | None
    reason: str
    sha256: str = Field(description="The SHA-256 of the version decided on (empty if waiting).")
    second_factor: str = Field(
        description='The second factor confirmed ("totp", "webauthn", "email_code"…).'
    )


class HistoryOut(Schema):
    at: datetime
    actor: PersonOut | None
    text: str


class RequestAbilitiesOut(Schema):
    change: bool
    decide: bool
    ask_again: bool


class RequestOut(Schema):
    id: uuid.UUID
    version: int
    sha256: str
    state: StateName
    requested_by: PersonOut
    created_at: datetime
    message: str
    due_date: date | None
    rule: Literal["all", "any"]
    required: int = Field(description="Approvals needed to meet the rule.")
    rule_words: str
    ended_at: datetime | None
    end_note: str
    superseded_by: int | None = Field(description="The version whose upload ended it.")
    approvers: list[ApproverOut]
    history: list[HistoryOut]
    abilities: RequestAbilitiesOut


class RequestIn(Schema):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(description="The version to approve: the latest.")
    approvers: list[int] = Field(
        min_length=1, max_length=services.MAX_APPROVERS, description="Members' user ids."
    )
    rule: Literal["all", "any"] = "all"
    required: int | None = Field(None, ge=1, description='For "any": how many approvals.')
    message: Text = ""
    due_date: date | None = None


class DecisionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "decline"]
    reason: Reason = Field("", description="Why (required to decline).")
    code: Annotated[str, StringConstraints(pattern=r"^[0-9 ]{0,12}$")] = Field(
        "",
        description="To approve, when you have an authenticator app: its current code. With "
        "a passkey only, approve in the browser.",
    )


class ChangeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    action: Literal["remind", "add", "remove", "due", "cancel", "again"]
    approvers: list[int] = Field(default_factory=list, max_length=services.MAX_APPROVERS)
    user: int | None = Field(None, description="For remove: whose row.")
    due_date: date | None = None
    reason: Reason = ""


def request_out(r: ApprovalRequest) -> dict[str, Any]:
    return {
        "id": r.pk,
        "version": r.version.number,
        "sha256": r.sha256,
        "state": r.state,
        "requested_by": person_out(r.requested_by),
        "created_at": r.created_at,
        "message": r.message,
        "due_date": r.due_date,
        "rule": r.rule,
        "required": r.needed,  # type: ignore[attr-defined]
        "rule_words": r.rule_words,  # type: ignore[attr-defined]
        "ended_at": r.ended_at,
        "end_note": r.end_note,
        "superseded_by": r.superseded_by_number,
        "approvers": [
            {
                "person": person_out(a.user),
                "guest": a.user.is_guest,
                "decision": a.decision,
                "decided_at": a.decided_at,
                "reason": a.reason,
                "sha256": a.sha256,
                "second_factor": a.second_factor,
            }
            for a in r.approvers.all()
        ],
        "history": [
            {"at": h.at, "actor": person_out(h.actor), "text": h.text} for h in r.history.all()
        ],
        # Only those the schema names (a list's page is not validated, core.pagination).
        "abilities": {k: r.can[k] for k in RequestAbilitiesOut.model_fields},  # type: ignore[attr-defined]
    }


def _info(request: AuthedRequest) -> RequestInfo:
    return RequestInfo.from_request(request)


def _doc(request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID) -> DocumentAccess:
    return document_access(user=request.user, workspace_id=workspace_id, document_id=document_id)


def _one(request: AuthedRequest, doc_access: DocumentAccess, request_id: Any) -> dict[str, Any]:
    return request_out(request_get(doc_access=doc_access, user=request.user, request_id=request_id))


A = "/{workspace_id}/documents/{document_id}/approvals"


RequestPage = page_schema(RequestOut, "RequestPage")
NEWEST_REQUEST_FIRST = Keyset(("-created_at", "-pk"))


@router.get(A, response=RequestPage)
def request_list(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, page: Query[PageIn]
) -> object:
    """The document's approval requests, newest first, with approvers, history and what you may
    do, a page at a time."""
    doc_access = _doc(request, workspace_id, document_id)
    window = page_for(page, keyset=NEWEST_REQUEST_FIRST, scope=f"approvals:{document_id}")
    found = document_requests(doc_access=doc_access, user=request.user, page=window)
    return window.respond(request, found, request_out)


@router.post(A, response={201: RequestOut}, openapi_extra=ASK_409)
def request_create(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, payload: RequestIn
) -> object:
    """Ask members who may comment to approve the latest version (editors and managers). 409
    when the version is not the latest, already has an open request, or the document is
    sealed."""
    doc_access = _doc(request, workspace_id, document_id)
    made = services.approval_request_create(
        actor=request.user,
        doc_access=doc_access,
        version_number=payload.version,
        approver_ids=payload.approvers,
        rule=payload.rule,
        required=payload.required,
        message=payload.message,
        due_date=payload.due_date,
        info=_info(request),
    )
    return Status(201, _one(request, doc_access, made.pk))


@router.get(A + "/{request_id}", response=RequestOut)
def request_read(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, request_id: uuid.UUID
) -> object:
    return _one(request, _doc(request, workspace_id, document_id), request_id)


@router.post(A + "/{request_id}/decision", response=RequestOut, openapi_extra=CHANGE_409)
def request_decide(
    request: AuthedRequest,
    workspace_id: uuid.UUID,
    document_id: uuid.UUID,
    request_id: uuid.UUID,
    payload: DecisionIn,
) -> object:
    """Approve or decline, as one of the people asked. Approving needs ``code`` from your
    authenticator app when you have one (403 ``second_factor_needed`` / ``second_factor_wrong``
    otherwise); declining needs a reason."""
    doc_access = _doc(request, workspace_id, document_id)
    approve = payload.decision == "approve"
    factor = ""
    if approve and second_factor_kinds(request.user):
        factor = second_factor_code_check(user=request.user, code=payload.code)
    services.approval_decide(
        actor=request.user,
        doc_access=doc_access,
        request_id=request_id,
        approve=approve,
        reason=payload.reason,
        second_factor=factor,
        info=_info(request),
    )
    return _one(request, doc_access, request_id)


@router.post(
    A + "/{request_id}/change",
    response={200: RequestOut, 201: RequestOut},
    openapi_extra=CHANGE_409,
)
def request_change(
    request: AuthedRequest,
    workspace_id: uuid.UUID,
    document_id: uuid.UUID,
    request_id: uuid.UUID,
    payload: ChangeIn,
) -> object:
    """The requester's (or a manager's) changes to an open request: remind, add approvers,
    remove one (``user``), change the due date, cancel (with a reason); or ``again``: a request
    that ended without approval asked again on the latest version (201, the new request)."""
    doc_access = _doc(request, workspace_id, document_id)
    common: dict[str, Any] = {
        "actor": request.user,
        "doc_access": doc_access,
        "request_id": request_id,
        "info": _info(request),
    }
    if payload.action == "remind":
        services.approval_remind(**common)
    elif payload.action == "add":
        services.approvers_add(approver_ids=payload.approvers, **common)
    elif payload.action == "remove":
        services.approver_remove(user_id=payload.user, **common)
    elif payload.action == "due":
        services.approval_due_date_change(due_date=payload.due_date, **common)
    elif payload.action == "cancel":
        services.approval_cancel(reason=payload.reason, **common)
    else:
        again = services.approval_ask_again(due_date=payload.due_date, **common)
        return Status(201, _one(request, doc_access, again.pk))
    return _one(request, doc_access, request_id)


@router.get(
    "/{workspace_id}/documents/{document_id}/versions/{number}/certificate",
    response={200: bytes},
    openapi_extra={
        "responses": {
            "200": {
                "description": (
                    "The final record as one PDF: the version rendered (a Word file by "
                    "LibreOffice, a PDF as it is, other files their preview's text, which the "
                    "certificate then says), followed by its certificate page (the document, "
                    "version, SHA-256, each approver's decision and time, the rule, the "
                    "request's history), signed by the installation (PAdES): "
                    "`commonroom record verify FILE` checks it. An attachment."
                ),
                "content": {PDF_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            },
            "403": DOWNLOAD_OFF_403,
            "409": _conflict("The version is not a final record (`not_a_record`)."),
        }
    },
)
def record_certificate_get(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, number: int
) -> object:
    """A final record's signed certificate (409 ``not_a_record`` for a version that is not
    one)."""
    made = record_certificate(
        actor=request.user,
        doc_access=_doc(request, workspace_id, document_id),
        number=number,
        info=_info(request),
    )
    return certificate_response(made)


class AwaitingOut(Schema):
    workspace_id: uuid.UUID
    workspace: str
    document_id: uuid.UUID
    document: str
    request_id: uuid.UUID
    version: int
    sha256: str
    requested_by: PersonOut
    created_at: datetime
    due_date: date | None
    message: str


AwaitingPage = page_schema(AwaitingOut, "AwaitingPage")
SOONEST_DUE_FIRST = Keyset(("due", "created_at", "pk"))


def _awaiting_out(r: ApprovalRequest) -> dict[str, object]:
    return {
        "workspace_id": r.workspace_id,
        "workspace": r.workspace.name,
        "document_id": r.document_id,
        "document": r.document.name,
        "request_id": r.pk,
        "version": r.version.number,
        "sha256": r.sha256,
        "requested_by": person_out(r.requested_by),
        "created_at": r.created_at,
        "due_date": r.due_date,
        "message": r.message,
    }


@mine.get("/approvals/awaiting", response=AwaitingPage)
def awaiting(request: AuthedRequest, page: Query[PageIn]) -> object:
    """The open requests asking you, that you have not decided yet, across your workspaces
    (soonest due first, those with no due date last), a page at a time: what the home page
    lists under "Awaiting my approval"."""
    window = page_for(page, keyset=SOONEST_DUE_FIRST, scope=f"awaiting:{request.user.pk}")
    found = awaiting_my_approval(user=request.user, page=window)
    return window.respond(request, found, _awaiting_out)
