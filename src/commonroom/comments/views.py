"""Comment pages: the thread fragment, the composer's posts and the @mention candidates.

Thin: parse, ask a selector or a service, render. A POST with ``HX-Request: true`` (the composer
script) is answered with the thread's HTML (201 when it created a comment, else 200) or the
error's status and message as plain text; a plain form POST redirects back to the thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from commonroom.comments import services
from commonroom.comments.models import Comment
from commonroom.comments.selectors import thread_get, with_abilities
from commonroom.core.exceptions import ApplicationError
from commonroom.core.views import AuthedRequest, back_with_error, form_value, info, is_htmx
from commonroom.documents.selectors import DocumentAccess, document_access
from commonroom.workspaces.selectors import mention_candidates, workspace_access

if TYPE_CHECKING:
    from commonroom.accounts.models import User


def _doc_access(request: AuthedRequest, workspace_id: Any, document_id: Any) -> DocumentAccess:
    return document_access(user=request.user, workspace_id=workspace_id, document_id=document_id)


def _document_url(doc_access: DocumentAccess, anchor: str = "comments") -> str:
    url = reverse("document_detail", args=[doc_access.access.workspace.pk, doc_access.document.pk])
    return f"{url}#{anchor}"


def thread_context(doc_access: DocumentAccess, thread: Comment, user: User) -> dict[str, Any]:
    """What ``comments/_thread.html`` needs, besides the request."""
    with_abilities([thread], doc_access=doc_access, user=user)
    return {
        "thread": thread,
        "workspace": doc_access.access.workspace,
        "document": doc_access.document,
        "abilities": doc_access.abilities,
    }


def _thread_response(
    request: AuthedRequest, doc_access: DocumentAccess, comment_id: Any, status: int = 200
) -> HttpResponse:
    thread = thread_get(doc_access=doc_access, comment_id=comment_id)
    return render(
        request,
        "comments/_thread.html",
        thread_context(doc_access, thread, request.user),
        status=status,
    )


@login_required
@require_GET
def comment_thread(
    request: AuthedRequest, workspace_id: str, document_id: str, comment_id: str
) -> HttpResponse:
    """One thread as the viewer sees it (what live screens fetch after an event)."""
    return _thread_response(request, _doc_access(request, workspace_id, document_id), comment_id)


def _answer(
    request: AuthedRequest,
    workspace_id: str,
    document_id: str,
    write: Callable[[DocumentAccess], Comment],
    done: str,
) -> HttpResponse:
    doc_access = _doc_access(request, workspace_id, document_id)
    try:
        comment = write(doc_access)
    except ApplicationError as exc:
        if is_htmx(request):
            return HttpResponse(
                exc.message, status=exc.status, content_type="text/plain; charset=utf-8"
            )
        if exc.status == 404:
            raise  # a forged id is not found, as on every other page
        return back_with_error(request, exc, _document_url(doc_access))
    root_id = comment.thread_id or comment.pk
    if is_htmx(request):
        status = 201 if comment.is_new else 200
        return _thread_response(request, doc_access, root_id, status=status)
    messages.success(request, done)
    return redirect(_document_url(doc_access, f"thread-{root_id}"))


@login_required
@require_POST
def comment_create(request: AuthedRequest, workspace_id: str, document_id: str) -> HttpResponse:
    version = form_value(request, "version")

    def write(doc_access: DocumentAccess) -> Comment:
        return services.comment_create(
            actor=request.user,
            doc_access=doc_access,
            body=form_value(request, "body"),
            version_number=int(version) if version.isdecimal() else None,
            anchor_quote=form_value(request, "anchor_quote"),
            anchor_position=form_value(request, "anchor_position"),
            client_key=form_value(request, "client_key"),
            info=info(request),
        )

    return _answer(request, workspace_id, document_id, write, "Comment added.")


@login_required
@require_POST
def comment_reply(
    request: AuthedRequest, workspace_id: str, document_id: str, comment_id: str
) -> HttpResponse:
    def write(doc_access: DocumentAccess) -> Comment:
        return services.comment_reply(
            actor=request.user,
            doc_access=doc_access,
            comment_id=comment_id,
            body=form_value(request, "body"),
            client_key=form_value(request, "client_key"),
            info=info(request),
        )

    return _answer(request, workspace_id, document_id, write, "Reply added.")


@login_required
@require_POST
def comment_edit(
    request: AuthedRequest, workspace_id: str, document_id: str, comment_id: str
) -> HttpResponse:
    def write(doc_access: DocumentAccess) -> Comment:
        return services.comment_edit(
            actor=request.user,
            doc_access=doc_access,
            comment_id=comment_id,
            body=form_value(request, "body"),
            info=info(request),
        )

    return _answer(request, workspace_id, document_id, write, "Comment changed.")


@login_required
@require_POST
def comment_delete(
    request: AuthedRequest, workspace_id: str, document_id: str, comment_id: str
) -> HttpResponse:
    def write(doc_access: DocumentAccess) -> Comment:
        return services.comment_delete(
            actor=request.user, doc_access=doc_access, comment_id=comment_id, info=info(request)
        )

    return _answer(request, workspace_id, document_id, write, "Comment deleted.")


def _set_resolved(
    request: AuthedRequest, workspace_id: str, document_id: str, comment_id: str, resolved: bool
) -> HttpResponse:
    def write(doc_access: DocumentAccess) -> Comment:
        return services.comment_set_resolved(
            actor=request.user,
            doc_access=doc_access,
            comment_id=comment_id,
            resolved=resolved,
            info=info(request),
        )

    done = "Thread resolved." if resolved else "Thread reopened."
    return _answer(request, workspace_id, document_id, write, done)


@login_required
@require_POST
def comment_resolve(
    request: AuthedRequest, workspace_id: str, document_id: str, comment_id: str
) -> HttpResponse:
    return _set_resolved(request, workspace_id, document_id, comment_id, True)


@login_required
@require_POST
def comment_reopen(
    request: AuthedRequest, workspace_id: str, document_id: str, comment_id: str
) -> HttpResponse:
    return _set_resolved(request, workspace_id, document_id, comment_id, False)


@login_required
@require_GET
def workspace_mention_candidates(request: AuthedRequest, workspace_id: str) -> JsonResponse:
    """Members whose name or email contains ``q``: ``[{"handle": email, "name": ...}]``."""
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    query = str(request.GET.get("q", ""))[:100]
    people = mention_candidates(access=access, query=query)
    return JsonResponse([{"handle": u.email, "name": u.display_name} for u in people], safe=False)
