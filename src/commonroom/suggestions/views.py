"""Suggestion pages: one suggestion's fragment (what live screens fetch), making one from the
document page, accepting one or a chosen set, rejecting one; accepting all the tracked changes
of a Word version; a Word version downloaded with its suggestions as tracked changes; carrying
a stale copy's changes.

Thin, as the comments' views: parse, ask a selector or a service, render. Every view reads the
document through ``documents.selectors.document_access`` first (a non-member gets 404); the
services check ``suggestions.permissions``. A POST with ``HX-Request: true`` (suggestions.js) is
answered with the suggestion's HTML (201 when it made one) or the refusal's status and sentence
as plain text; a plain form POST redirects back to the page, with the sentence as a message
(``documents.forms_answer``, as every form on the document page).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from commonroom.core.exceptions import ApplicationError
from commonroom.core.views import AuthedRequest, back_with_error, form_value, info
from commonroom.documents.forms_answer import (
    document_form_answer,
    document_page_access,
    document_page_url,
)
from commonroom.documents.selectors import DocumentAccess, version_get
from commonroom.previews.blocks import utf16_length
from commonroom.previews.selectors import preview_blocks
from commonroom.suggestions import services
from commonroom.suggestions.downloads import tracked_response
from commonroom.suggestions.models import Suggestion
from commonroom.suggestions.passages import quoted
from commonroom.suggestions.selectors import state_sentence, suggestion_block, suggestion_get


def suggestion_context(doc_access: DocumentAccess, suggestion: Suggestion) -> dict[str, Any]:
    """What ``suggestions/_suggestion.html`` needs, besides the request."""
    suggestion.state_sentence = state_sentence(suggestion)  # type: ignore[attr-defined]
    # Its block on the version it applies to (where a screen puts its redline).
    suggestion.shown_block = suggestion_block(  # type: ignore[attr-defined]
        doc_access=doc_access, suggestion=suggestion, version=suggestion.applies_to
    )
    return {
        "s": suggestion,
        "workspace": doc_access.access.workspace,
        "document": doc_access.document,
    }


def _item(
    request: AuthedRequest, doc_access: DocumentAccess, suggestion_id: Any, status: int = 200
) -> HttpResponse:
    suggestion = suggestion_get(doc_access=doc_access, suggestion_id=suggestion_id)
    return render(
        request,
        "suggestions/_suggestion.html",
        suggestion_context(doc_access, suggestion),
        status=status,
    )


@login_required
@require_GET
def suggestion_item(
    request: AuthedRequest, workspace_id: str, document_id: str, suggestion_id: str
) -> HttpResponse:
    """One suggestion as its reader sees it (what live screens fetch after an event)."""
    return _item(request, document_page_access(request, workspace_id, document_id), suggestion_id)


def _answer(
    request: AuthedRequest,
    workspace_id: str,
    document_id: str,
    write: Callable[[DocumentAccess], Any],
    done: Callable[[Any], str],
    status: int = 200,
) -> HttpResponse:
    """A suggestion written is answered with its HTML for a script (``status``), else back to
    it; anything else (a version made) with the ``done`` sentence, else back to the text."""

    def fragment(doc_access: DocumentAccess, written: Any) -> HttpResponse:
        if isinstance(written, Suggestion):
            return _item(request, doc_access, written.pk, status=status)
        return HttpResponse(done(written), content_type="text/plain; charset=utf-8")

    def anchor(written: Any) -> str:
        return f"suggestion-{written.pk}" if isinstance(written, Suggestion) else "read-heading"

    return document_form_answer(
        request,
        workspace_id,
        document_id,
        write,
        fragment=fragment,
        done=done,
        anchor=anchor,
        refused_anchor="suggestions",
    )


def _offset(value: str) -> int | str:
    return int(value) if value.isdecimal() else value


@login_required
@require_POST
def suggestion_create(request: AuthedRequest, workspace_id: str, document_id: str) -> HttpResponse:
    """Suggest a change to a passage (``block``, ``start``, ``end`` as the page's selection
    gives them, ``quote`` as shown) or, without a script, to a whole paragraph (``paragraph``:
    its block id; the form lists them)."""
    version = form_value(request, "on_version")
    block = form_value(request, "block") or form_value(request, "paragraph")
    whole = not form_value(request, "block")

    def write(doc_access: DocumentAccess) -> Suggestion:
        start: Any = _offset(form_value(request, "start"))
        end: Any = _offset(form_value(request, "end"))
        quote: str | None = form_value(request, "quote") or None
        if whole:
            start, end, quote = _whole(doc_access, version, block)
        return services.suggestion_create(
            actor=request.user,
            doc_access=doc_access,
            version_number=int(version) if version.isdecimal() else None,
            block_id=block,
            start=start,
            end=end,
            kind=form_value(request, "kind"),
            text="" if form_value(request, "kind") == "delete" else form_value(request, "text"),
            reason=form_value(request, "reason"),
            quote=quote,
            client_key=form_value(request, "client_key"),
            info=info(request),
        )

    return _answer(
        request, workspace_id, document_id, write, lambda s: "Suggestion made.", status=201
    )


def _whole(doc_access: DocumentAccess, version: str, block: str) -> tuple[int, int, None]:
    """A whole paragraph chosen from the form's list: from 0 to its length as a browser counts
    it. An unknown paragraph is left for the service to refuse (0, 0 is never a passage)."""
    try:
        found = version_get(doc_access=doc_access, number=version)
    except ApplicationError:
        return 0, 0, None
    blocks = preview_blocks(doc_access=doc_access, version=found) or []
    chosen = next((b for b in blocks if b.id == block), None)
    return 0, (utf16_length(chosen.text) if chosen is not None else 0), None


@login_required
@require_POST
def suggestion_reject(
    request: AuthedRequest, workspace_id: str, document_id: str, suggestion_id: str
) -> HttpResponse:
    def write(doc_access: DocumentAccess) -> Suggestion:
        return services.suggestion_reject(
            actor=request.user,
            doc_access=doc_access,
            suggestion_id=suggestion_id,
            reason=form_value(request, "reason"),
            info=info(request),
        )

    return _answer(request, workspace_id, document_id, write, lambda s: "Suggestion rejected.")


@login_required
@require_POST
def suggestions_accept(request: AuthedRequest, workspace_id: str, document_id: str) -> HttpResponse:
    """Accept the suggestions named ``suggestion`` (one, or a chosen set): one new version."""
    chosen = [str(v) for v in request.POST.getlist("suggestion")]

    def write(doc_access: DocumentAccess) -> Any:
        return services.suggestions_accept(
            actor=request.user, doc_access=doc_access, suggestion_ids=chosen, info=info(request)
        )

    def done(version: Any) -> str:
        n = len(chosen)
        what = "Suggestion accepted" if n == 1 else f"{n} suggestions accepted"
        return f"{what}: version {version.number} has the change{'s' if n > 1 else ''}."

    return _answer(request, workspace_id, document_id, write, done)


@login_required
@require_POST
def tracked_changes_accept(
    request: AuthedRequest, workspace_id: str, document_id: str
) -> HttpResponse:
    """Accept every tracked change of the Word file of version ``version``: one new version."""
    number = form_value(request, "version")

    def write(doc_access: DocumentAccess) -> Any:
        return services.tracked_changes_accept(
            actor=request.user, doc_access=doc_access, number=number, info=info(request)
        )

    def done(version: Any) -> str:
        return f"Tracked changes accepted: version {version.number} has them all accepted."

    return _answer(request, workspace_id, document_id, write, done)


@login_required
@require_GET
def suggestions_tracked_download(
    request: AuthedRequest, workspace_id: str, document_id: str, number: int
) -> HttpResponseBase:
    """Version ``number``'s Word file with its open suggestions as tracked changes and its open
    threads as Word comments. What was left out is said in the response's headers and on the
    next page the person opens (the download leaves them where they were); a refusal goes back
    to the page with its sentence."""
    doc_access = document_page_access(request, workspace_id, document_id)
    try:
        made = services.tracked_changes_download(
            actor=request.user, doc_access=doc_access, number=number, info=info(request)
        )
    except ApplicationError as exc:
        if exc.status in (403, 404):
            raise  # not found, or downloading refused: its page says why (decision 27)
        return back_with_error(request, exc, document_page_url(doc_access, "suggestions"))
    if made.left_out:
        messages.warning(
            request, f"Downloaded with suggestions as tracked changes. {made.left_out}"
        )
    return tracked_response(made)


def carried_sentence(result: services.CarryResult) -> str:
    """What the page says after carrying a stale copy's changes."""
    n, left = len(result.suggestions), len(result.not_carried)
    if n:
        done = (
            f"{n} change{'' if n == 1 else 's'} of version {result.copy} "
            f"{'is a suggestion' if n == 1 else 'are suggestions'} to accept or reject."
        )
    else:
        done = f"no change of version {result.copy} could be carried as a suggestion."
    said = f"Version {result.restored.number} has the text of version {result.target} again; {done}"
    if not left:
        return said
    shown = "; ".join(
        f"{quoted(item.old) if item.old else '(a new paragraph)'} → "
        f"{quoted(item.new) if item.new else '(deleted)'} ({item.why.rstrip('.')})"
        for item in result.not_carried[:3]
    )
    more = f" and {left - 3} more" if left > 3 else ""
    return (
        f"{said} {'This change was' if left == 1 else f'These {left} changes were'} not "
        f"carried: {shown}{more}. They are listed in a comment on version "
        f"{result.restored.number}."
    )


@login_required
@require_POST
def stale_copy_carry(
    request: AuthedRequest, workspace_id: str, document_id: str, number: int
) -> HttpResponse:
    """Carry version ``number``'s changes (a stale copy) onto the version before it as
    suggestions (``services.stale_copy_carry``)."""

    def write(doc_access: DocumentAccess) -> services.CarryResult:
        return services.stale_copy_carry(
            actor=request.user, doc_access=doc_access, number=number, info=info(request)
        )

    return _answer(request, workspace_id, document_id, write, carried_sentence)
