"""Every write to approval requests: keyword-only, atomic, checked under the workspace and
document locks (``documents.services.document_access_locked``), audited as the transaction's
last writes, told to followers (``hooks``) and to open screens (``live``) before that.

- :func:`approval_request_create`: chosen members asked to approve the latest version, with a
  message, a due date and a rule (everyone, or any N of them).
- :func:`approval_decide`: an approver approves (recording the version's SHA-256, the time, IP,
  user agent and the second factor they confirmed) or declines with a reason; then the rule is
  evaluated (:func:`_evaluate`): met → the version is sealed as the document's final record
  (``documents.services.version_seal``) and the request approved; no longer possible →
  declined.
- :func:`approval_remind`, :func:`approvers_add`, :func:`approver_remove`,
  :func:`approval_due_date_change`, :func:`approval_cancel`: the requester (or a manager)
  changing an open request; :func:`approval_ask_again`: a request that ended without approval
  asked again on the latest version, with the same approvers and rule.
- Followers: :func:`approvals_end_for_version` (a new version ends the open requests on older
  ones), :func:`approver_left` (a member removed, or no longer allowed to comment, drops out),
  :func:`approvals_remind_due` (the daily job: the day before the due date, and once overdue).

Two decisions at the same moment queue on the workspace lock: the second sees the first's, so
a rule is met, and the version sealed, once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import BigIntegerField, QuerySet, UUIDField
from django.utils import timezone

from commonroom.accounts.selectors import second_factor_kinds
from commonroom.approvals import hooks
from commonroom.approvals.models import (
    ApprovalRequest,
    Approver,
    Decision,
    HistoryEntry,
    RequestState,
    Rule,
)
from commonroom.approvals.permissions import (
    CANNOT_ASK,
    NOT_ASKED,
    require_ask,
    require_change,
    role_may_approve,
)
from commonroom.approvals.selectors import rule_words
from commonroom.audit.actions import Action
from commonroom.audit.services import audit_record, audit_rows_last
from commonroom.core.exceptions import ApplicationError, Conflict, NotFound
from commonroom.core.prepared import Prepared
from commonroom.core.request_info import SYSTEM, RequestInfo
from commonroom.core.text import stated_text
from commonroom.documents.exceptions import Sealed
from commonroom.documents.selectors import DocumentAccess
from commonroom.documents.services import document_access_locked, version_seal
from commonroom.live.events import ApprovalEvent, ApprovalEventKind
from commonroom.live.services import publish
from commonroom.workspaces.selectors import member_roles, parse_uuid

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.documents.models import Document, Version

MAX_APPROVERS = 50
MAX_MESSAGE = 2_000
MAX_REASON = 2_000
REMIND_EVERY = dt.timedelta(minutes=10)  # a requester's reminders, at most
SECOND_FACTOR_NEEDED = (
    "Approving is a deliberate act: confirm your second factor (your authenticator app's code "
    "or your passkey) to approve."
)


# --- Small parts ------------------------------------------------------------------------------


def _clean_text(value: Any, *, limit: int, what: str, required: bool = False) -> str:
    return stated_text(value, what=what, limit=limit, required=required)


def clean_due_date(value: Any, *, today: dt.date | None = None) -> dt.date | None:
    """A due date from a form or the API (``YYYY-MM-DD`` or a date), or None; never past."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        try:
            value = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise ApplicationError(
                "The due date is not a date: use the form YYYY-MM-DD.", code="invalid_date"
            ) from None
    today = today or timezone.localdate()
    if value < today:
        raise ApplicationError(
            f"The due date {value:%-d %B %Y} is in the past: choose today or a later day.",
            code="due_date_past",
        )
    if value > today + dt.timedelta(days=3 * 366):
        raise ApplicationError("The due date is more than three years away.", code="invalid_date")
    return value


def _clean_rule(rule: Any, required: Any, count: int) -> tuple[str, int]:
    rule = str(rule or Rule.ALL)
    if rule not in Rule.values:
        raise ApplicationError("The rule must be “all” or “any”.", code="invalid_rule")
    if rule == Rule.ALL:
        return rule, count
    try:
        n = int(required)
    except (TypeError, ValueError):
        raise ApplicationError(
            "Say how many approvals are needed: a whole number.", code="invalid_rule"
        ) from None
    if not 1 <= n <= count:
        raise ApplicationError(
            f"The number of approvals needed must be between 1 and {count}, the number of "
            "people asked.",
            code="invalid_rule",
        )
    return rule, n


def _user_ids(values: Iterable[Any]) -> list[int]:
    ids: list[int] = []
    for value in values:
        try:
            pk = int(value)
        except (TypeError, ValueError):
            raise ApplicationError(
                "A person chosen is not valid.", code="invalid_approver"
            ) from None
        if pk not in ids:
            ids.append(pk)
    return ids


def _approvers_allowed(doc_access: DocumentAccess, user_ids: Sequence[int]) -> list[int]:
    """``user_ids`` if each may be asked (a member who may comment), else a sentence."""
    if not user_ids:
        raise ApplicationError("Choose at least one person to approve.", code="no_approvers")
    if len(user_ids) > MAX_APPROVERS:
        raise ApplicationError(
            f"At most {MAX_APPROVERS} people can be asked at once.", code="too_many_approvers"
        )
    workspace = doc_access.access.workspace
    roles = member_roles(workspace_id=workspace.pk, user_ids=user_ids)
    for pk in user_ids:
        if pk not in roles:
            raise ApplicationError(
                "One of the people chosen is not a member of this workspace.",
                code="not_a_member",
            )
        if not role_may_approve(roles[pk], archived=False):
            raise ApplicationError(
                "One of the people chosen can only read this workspace: viewers cannot approve.",
                code="viewer_approver",
            )
    return list(user_ids)


def _name(user: User | None) -> str:
    return user.display_name if user is not None else "Commonroom"


def _history(request: ApprovalRequest, actor: User | None, text: str) -> None:
    HistoryEntry.objects.create(request=request, actor=actor, text=text[:600])


def _audit(
    request: ApprovalRequest, *, action: str, actor: User | None, info: RequestInfo, **data: Any
) -> None:
    audit_record(
        action=action,
        actor=actor,
        info=info,
        workspace_id=request.workspace_id,
        document_id=request.document_id,
        target_type="approval_request",
        target_id=str(request.pk),
        target_label=request.document.name,
        data={
            "request": str(request.pk),
            "version": request.version.number,
            "sha256": request.sha256,
            **data,
        },
    )


def _publish(request: ApprovalRequest, kind: ApprovalEventKind, actor: User | None) -> None:
    publish(
        workspace_id=request.workspace_id,
        event=ApprovalEvent(
            kind=kind,
            document=request.document_id,
            request=request.pk,
            version=request.version.number,
            state=request.state,
            actor_id=actor.pk if actor is not None else None,
        ),
    )


def _locked_request(doc_access: DocumentAccess, request_id: Any) -> ApprovalRequest:
    """The document's request ``request_id``, read under the caller's document lock."""
    found = (
        ApprovalRequest.objects.select_related("version", "document", "requested_by")
        .filter(document=doc_access.document, pk=parse_uuid(request_id))
        .first()
    )
    if found is None:
        raise NotFound()
    return found


def _require_open(request: ApprovalRequest) -> None:
    if request.is_open:
        return
    sentences = {
        RequestState.APPROVED: "This request is finished: the version was approved.",
        RequestState.DECLINED: "This request has ended: it can no longer be approved.",
        RequestState.CANCELLED: "This request was cancelled.",
        RequestState.SUPERSEDED: (
            f"This request has ended. {request.end_note or 'A newer version was uploaded.'}"
        ),
    }
    raise Conflict(sentences[RequestState(request.state)], code="request_ended")


def _active(request: ApprovalRequest) -> list[Approver]:
    return list(
        request.approvers.exclude(decision=Decision.REMOVED).select_related("user").order_by("pk")
    )


def _refuse_sealed(document: Document) -> None:
    """A sealed document is asked about no more: documents' own refusal and sentence."""
    if document.sealed_version_id is not None:
        raise Sealed.of(document)


# --- Asking -----------------------------------------------------------------------------------


def _create(
    *,
    actor: User,
    doc_access: DocumentAccess,
    version: Version,
    user_ids: Sequence[int],
    rule: str,
    required: int,
    message: str,
    due_date: dt.date | None,
    asks_again: ApprovalRequest | None,
    info: RequestInfo,
) -> ApprovalRequest:
    """Inside a transaction holding the locks: the request written, told and audited."""
    document = doc_access.document
    if version.number != document.current_version_number:
        raise Conflict(
            f"Only the latest version can be approved: version {document.current_version_number} "
            f"is newer than version {version.number}.",
            code="not_latest",
        )
    if ApprovalRequest.objects.filter(version=version, state=RequestState.OPEN).exists():
        raise Conflict(
            f"Version {version.number} already has an open approval request.",
            code="already_open",
        )
    request = ApprovalRequest.objects.create(
        workspace_id=document.workspace_id,
        document=document,
        version=version,
        sha256=version.blob_id,
        requested_by=actor,
        message=message,
        due_date=due_date,
        rule=rule,
        required=required,
        asks_again=asks_again,
    )
    Approver.objects.bulk_create([Approver(request=request, user_id=pk) for pk in user_ids])
    due = f", due {due_date:%-d %B %Y}" if due_date else ""
    again = f" again (after version {asks_again.version.number})" if asks_again else ""
    _history(
        request,
        actor,
        f"{_name(actor)} asked {len(user_ids)} "
        f"{'person' if len(user_ids) == 1 else 'people'}{again} to approve version "
        f"{version.number}{due}; rule: {rule_words(request, len(user_ids))}.",
    )
    hooks.changed(hooks.ApprovalAsked(actor=actor, request=request, user_ids=tuple(user_ids)))
    _publish(request, "approval.requested", actor)
    _audit(
        request,
        action=Action.APPROVAL_REQUESTED,
        actor=actor,
        info=info,
        approvers=list(user_ids),
        rule=rule,
        required=required,
        due_date=due_date.isoformat() if due_date else None,
        asks_again=str(asks_again.pk) if asks_again else None,
    )
    return request


def approval_request_create(
    *,
    actor: User,
    doc_access: DocumentAccess,
    version_number: Any,
    approver_ids: Iterable[Any],
    rule: Any = Rule.ALL,
    required: Any = None,
    message: Any = "",
    due_date: Any = None,
    info: RequestInfo = SYSTEM,
) -> ApprovalRequest:
    """Ask ``approver_ids`` (members who may comment) to approve version ``version_number``
    (the latest) of the document, by ``rule`` ("all", or "any" with ``required`` of them)."""
    require_ask(doc_access)
    user_ids = _user_ids(approver_ids)
    text = _clean_text(message, limit=MAX_MESSAGE, what="message")
    due = clean_due_date(due_date)
    try:
        number = int(version_number)
    except (TypeError, ValueError):
        raise NotFound("There is no such version of this document.") from None
    with transaction.atomic():
        fresh = document_access_locked(actor, doc_access, "view", CANNOT_ASK)
        require_ask(fresh)
        _refuse_sealed(fresh.document)
        version = fresh.document.versions.select_related("blob").filter(number=number).first()
        if version is None:
            raise NotFound(f"There is no version {number} of this document.")
        allowed = _approvers_allowed(fresh, user_ids)
        rule_name, n = _clean_rule(rule, required, len(allowed))
        return _create(
            actor=actor,
            doc_access=fresh,
            version=version,
            user_ids=allowed,
            rule=rule_name,
            required=n,
            message=text,
            due_date=due,
            asks_again=None,
            info=info,
        )


@transaction.atomic
def approval_ask_again(
    *,
    actor: User,
    doc_access: DocumentAccess,
    request_id: Any,
    due_date: Any = None,
    info: RequestInfo = SYSTEM,
) -> ApprovalRequest:
    """A request that ended without approval (declined, cancelled, or ended by a new version)
    asked again on the latest version in one step: the same message and rule, the approvers it
    had (those removed, or who may no longer approve, left out), a new due date if given."""
    require_ask(doc_access)
    due = clean_due_date(due_date)
    fresh = document_access_locked(actor, doc_access, "view", CANNOT_ASK)
    require_ask(fresh)
    _refuse_sealed(fresh.document)
    old = _locked_request(fresh, request_id)
    if old.is_open or old.state == RequestState.APPROVED:
        raise Conflict(
            "This request has not ended without approval: there is nothing to ask again.",
            code="not_ended",
        )
    kept = [a.user_id for a in _active(old)]
    roles = member_roles(workspace_id=old.workspace_id, user_ids=kept)
    carried = [pk for pk in kept if role_may_approve(roles.get(pk), archived=False)]
    if not carried:
        raise ApplicationError(
            "None of the people asked before can still approve: make a new request.",
            code="no_approvers",
        )
    latest = fresh.document.versions.select_related("blob").get(
        number=fresh.document.current_version_number
    )
    required = min(old.required, len(carried)) if old.rule == Rule.ANY else len(carried)
    return _create(
        actor=actor,
        doc_access=fresh,
        version=latest,
        user_ids=carried,
        rule=old.rule,
        required=required,
        message=old.message,
        due_date=due if due is not None else _still_due(old.due_date),
        asks_again=old,
        info=info,
    )


def _still_due(due: dt.date | None) -> dt.date | None:
    return due if due is not None and due >= timezone.localdate() else None


# --- Changing an open request -----------------------------------------------------------------


def _changing(
    actor: User, doc_access: DocumentAccess, request_id: Any
) -> tuple[DocumentAccess, ApprovalRequest]:
    fresh = document_access_locked(actor, doc_access, "view", CANNOT_ASK)
    request = _locked_request(fresh, request_id)
    require_change(fresh, request, actor)
    _require_open(request)
    return fresh, request


@transaction.atomic
def approval_remind(
    *, actor: User, doc_access: DocumentAccess, request_id: Any, info: RequestInfo = SYSTEM
) -> int:
    """Remind the approvers still to decide. Returns how many were reminded."""
    _, request = _changing(actor, doc_access, request_id)
    now = timezone.now()
    if request.reminded_at and now - request.reminded_at < REMIND_EVERY:
        raise Conflict(
            "They were reminded a few minutes ago: wait a little before reminding them again.",
            code="reminded_recently",
        )
    waiting = [a.user_id for a in _active(request) if a.decision == Decision.PENDING]
    if not waiting:
        raise Conflict("Nobody is still to decide.", code="nobody_waiting")
    request.reminded_at = now
    request.save(update_fields=["reminded_at"])
    _history(request, actor, f"{_name(actor)} reminded {len(waiting)} to decide.")
    hooks.changed(
        hooks.ApprovalReminded(actor=actor, request=request, user_ids=tuple(waiting), why="asked")
    )
    _publish(request, "approval.changed", actor)
    _audit(request, action=Action.APPROVAL_REMINDED, actor=actor, info=info, approvers=waiting)
    return len(waiting)


@transaction.atomic
def approvers_add(
    *,
    actor: User,
    doc_access: DocumentAccess,
    request_id: Any,
    approver_ids: Iterable[Any],
    info: RequestInfo = SYSTEM,
) -> ApprovalRequest:
    """Ask more people on an open request (someone removed earlier may be asked again)."""
    fresh, request = _changing(actor, doc_access, request_id)
    wanted = _user_ids(approver_ids)
    rows = {a.user_id: a for a in request.approvers.all()}
    new = [pk for pk in wanted if pk not in rows or rows[pk].decision == Decision.REMOVED]
    if not new:
        raise Conflict("Everyone chosen is already asked.", code="already_asked")
    _approvers_allowed(fresh, new)
    if len(_active(request)) + len(new) > MAX_APPROVERS:
        raise ApplicationError(
            f"At most {MAX_APPROVERS} people can be asked.", code="too_many_approvers"
        )
    for pk in new:
        if pk in rows:
            row = rows[pk]
            row.decision = Decision.PENDING
            row.removed_at = None
            row.added_at = timezone.now()
            row.save(update_fields=["decision", "removed_at", "added_at"])
        else:
            Approver.objects.create(request=request, user_id=pk)
    if request.rule == Rule.ALL:
        request.required = len(_active(request))
        request.save(update_fields=["required"])
    _history(request, actor, f"{_name(actor)} asked {len(new)} more to approve.")
    hooks.changed(hooks.ApprovalAsked(actor=actor, request=request, user_ids=tuple(new)))
    _publish(request, "approval.changed", actor)
    _audit(request, action=Action.APPROVAL_CHANGED, actor=actor, info=info, added=new)
    return request


@transaction.atomic
def approver_remove(
    *,
    actor: User,
    doc_access: DocumentAccess,
    request_id: Any,
    user_id: Any,
    info: RequestInfo = SYSTEM,
) -> ApprovalRequest:
    """Take someone off an open request (their decision, if any, no longer counts); the rule
    is evaluated again on those left."""
    _, request = _changing(actor, doc_access, request_id)
    (pk,) = _user_ids([user_id])
    row = request.approvers.select_related("user").filter(user_id=pk).first()
    if row is None or row.decision == Decision.REMOVED:
        raise NotFound("That person is not asked on this request.")
    if len(_active(request)) == 1:
        raise Conflict(
            "That is the only person asked: cancel the request instead.", code="last_approver"
        )
    with audit_rows_last():
        _drop(request, row, actor, f"{_name(actor)} took {row.user.display_name} off the request.")
        _audit(request, action=Action.APPROVAL_CHANGED, actor=actor, info=info, removed=[pk])
        _evaluate(request, actor, info)
    return request


def _drop(request: ApprovalRequest, row: Approver, actor: User | None, text: str) -> None:
    row.decision = Decision.REMOVED
    row.removed_at = timezone.now()
    row.save(update_fields=["decision", "removed_at"])
    # "Everyone asked" counts those left; "any N" keeps its N: a request is never approved by
    # fewer people than its requester asked for (too few left, it ends as declined).
    if request.rule == Rule.ALL:
        request.required = max(1, len(_active(request)))
        request.save(update_fields=["required"])
    _history(request, actor, text)
    _publish(request, "approval.changed", actor)


@transaction.atomic
def approval_due_date_change(
    *,
    actor: User,
    doc_access: DocumentAccess,
    request_id: Any,
    due_date: Any,
    info: RequestInfo = SYSTEM,
) -> ApprovalRequest:
    due = clean_due_date(due_date)
    _, request = _changing(actor, doc_access, request_id)
    request.due_date = due
    request.due_reminders = ""
    request.save(update_fields=["due_date", "due_reminders"])
    words = f"{due:%-d %B %Y}" if due else "no date"
    _history(request, actor, f"{_name(actor)} changed the due date to {words}.")
    _publish(request, "approval.changed", actor)
    _audit(
        request,
        action=Action.APPROVAL_CHANGED,
        actor=actor,
        info=info,
        due_date=due.isoformat() if due else None,
    )
    return request


@transaction.atomic
def approval_cancel(
    *,
    actor: User,
    doc_access: DocumentAccess,
    request_id: Any,
    reason: Any = "",
    info: RequestInfo = SYSTEM,
) -> ApprovalRequest:
    why = _clean_text(reason, limit=MAX_REASON, what="reason")
    _, request = _changing(actor, doc_access, request_id)
    note = f"Cancelled by {_name(actor)}" + (f": {why}" if why else ".")
    _end(request, RequestState.CANCELLED, actor, note, info)
    return request


# --- Deciding ---------------------------------------------------------------------------------


@transaction.atomic
def approval_decide(
    *,
    actor: User,
    doc_access: DocumentAccess,
    request_id: Any,
    approve: bool,
    reason: Any = "",
    second_factor: str = "",
    info: RequestInfo = SYSTEM,
) -> Approver:
    """The actor's decision on a request they were asked on. Approving needs ``second_factor``
    (the kind the boundary confirmed just now: "totp", "webauthn", "recovery_codes") when the
    actor has one; declining needs a reason. The rule is then evaluated."""
    why = _clean_text(reason, limit=MAX_REASON, what="reason", required=not approve)
    if approve and second_factor_kinds(actor) and not second_factor:
        raise ApplicationError(SECOND_FACTOR_NEEDED, code="second_factor_needed", status=403)
    with audit_rows_last():
        return _decide(actor, doc_access, request_id, approve, why, second_factor, info)


def _decide(
    actor: User,
    doc_access: DocumentAccess,
    request_id: Any,
    approve: bool,
    why: str,
    second_factor: str,
    info: RequestInfo,
) -> Approver:
    fresh = document_access_locked(actor, doc_access, "view", NOT_ASKED)
    request = _locked_request(fresh, request_id)
    row = request.approvers.filter(user=actor).exclude(decision=Decision.REMOVED).first()
    if row is None or not fresh.can("comment"):
        raise ApplicationError(NOT_ASKED, code="not_asked", status=403)
    _require_open(request)
    if row.decision != Decision.PENDING:
        raise Conflict(
            f"You already {'approved' if row.decision == Decision.APPROVED else 'declined'} "
            f"version {request.version.number}.",
            code="already_decided",
        )
    row.decision = Decision.APPROVED if approve else Decision.DECLINED
    row.decided_at = timezone.now()
    row.reason = why
    row.sha256 = request.version.blob_id
    row.ip = info.ip or None
    row.user_agent = info.user_agent[:300]
    row.second_factor = second_factor if approve else ""
    row.save()
    verb = "approved" if approve else "declined"
    _history(
        request,
        actor,
        f"{_name(actor)} {verb} version {request.version.number}" + (f": {why}" if why else "."),
    )
    hooks.changed(hooks.ApprovalDecided(actor=actor, request=request, approver=row))
    _publish(request, "approval.decided", actor)
    _audit(
        request,
        action=Action.APPROVAL_APPROVED if approve else Action.APPROVAL_DECLINED,
        actor=actor,
        info=info,
        reason=why,
        second_factor=row.second_factor,
    )
    _evaluate(request, actor, info)
    return row


def _evaluate(request: ApprovalRequest, actor: User | None, info: RequestInfo) -> None:
    """After a decision or a change of approvers, inside its transaction: end the request when
    its rule is met (the version sealed as the final record) or can no longer be."""
    if not request.is_open:
        return
    active = _active(request)
    approved = [a for a in active if a.decision == Decision.APPROVED]
    pending = [a for a in active if a.decision == Decision.PENDING]
    declined = [a for a in active if a.decision == Decision.DECLINED]
    needed = len(active) if request.rule == Rule.ALL else request.required
    if active and len(approved) >= needed:
        _end(
            request,
            RequestState.APPROVED,
            actor,
            f"Approved by {', '.join(a.user.display_name for a in approved)}: version "
            f"{request.version.number} is the document's final record.",
            info,
        )
    elif len(approved) + len(pending) < needed or not active:
        who = ", ".join(a.user.display_name for a in declined)
        why = f"{who} declined" if who else "too few people are left to approve"
        _end(
            request,
            RequestState.DECLINED,
            actor,
            f"The rule can no longer be met: {why}.",
            info,
        )


def _end(
    request: ApprovalRequest,
    state: RequestState,
    actor: User | None,
    note: str,
    info: RequestInfo,
    *,
    superseded_by: int | None = None,
) -> None:
    request.state = state
    request.ended_at = timezone.now()
    request.end_note = note[:500]
    request.superseded_by_number = superseded_by
    request.save(update_fields=["state", "ended_at", "end_note", "superseded_by_number"])
    _history(request, actor, note)
    if state == RequestState.APPROVED:
        version_seal(
            actor=actor or request.requested_by,
            document=request.document,
            version=request.version,
            info=info,
            data={"approval_request": str(request.pk)},
        )
        transaction.on_commit(lambda: _prepare_certificate(request.pk), robust=True)
    hooks.changed(hooks.ApprovalEnded(actor=actor, request=request))
    _publish(request, "approval.ended", actor)
    _audit(
        request, action=Action.APPROVAL_ENDED, actor=actor, info=info, state=state, note=note[:500]
    )


def _prepare_certificate(request_id: Any) -> None:
    from commonroom.approvals.tasks import prepare_certificate

    prepare_certificate.enqueue(str(request_id))


# --- Following other apps ---------------------------------------------------------------------


def approvals_end_for_version(*, actor: User, document: Document, version: Version) -> None:
    """Inside the transaction adding ``version``: open requests on the document's older
    versions end (their approvals were for other bytes)."""
    with audit_rows_last():
        _end_older(actor, document, version)


def _open_on_older(*, document_id: uuid.UUID, version_id: int) -> QuerySet[ApprovalRequest, Any]:
    """The ids of the document's open requests on a version other than ``version_id``."""
    return (
        ApprovalRequest.objects.filter(document_id=document_id, state=RequestState.OPEN)
        .exclude(version_id=version_id)
        .order_by("pk")
        .values_list("pk")
    )


# Asked on every new version: :func:`_open_on_older`, its SQL built once per process.
_OPEN_ON_OLDER = Prepared(
    "approvals.open_on_older",
    _open_on_older,
    document_id=UUIDField(),
    version_id=BigIntegerField(),
)


def _end_older(actor: User, document: Document, version: Version) -> None:
    # Whether any is open is asked first, as ids: on most versions none is, and that narrow
    # read costs the ORM a third of the rows' read with their version and document.
    open_ids = [
        pk for (pk,) in _OPEN_ON_OLDER.tuples(document_id=document.pk, version_id=version.pk)
    ]
    if not open_ids:
        return
    for request in ApprovalRequest.objects.select_related("version", "document").filter(
        pk__in=open_ids
    ):
        _end(
            request,
            RequestState.SUPERSEDED,
            actor,
            f"Version {version.number} was uploaded after this request; approvals given were for "
            f"version {request.version.number}.",
            SYSTEM,
            superseded_by=version.number,
        )


def approver_left(*, actor: User | None, workspace_id: Any, user_id: int, role: str | None) -> None:
    """Inside the transaction removing a member (``role`` None; ``actor`` None when their access
    reached its end date) or changing their role: if they may no longer approve, they drop out
    of the workspace's open requests, each evaluated again."""
    if role is not None and role_may_approve(role, archived=False):
        return
    rows = Approver.objects.select_related("user", "request", "request__version").filter(
        request__workspace_id=workspace_id,
        request__state=RequestState.OPEN,
        user_id=user_id,
    )
    with audit_rows_last():
        for row in rows.exclude(decision=Decision.REMOVED):
            _drop_left(row, actor, role)


def _drop_left(row: Approver, actor: User | None, role: str | None) -> None:
    request = ApprovalRequest.objects.select_related("version", "document").get(pk=row.request_id)
    what = "left the workspace" if role is None else "can no longer approve"
    _drop(request, row, actor, f"{row.user.display_name} {what}: taken off the request.")
    _audit(request, action=Action.APPROVAL_CHANGED, actor=actor, info=SYSTEM, removed=[row.user_id])
    _evaluate(request, actor, SYSTEM)


def approvals_remind_due(*, today: dt.date | None = None) -> int:
    """The daily job: the approvers still to decide on an open request are reminded the day
    before its due date ("soon") and once it has passed ("overdue"), each once. Returns how
    many requests were reminded."""
    today = today or timezone.localdate()
    count = 0
    candidates = ApprovalRequest.objects.filter(
        state=RequestState.OPEN, due_date__isnull=False, due_date__lte=today + dt.timedelta(days=1)
    ).values_list("pk", flat=True)
    for pk in list(candidates):
        with transaction.atomic():
            request = (
                ApprovalRequest.objects.select_for_update()
                .select_related("version", "document")
                .get(pk=pk)
            )
            if not request.is_open or request.due_date is None:
                continue
            why = "overdue" if request.due_date < today else "soon"
            if why in request.due_reminders.split(","):
                continue
            waiting = [a.user_id for a in _active(request) if a.decision == Decision.PENDING]
            request.due_reminders = ",".join(filter(None, [request.due_reminders, why]))
            request.save(update_fields=["due_reminders"])
            if not waiting:
                continue
            words = "is due tomorrow" if why == "soon" else "is overdue"
            if why == "soon" and request.due_date == today:
                words = "is due today"
            _history(request, None, f"Reminded {len(waiting)}: the request {words}.")
            hooks.changed(
                hooks.ApprovalReminded(
                    actor=None, request=request, user_ids=tuple(waiting), why=why
                )
            )
            _publish(request, "approval.changed", None)
            _audit(
                request, action=Action.APPROVAL_REMINDED, actor=None, info=SYSTEM, why=why,
                approvers=waiting,
            )  # fmt: skip
            count += 1
    return count
