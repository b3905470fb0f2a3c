"""Every write to conversations: keyword-only, atomic, checked against the abilities under the
workspace lock (a person removed a moment ago cannot post), audited and announced live in the
same transaction (the event exists exactly when the change does). Each change is also told to
``conversations.hooks`` in the same transaction, before the audit row: search and notifications
follow conversations there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from django.db import IntegrityError, transaction
from django.utils import timezone

from commonroom.audit.actions import Action
from commonroom.audit.services import audit_record
from commonroom.conversations import hooks
from commonroom.conversations.models import (
    MAX_BODY,
    MAX_TITLE,
    Conversation,
    ConversationRead,
    Message,
    MessageRevision,
)
from commonroom.conversations.permissions import MessageAbility, message_abilities
from commonroom.core.exceptions import ApplicationError, Conflict, NotFound
from commonroom.core.markup import Rendered, render, resolver_for
from commonroom.core.request_info import SYSTEM, RequestInfo
from commonroom.core.text import plain_text, posted_text
from commonroom.documents.selectors import live_documents
from commonroom.live.events import ConversationEvent, MessageEvent
from commonroom.live.services import publish
from commonroom.workspaces.selectors import WorkspaceAccess, member_users, parse_uuid
from commonroom.workspaces.services import deny, lock_access, require_ability

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.documents.models import Document
    from commonroom.workspaces.models import Workspace

MAX_CLIENT_KEY = 64
CANNOT_POST = "You can read this conversation but not post in it."


# --- Cleaning ----------------------------------------------------------------------------------


def _clean_title(title: str) -> str:
    text = plain_text(title)
    if not text:
        raise ApplicationError("Give the conversation a title.", code="title_required")
    if len(text) > MAX_TITLE:
        raise ApplicationError(
            f"A title can be at most {MAX_TITLE} characters.", code="title_too_long"
        )
    return text


def _clean_body(body: str) -> str:
    return posted_text(body, noun="message", max_length=MAX_BODY)


def _clean_key(client_key: str) -> str:
    key = plain_text(client_key)
    if len(key) > MAX_CLIENT_KEY:
        raise ApplicationError(
            f"A client key can be at most {MAX_CLIENT_KEY} characters.", code="bad_client_key"
        )
    return key


def _render(workspace: Workspace, text: str) -> Rendered:
    """Safe HTML; a mention of anyone who is not a member is refused."""
    return render(text, resolve=resolver_for(member_users(workspace)))


def _linked_document(workspace: Workspace, document: Any) -> Document | None:
    """The document to link, in this workspace and not in the trash, else NotFound."""
    if document is None or document == "":
        return None
    pk = parse_uuid(getattr(document, "pk", document))  # a document, or its id
    found = live_documents().filter(pk=pk, workspace=workspace).first()
    if found is None:
        raise NotFound("That document is not in this workspace (or it is in the trash).")
    return found


# --- Audit and live events ---------------------------------------------------------------------


def _audit(message: Message, *, action: str, actor: User, info: RequestInfo, **data: Any) -> None:
    conversation = message.conversation
    audit_record(
        action=action,
        actor=actor,
        info=info,
        workspace_id=conversation.workspace_id,
        document_id=message.document_id,
        target_type="message",
        target_id=str(message.pk),
        target_label=conversation.title,
        data={"conversation": str(conversation.pk), **data},
    )


def _publish_message(
    message: Message, kind: Literal["message.created", "message.updated"], *, actor: User
) -> None:
    publish(
        workspace_id=message.conversation.workspace_id,
        event=MessageEvent(
            kind=kind,
            conversation=message.conversation_id,
            message=message.pk,
            author_id=actor.pk,
            client_key=message.client_key,
        ),
    )


def _publish_conversation(
    message: Message, kind: Literal["conversation.created", "conversation.updated"], *, actor: User
) -> None:
    publish(
        workspace_id=message.conversation.workspace_id,
        event=ConversationEvent(
            kind=kind,
            conversation=message.conversation_id,
            message=message.pk,
            author_id=actor.pk,
            client_key=message.client_key,
        ),
    )


# --- Writes ------------------------------------------------------------------------------------


def _existing(actor: User, key: str) -> Message | None:
    if not key:
        return None
    return (
        Message.objects.select_related("conversation").filter(author=actor, client_key=key).first()
    )


def _create_message(
    *,
    conversation: Conversation,
    actor: User,
    body: str,
    document: Document | None,
    key: str,
) -> Message:
    text = _clean_body(body)
    rendered = _render(conversation.workspace, text)
    try:
        with transaction.atomic():
            message = Message.objects.create(
                conversation=conversation,
                author=actor,
                body=text,
                body_html=rendered.html,
                document=document,
                client_key=key,
            )
    except IntegrityError:
        # The same key at the same moment in another workspace (that lock is not ours).
        raise Conflict("That message was already sent.", code="duplicate_client_key") from None
    message.mentioned.set(rendered.mentioned)
    message.is_new = True
    conversation.last_message_at = message.created_at
    conversation.message_count += 1
    conversation.save(update_fields=["last_message_at", "message_count"])
    hooks.changed(
        hooks.MessagePosted(actor=actor, message=message, mentioned=tuple(rendered.mentioned))
    )
    return message


@transaction.atomic
def conversation_start(
    *,
    actor: User,
    access: WorkspaceAccess,
    title: str,
    body: str,
    document: Any = None,
    client_key: str = "",
    info: RequestInfo = SYSTEM,
) -> Conversation:
    """Start a topic with its first message. Resending the same ``client_key`` returns the topic
    it started (its ``first_message.is_new`` is then False) and creates nothing."""
    access = lock_access(actor=actor, access=access)
    require_ability(access, "comment", "You can read conversations here but not start one.")
    key = _clean_key(client_key)
    existing = _existing(actor, key)
    if existing is not None:
        if existing.conversation.workspace_id != access.workspace.pk:
            raise Conflict("That client key was already used.", code="duplicate_client_key")
        conversation = existing.conversation
        conversation.first_message = existing
        return conversation
    clean_title = _clean_title(title)
    linked = _linked_document(access.workspace, document)
    conversation = Conversation.objects.create(
        workspace=access.workspace, title=clean_title, created_by=actor
    )
    message = _create_message(
        conversation=conversation, actor=actor, body=body, document=linked, key=key
    )
    conversation.first_message = message
    hooks.changed(
        hooks.ConversationStarted(actor=actor, conversation=conversation, first_message=message)
    )
    _publish_conversation(message, "conversation.created", actor=actor)
    _publish_message(message, "message.created", actor=actor)
    _audit(message, action=Action.CONVERSATION_STARTED, actor=actor, info=info)  # last: see audit
    return conversation


def _locked_conversation(
    actor: User, access: WorkspaceAccess, conversation_id: Any
) -> tuple[WorkspaceAccess, Conversation]:
    access = lock_access(actor=actor, access=access)
    conversation = (
        Conversation.objects.select_for_update()
        .filter(pk=parse_uuid(conversation_id), workspace=access.workspace)
        .first()
    )
    if conversation is None:
        raise NotFound()
    return access, conversation


@transaction.atomic
def message_post(
    *,
    actor: User,
    access: WorkspaceAccess,
    conversation_id: Any,
    body: str,
    document_id: Any = None,
    client_key: str = "",
    info: RequestInfo = SYSTEM,
) -> Message:
    """Post in a conversation. The same author and ``client_key`` again returns the message
    already posted (``is_new`` False) and creates nothing."""
    access, conversation = _locked_conversation(actor, access, conversation_id)
    require_ability(access, "comment", CANNOT_POST)
    key = _clean_key(client_key)
    existing = _existing(actor, key)
    if existing is not None:
        if existing.conversation_id != conversation.pk:
            raise Conflict("That client key was already used.", code="duplicate_client_key")
        return existing
    linked = _linked_document(access.workspace, document_id)
    message = _create_message(
        conversation=conversation, actor=actor, body=body, document=linked, key=key
    )
    _publish_message(message, "message.created", actor=actor)
    _publish_conversation(message, "conversation.updated", actor=actor)
    _audit(message, action=Action.MESSAGE_POSTED, actor=actor, info=info)
    return message


def _locked_message(
    actor: User,
    access: WorkspaceAccess,
    conversation_id: Any,
    message_id: Any,
    ability: MessageAbility,
    refusal: str,
) -> Message:
    access, conversation = _locked_conversation(actor, access, conversation_id)
    message = (
        Message.objects.select_for_update()
        .filter(pk=parse_uuid(message_id), conversation=conversation)
        .first()
    )
    if message is None:
        raise NotFound()
    message.conversation = conversation
    if not message_abilities(access, message, actor)[ability]:
        if message.is_deleted:
            raise NotFound("That message was deleted.")
        deny(access, refusal)
    return message


@transaction.atomic
def message_edit(
    *,
    actor: User,
    access: WorkspaceAccess,
    conversation_id: Any,
    message_id: Any,
    body: str,
    info: RequestInfo = SYSTEM,
) -> Message:
    """Change one's own message; the earlier text is kept and the message marked edited."""
    message = _locked_message(
        actor, access, conversation_id, message_id, "edit", "Only the author can edit a message."
    )
    text = _clean_body(body)
    if text != message.body:
        rendered = _render(message.conversation.workspace, text)
        MessageRevision.objects.create(message=message, body=message.body)
        message.body = text
        message.body_html = rendered.html
        message.edited_at = timezone.now()
        message.save(update_fields=["body", "body_html", "edited_at"])
        message.mentioned.set(rendered.mentioned)
        hooks.changed(hooks.MessageEdited(actor=actor, message=message))
        _publish_message(message, "message.updated", actor=actor)
        _audit(message, action=Action.MESSAGE_EDITED, actor=actor, info=info)
    return message


@transaction.atomic
def message_delete(
    *,
    actor: User,
    access: WorkspaceAccess,
    conversation_id: Any,
    message_id: Any,
    info: RequestInfo = SYSTEM,
) -> Message:
    """Leave a tombstone: the text goes (kept as a revision for the audit), the place stays."""
    message = _locked_message(
        actor,
        access,
        conversation_id,
        message_id,
        "delete",
        "Only the author or a manager can delete a message.",
    )
    MessageRevision.objects.create(message=message, body=message.body)
    message.body = ""
    message.body_html = ""
    message.deleted_at = timezone.now()
    message.deleted_by = actor
    message.save(update_fields=["body", "body_html", "deleted_at", "deleted_by"])
    message.mentioned.clear()
    hooks.changed(hooks.MessageDeleted(actor=actor, message=message))
    _publish_message(message, "message.updated", actor=actor)
    _publish_conversation(message, "conversation.updated", actor=actor)
    _audit(message, action=Action.MESSAGE_DELETED, actor=actor, info=info)
    return message


@transaction.atomic
def conversation_mark_read(*, user: User, conversation: Conversation) -> ConversationRead:
    """Everything in ``conversation`` up to now is read by ``user`` (only ever moves forward).

    Personal state, not a change to the workspace: no workspace lock, no audit entry, no event.
    The caller got ``conversation`` from a selector, so ``user`` is a member."""
    now = timezone.now()
    read = ConversationRead.objects.filter(user=user, conversation=conversation).first()
    if read is None:
        try:
            with transaction.atomic():
                return ConversationRead.objects.create(
                    user=user, conversation=conversation, last_read_at=now
                )
        except IntegrityError:  # the same person's other tab, at the same moment
            read = ConversationRead.objects.get(user=user, conversation=conversation)
    ConversationRead.objects.filter(pk=read.pk, last_read_at__lt=now).update(last_read_at=now)
    read.refresh_from_db()
    return read
