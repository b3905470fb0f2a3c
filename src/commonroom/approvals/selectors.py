"""Reading approval requests, always of a document the reader already has access to
(``documents.selectors.document_access``: 404 for a non-member), or the reader's own."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from django.db.models import OuterRef, Prefetch, QuerySet, Value
from django.db.models.functions import Coalesce

from commonroom.approvals.models import ApprovalRequest, Approver, Decision, RequestState, Rule
from commonroom.approvals.permissions import approval_abilities, role_may_approve
from commonroom.core.exceptions import NotFound
from commonroom.core.pagination import Page
from commonroom.documents.selectors import DocumentAccess
from commonroom.workspaces.selectors import current_members, membership_exists, parse_uuid

if TYPE_CHECKING:
    from commonroom.accounts.models import User


def rule_words(request: ApprovalRequest, count: int | None = None) -> str:
    """The rule in words: "Everyone asked (3)" or "Any 2 of 5"."""
    if count is None:
        count = request.approvers.exclude(decision=Decision.REMOVED).count()
    if request.rule == Rule.ALL:
        return f"Everyone asked ({count})"
    return f"Any {request.required} of {count}"


def _requests(doc_access: DocumentAccess) -> QuerySet[ApprovalRequest]:
    return (
        ApprovalRequest.objects.filter(document=doc_access.document)
        .select_related("version", "requested_by", "document")
        .prefetch_related(
            Prefetch("approvers", queryset=Approver.objects.select_related("user").order_by("pk")),
            "history__actor",
        )
        .order_by("-created_at")
    )


def _with_abilities(
    requests: list[ApprovalRequest], doc_access: DocumentAccess, user: User, *, any_open: bool
) -> list[ApprovalRequest]:
    """``any_open``: whether the document has an open request (asking again waits for it)."""
    for request in requests:
        approvers = list(request.approvers.all())
        active = [a for a in approvers if a.decision != Decision.REMOVED]
        mine = next((a for a in active if a.user_id == user.pk), None)
        pending = mine is not None and mine.decision == Decision.PENDING
        request.can = approval_abilities(  # type: ignore[attr-defined]
            doc_access, request, user, pending=pending, open_on_document=any_open
        )
        request.mine = mine  # type: ignore[attr-defined]
        request.rule_words = rule_words(request, len(active))  # type: ignore[attr-defined]
        request.approved_count = sum(  # type: ignore[attr-defined]
            a.decision == Decision.APPROVED for a in active
        )
        request.needed = len(active) if request.rule == "all" else request.required  # type: ignore[attr-defined]
    return requests


def document_requests(
    *, doc_access: DocumentAccess, user: User, page: Page | None = None
) -> list[ApprovalRequest]:
    """The document's approval requests (or ``page``'s window of them), newest first, each with
    its approvers and history and what the reader may do (``can``), their own row (``mine``)
    and the rule in words."""
    if page is None:
        requests = list(_requests(doc_access))
        any_open = any(r.is_open for r in requests)
    else:
        requests = page.window(_requests(doc_access))
        any_open = ApprovalRequest.objects.filter(
            document=doc_access.document, state=RequestState.OPEN
        ).exists()
    return _with_abilities(requests, doc_access, user, any_open=any_open)


def request_get(*, doc_access: DocumentAccess, user: User, request_id: Any) -> ApprovalRequest:
    found = _requests(doc_access).filter(pk=parse_uuid(request_id)).first()
    if found is None:
        raise NotFound()
    any_open = found.is_open or (
        ApprovalRequest.objects.filter(
            document=doc_access.document, state=RequestState.OPEN
        ).exists()
    )
    return _with_abilities([found], doc_access, user, any_open=any_open)[0]


def record_request(*, doc_access: DocumentAccess, version_number: int) -> ApprovalRequest | None:
    """The approved request that made version ``version_number`` a final record, if any."""
    return (
        _requests(doc_access)
        .filter(version__number=version_number, state=RequestState.APPROVED)
        .first()
    )


def awaiting_my_approval(*, user: User, page: Page | None = None) -> list[ApprovalRequest]:
    """Open requests asking ``user`` who has not decided yet, in workspaces they are still a
    member of, soonest due first (those with no due date last): the first 50, or ``page``'s
    window of them."""
    found = (
        ApprovalRequest.objects.filter(
            state=RequestState.OPEN,
            approvers__user=user,
            approvers__decision=Decision.PENDING,
        )
        .filter(membership_exists(workspace_id=OuterRef("workspace_id"), user_id=user.pk))
        .select_related("document", "version", "requested_by", "workspace")
        .annotate(due=Coalesce("due_date", Value(date.max)))
        .order_by("due", "created_at", "pk")
    )
    return page.window(found) if page else list(found[:50])


def approver_choices(*, doc_access: DocumentAccess) -> list[Any]:
    """The members who may be asked to approve (those who may comment), by name."""
    archived = False
    return [
        m.user
        for m in current_members(access=doc_access.access)
        if role_may_approve(m.role, archived=archived) and m.user.is_active
    ]
