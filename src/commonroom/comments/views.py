"""Comment pages: the thread fragment, the composer's posts and the @mention candidates.

Thin: parse, ask a selector or a service, render. A POST with ``HX-Request: true`` (the composer
script) is answered with the thread's HTML (201 when it created a comment, else 200) or the
error's status and message as plain text; a plain form POST redirects back to the thread
(``documents.forms_answer``, as every form on the document page).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from commonroom.comments import services
from commonroom.comments.models import Comment
from commonroom.comments.selectors import thread_get, with_abilities, with_parts
from commonroom.core.views import AuthedRequest, form_value, info
from commonroom.documents.forms_answer import document_form_answer, document_page_access
from commonroom.documents.selectors import DocumentAccess
from commonroom.workspaces.selectors import (
    mention_candidates,
    mention_handles,
    workspace_access,
)

if TYPE_CHECKING:
    from commonroom.accounts.models import User


def thread_context(doc_access: DocumentAccess, thread: Comment, user: User) -> dict[str, Any]:
    """What ``comments/_thread.html`` needs, besides the request."""
    with_abilities(with_parts([thread], doc_access=doc_access), doc_access=doc_access, user=user)
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
    doc_access = document_page_access(request, workspace_id, document_id)
    return _thread_response(request, doc_access, comment_id)


def _answer(
    request: AuthedRequest,
    workspace_id: str,
    document_id: str,
    write: Callable[[DocumentAccess], Comment],
    done: str,
) -> HttpResponse:
    """The comment's thread for a script (201 when it made a comment), else back to it."""

    def thread(doc_access: DocumentAccess, comment: Comment) -> HttpResponse:
        status = 201 if comment.is_new else 200
        return _thread_response(request, doc_access, comment.thread_id or comment.pk, status)

    return document_form_answer(
        request,
        workspace_id,
        document_id,
        write,
        fragment=thread,
        done=lambda comment: done,
        anchor=lambda comment: f"thread-{comment.thread_id or comment.pk}",
        refused_anchor="comments",
    )


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
    """Members whose name or email contains ``q``: ``[{"handle": what "@" is followed by (the
    address's first part when it is unique among the members, else the address), "name": ...,
    "guest": the email's domain for an external guest, else null}]``."""
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    query = str(request.GET.get("q", ""))[:100]
    people = mention_candidates(access=access, query=query)
    handles = mention_handles(access=access, users=people)
    return JsonResponse(
        [
            {"handle": handles[u.pk], "name": u.display_name, "guest": u.guest_domain or None}
            for u in people
        ],
        safe=False,
    )
