"""Approval pages: one request's card (what live screens fetch), asking, deciding (with the
second factor confirmed again before an approval), and the requester's changes.

Thin: parse, ask a selector or a service, redirect back to the document page with the sentence
as a message. Every view reads the document through ``documents.selectors.document_access``
first (a non-member gets 404); the services check ``approvals.permissions``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from commonroom.accounts.selectors import second_factor_confirmed, second_factor_kinds
from commonroom.approvals import services
from commonroom.approvals.models import ApprovalRequest
from commonroom.approvals.records import PDF_TYPE, Certificate, record_certificate
from commonroom.approvals.selectors import approver_choices, request_get
from commonroom.core.downloads import attachment
from commonroom.core.exceptions import ApplicationError
from commonroom.core.views import AuthedRequest, back_with_error, form_value, info
from commonroom.documents.forms_answer import (
    document_form_answer,
    document_page_access,
    document_page_url,
)
from commonroom.documents.selectors import DocumentAccess

# The time of the second-factor confirmation an approval used: each approval needs a newer one.
FACTOR_USED = "commonroom_approval_factor_used_at"


def _doc_access(request: AuthedRequest, workspace_id: Any, document_id: Any) -> DocumentAccess:
    return document_page_access(request, workspace_id, document_id)


def _page_url(doc_access: DocumentAccess, anchor: str = "approvals") -> str:
    return document_page_url(doc_access, anchor)


def request_context(
    request: AuthedRequest, doc_access: DocumentAccess, found: ApprovalRequest
) -> dict[str, Any]:
    """What ``approvals/_request.html`` needs, besides the request."""
    return {
        "r": found,
        "workspace": doc_access.access.workspace,
        "document": doc_access.document,
        "approver_choices": approver_choices(doc_access=doc_access) if found.can["change"] else [],  # type: ignore[attr-defined]
    }


@login_required
@require_GET
def request_item(
    request: AuthedRequest, workspace_id: str, document_id: str, request_id: str
) -> HttpResponse:
    """One request as its reader sees it (what live screens fetch after an event)."""
    doc_access = _doc_access(request, workspace_id, document_id)
    found = request_get(doc_access=doc_access, user=request.user, request_id=request_id)
    return render(request, "approvals/_request.html", request_context(request, doc_access, found))


def _write(
    request: AuthedRequest,
    workspace_id: str,
    document_id: str,
    write: Callable[[DocumentAccess], Any],
    done: Callable[[Any], str],
) -> HttpResponse:
    """Approvals' forms are plain forms, answered as every document-page form is."""
    return document_form_answer(
        request,
        workspace_id,
        document_id,
        write,
        done=done,
        anchor=lambda w: f"approval-{w.pk}" if isinstance(w, ApprovalRequest) else "approvals",
        refused_anchor="approvals",
    )


@login_required
@require_POST
def request_create(request: AuthedRequest, workspace_id: str, document_id: str) -> HttpResponse:
    def write(doc_access: DocumentAccess) -> ApprovalRequest:
        return services.approval_request_create(
            actor=request.user,
            doc_access=doc_access,
            version_number=form_value(request, "version"),
            approver_ids=request.POST.getlist("approvers"),
            rule=form_value(request, "rule", "all"),
            required=form_value(request, "required") or None,
            message=form_value(request, "message"),
            due_date=form_value(request, "due_date") or None,
            info=info(request),
        )

    return _write(
        request,
        workspace_id,
        document_id,
        write,
        lambda r: f"Approval of version {r.version.number} asked for: the people asked were told.",
    )


@login_required
@require_POST
def request_change(
    request: AuthedRequest, workspace_id: str, document_id: str, request_id: str
) -> HttpResponse:
    """The requester's (or a manager's) changes: ``action`` is remind, add, remove, due,
    cancel or again (ask again on the latest version)."""
    action = form_value(request, "action")
    common: dict[str, Any] = {
        "actor": request.user,
        "request_id": request_id,
        "info": info(request),
    }

    def write(doc_access: DocumentAccess) -> Any:
        if action == "remind":
            return services.approval_remind(doc_access=doc_access, **common)
        if action == "add":
            return services.approvers_add(
                doc_access=doc_access, approver_ids=request.POST.getlist("approvers"), **common
            )
        if action == "remove":
            return services.approver_remove(
                doc_access=doc_access, user_id=form_value(request, "user"), **common
            )
        if action == "due":
            return services.approval_due_date_change(
                doc_access=doc_access, due_date=form_value(request, "due_date") or None, **common
            )
        if action == "cancel":
            return services.approval_cancel(
                doc_access=doc_access, reason=form_value(request, "reason"), **common
            )
        if action == "again":
            return services.approval_ask_again(
                doc_access=doc_access, due_date=form_value(request, "due_date") or None, **common
            )
        raise ApplicationError("That is not something a request can do.", code="invalid_action")

    def done(written: Any) -> str:
        return {
            "remind": f"Reminded {written} {'person' if written == 1 else 'people'}.",
            "add": "Asked them too: they were told.",
            "remove": "Taken off the request.",
            "due": "The due date was changed.",
            "cancel": "The request was cancelled.",
        }.get(action, "Asked again on the latest version: the people asked were told.")

    return _write(request, workspace_id, document_id, write, done)


def _confirm_url(workspace_id: str, document_id: str, request_id: str) -> str:
    return reverse("approval_confirm", args=[workspace_id, document_id, request_id])


@login_required
@require_POST
def request_decline(
    request: AuthedRequest, workspace_id: str, document_id: str, request_id: str
) -> HttpResponse:
    return _write(
        request,
        workspace_id,
        document_id,
        lambda doc_access: services.approval_decide(
            actor=request.user,
            doc_access=doc_access,
            request_id=request_id,
            approve=False,
            reason=form_value(request, "reason"),
            info=info(request),
        ),
        lambda row: "You declined: the person who asked was told, with your reason.",
    )


def _factor_url(request: AuthedRequest, back: str) -> str:
    """Where the person confirms their second factor again, then comes ``back``: the
    authenticator app's code when they have one, else their passkey, else a code by email."""
    kinds = second_factor_kinds(request.user)
    if "totp" in kinds:
        name = "mfa_reauthenticate"
    elif "webauthn" in kinds:
        name = "mfa_reauthenticate_webauthn"
    else:
        name = "account_email_code_confirm"
    return f"{reverse(name)}?{urlencode({'next': back})}"


@login_required
@require_http_methods(["GET", "POST"])
def request_approve(
    request: AuthedRequest, workspace_id: str, document_id: str, request_id: str
) -> HttpResponseBase:
    """Approving: a page saying exactly what is approved (the version, its SHA-256), and its
    button. For a person with a second factor, the approval needs it confirmed again: without
    a fresh confirmation (newer than the one their last approval used) they are sent to
    confirm it first, and back here."""
    doc_access = _doc_access(request, workspace_id, document_id)
    found = request_get(doc_access=doc_access, user=request.user, request_id=request_id)
    here = _confirm_url(workspace_id, document_id, request_id)
    has_factor = bool(second_factor_kinds(request.user))
    used = float(request.session.get(FACTOR_USED, 0.0))
    confirmed = second_factor_confirmed(request, after=used) if has_factor else None
    factor_url = _factor_url(request, here)
    if request.method == "POST":
        if has_factor and confirmed is None:
            return redirect(factor_url)
        try:
            services.approval_decide(
                actor=request.user,
                doc_access=doc_access,
                request_id=request_id,
                approve=True,
                second_factor=confirmed[0] if confirmed else "",
                info=info(request),
            )
        except ApplicationError as exc:
            if exc.status == 404:
                raise
            return back_with_error(request, exc, _page_url(doc_access, f"approval-{request_id}"))
        if confirmed:
            request.session[FACTOR_USED] = confirmed[1]
        messages.success(
            request, f"You approved version {found.version.number}: your approval is recorded."
        )
        return redirect(_page_url(doc_access, f"approval-{request_id}"))
    return render(
        request,
        "approvals/approve.html",
        {
            **request_context(request, doc_access, found),
            "needs_factor": has_factor and confirmed is None,
            "factor_url": factor_url,
        },
    )


def certificate_response(made: Certificate) -> HttpResponse:
    """The signed PDF, always an attachment (for the page and the API)."""
    response = HttpResponse(made.data, content_type=PDF_TYPE)
    attachment(response, filename=made.filename)
    response["Content-Length"] = str(len(made.data))
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def record_certificate_download(
    request: AuthedRequest, workspace_id: str, document_id: str, number: int
) -> HttpResponse:
    """A final record's signed certificate PDF (its version rendered, then who approved it)."""
    doc_access = _doc_access(request, workspace_id, document_id)
    try:
        made = record_certificate(
            actor=request.user, doc_access=doc_access, number=number, info=info(request)
        )
    except ApplicationError as exc:
        if exc.status in (403, 404):
            raise  # not found, or downloading refused: its page says why (decision 27)
        return back_with_error(request, exc, _page_url(doc_access))
    return certificate_response(made)
