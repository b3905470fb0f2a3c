"""Conversation pages. Thin: parse, ask a selector or a service, render.

POSTs answer htmx (``HX-Request: true``) with the item's HTML fragment (201 when it was just
created, 200 otherwise) or, on refusal, the status and a short plain-text message; a plain form
post is redirected (POST/redirect/GET), refusals shown as a message on the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from commonroom.conversations import services
from commonroom.conversations.models import MAX_BODY, MAX_TITLE, Conversation, Message
from commonroom.conversations.permissions import conversation_abilities, message_abilities
from commonroom.conversations.selectors import (
    conversation_get,
    linkable_documents,
    message_get,
    message_page,
)
from commonroom.conversations.selectors import (
    conversation_list as list_conversations,
)
from commonroom.core.exceptions import ApplicationError
from commonroom.core.views import AuthedRequest, back_with_error, form_value, info, is_htmx
from commonroom.workspaces.selectors import WorkspaceAccess, workspace_access


def _refused(request: HttpRequest, error: ApplicationError, back: str) -> HttpResponse:
    if is_htmx(request):
        return HttpResponse(error.message, status=error.status, content_type="text/plain")
    return back_with_error(request, error, back)


def _detail_url(access: WorkspaceAccess, conversation_id: Any) -> str:
    return reverse("conversation_detail", args=[access.workspace.pk, conversation_id])


def _message_html(
    request: AuthedRequest,
    access: WorkspaceAccess,
    conversation: Conversation,
    message: Message,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "conversations/_message.html",
        {
            "workspace": access.workspace,
            "conversation": conversation,
            "m": message,
            "can": message_abilities(access, message, request.user),
        },
        status=status,
    )


@login_required
@require_GET
def conversation_list(request: AuthedRequest, workspace_id: str) -> HttpResponse:
    """The workspace's topics, newest activity first, with the viewer's unread counts."""
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    abilities = conversation_abilities(access)
    return render(
        request,
        "conversations/list.html",
        {
            "access": access,
            "workspace": access.workspace,
            "conversations": list_conversations(access=access, user=request.user)[:200],
            "abilities": abilities,
            "documents": linkable_documents(access=access) if abilities["start"] else [],
            "max_title": MAX_TITLE,
            "max_body": MAX_BODY,
        },
    )


@login_required
@require_GET
def conversation_row(
    request: AuthedRequest, workspace_id: str, conversation_id: str
) -> HttpResponse:
    """One row of the list, as the viewer sees it (with their unread count)."""
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    conversation = conversation_get(
        access=access, conversation_id=conversation_id, user=request.user
    )
    return render(
        request, "conversations/_row.html", {"workspace": access.workspace, "c": conversation}
    )


@login_required
@require_POST
def conversation_start(request: AuthedRequest, workspace_id: str) -> HttpResponse:
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    back = reverse("conversation_list", args=[access.workspace.pk])
    try:
        conversation = services.conversation_start(
            actor=request.user,
            access=access,
            title=form_value(request, "title"),
            body=form_value(request, "body"),
            document=form_value(request, "document") or None,
            client_key=form_value(request, "client_key"),
            info=info(request),
        )
    except ApplicationError as exc:
        return _refused(request, exc, back)
    first = conversation.first_message
    if is_htmx(request):
        row = conversation_get(access=access, conversation_id=conversation.pk, user=request.user)
        return render(
            request,
            "conversations/_row.html",
            {"workspace": access.workspace, "c": row},
            status=201 if first is not None and first.is_new else 200,
        )
    return redirect(_detail_url(access, conversation.pk))


@login_required
@require_GET
def conversation_detail(
    request: AuthedRequest, workspace_id: str, conversation_id: str
) -> HttpResponse:
    """A topic's messages, oldest first (the latest page), and the composer. Viewing marks the
    conversation read for the viewer."""
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    conversation = conversation_get(
        access=access, conversation_id=conversation_id, user=request.user
    )
    page = message_page(conversation=conversation, before=request.GET.get("before") or None)
    services.conversation_mark_read(user=request.user, conversation=conversation)
    abilities = conversation_abilities(access)
    return render(
        request,
        "conversations/detail.html",
        {
            "access": access,
            "workspace": access.workspace,
            "conversation": conversation,
            "page": page,
            "items": [(m, message_abilities(access, m, request.user)) for m in page.messages],
            "abilities": abilities,
            "documents": linkable_documents(access=access) if abilities["post"] else [],
            "max_body": MAX_BODY,
        },
    )


@login_required
@require_GET
def message_fragment(
    request: AuthedRequest, workspace_id: str, conversation_id: str, message_id: str
) -> HttpResponse:
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    conversation = conversation_get(
        access=access, conversation_id=conversation_id, user=request.user
    )
    message = message_get(conversation=conversation, message_id=message_id)
    return _message_html(request, access, conversation, message)


def _message_write(
    request: AuthedRequest,
    workspace_id: str,
    conversation_id: str,
    write: Callable[[WorkspaceAccess, Any], Any],
    done: str,
) -> HttpResponse:
    """Post, edit or delete a message: the message's HTML to the composer script (201 when it
    was created), else back to it on the conversation page."""
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    conversation = conversation_get(
        access=access, conversation_id=conversation_id, user=request.user
    )
    back = _detail_url(access, conversation.pk)
    try:
        message = write(access, conversation)
    except ApplicationError as exc:
        return _refused(request, exc, back)
    if is_htmx(request):
        status = 201 if getattr(message, "is_new", False) else 200
        return _message_html(request, access, conversation, message, status=status)
    messages.success(request, done)
    return redirect(f"{back}#message-{message.pk}")


@login_required
@require_POST
def message_post(request: AuthedRequest, workspace_id: str, conversation_id: str) -> HttpResponse:
    def write(access: WorkspaceAccess, conversation: Any) -> Any:
        return services.message_post(
            actor=request.user,
            access=access,
            conversation_id=conversation.pk,
            body=form_value(request, "body"),
            document_id=form_value(request, "document") or None,
            client_key=form_value(request, "client_key"),
            info=info(request),
        )

    return _message_write(request, workspace_id, conversation_id, write, "Message sent.")


@login_required
@require_POST
def message_edit(
    request: AuthedRequest, workspace_id: str, conversation_id: str, message_id: str
) -> HttpResponse:
    def write(access: WorkspaceAccess, conversation: Any) -> Any:
        return services.message_edit(
            actor=request.user,
            access=access,
            conversation_id=conversation.pk,
            message_id=message_id,
            body=form_value(request, "body"),
            info=info(request),
        )

    return _message_write(request, workspace_id, conversation_id, write, "Message changed.")


@login_required
@require_POST
def message_delete(
    request: AuthedRequest, workspace_id: str, conversation_id: str, message_id: str
) -> HttpResponse:
    def write(access: WorkspaceAccess, conversation: Any) -> Any:
        return services.message_delete(
            actor=request.user,
            access=access,
            conversation_id=conversation.pk,
            message_id=message_id,
            info=info(request),
        )

    return _message_write(request, workspace_id, conversation_id, write, "Message deleted.")
