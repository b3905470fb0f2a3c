"""Reading conversations as a member of their workspace sees them (never anyone else)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.db.models import (
    BigIntegerField,
    Count,
    DateTimeField,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    UUIDField,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils.dateparse import parse_datetime

from commonroom.accounts.selectors import mentioned_put, person_columns
from commonroom.conversations.models import Conversation, ConversationRead, Message
from commonroom.core.exceptions import NotFound
from commonroom.core.pagination import Page, limit_check
from commonroom.core.prepared import Prepared
from commonroom.documents.selectors import live_documents
from commonroom.workspaces.selectors import WorkspaceAccess, member_workspace_ids, parse_uuid

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.documents.models import Document

PAGE_SIZE = 50
_NEVER = Value(datetime(1970, 1, 1, tzinfo=UTC), output_field=DateTimeField())


def _read_until(user: User | int, conversation_ref: str) -> Coalesce:
    """When ``user`` last read the conversation at ``conversation_ref`` (or the epoch)."""
    last = ConversationRead.objects.filter(
        user=user, conversation=OuterRef(conversation_ref)
    ).values("last_read_at")[:1]
    return Coalesce(Subquery(last, output_field=DateTimeField()), _NEVER)


def _unread_messages(user: User | int) -> QuerySet[Message]:
    """Messages by others, not deleted (filter further by conversation)."""
    return Message.objects.filter(deleted_at__isnull=True).exclude(author=user)


def _unread_count(user: User) -> Coalesce:
    """How many messages by others, not deleted, the conversation (the outer query's row) has
    since ``user`` last read it: the ``unread`` of every list of conversations."""
    unread = (
        _unread_messages(user)
        .filter(conversation=OuterRef("pk"), created_at__gt=_read_until(user, "conversation"))
        .order_by()
        .values("conversation")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(unread, output_field=IntegerField()), 0)


def conversation_list(*, access: WorkspaceAccess, user: User) -> QuerySet[Conversation]:
    """The workspace's conversations, newest activity first, each with ``unread`` for ``user``."""
    return (
        Conversation.objects.filter(workspace=access.workspace)
        .select_related("created_by")
        .annotate(unread=_unread_count(user))
        .order_by("-last_message_at", "-created_at")
    )


# What the API shows of a conversation and of a message, as columns of ``values()`` (with the
# person who started or wrote it joined in): a list of a hundred read as rows, not instances.
CONVERSATION_COLUMNS = (
    "id",
    "title",
    "created_at",
    "last_message_at",
    "message_count",
    "unread",
    *person_columns("created_by__"),
)
MESSAGE_COLUMNS = (
    "id",
    "conversation_id",
    "body",
    "body_html",
    "document_id",
    "created_at",
    "edited_at",
    "deleted_at",
    "client_key",
    *person_columns("author__"),
)


def conversation_rows(*, access: WorkspaceAccess, user: User) -> QuerySet[Conversation, Any]:
    """:func:`conversation_list` as rows of :data:`CONVERSATION_COLUMNS`."""
    return conversation_list(access=access, user=user).values(*CONVERSATION_COLUMNS)


def message_rows(*, conversation: Conversation, page: Page) -> list[dict[str, Any]]:
    """``page``'s window of :func:`_messages` as rows of :data:`MESSAGE_COLUMNS`,
    each with the ids of those it mentions (``mentioned``, ascending): two queries."""
    rows = page.window(Message.objects.filter(conversation=conversation).values(*MESSAGE_COLUMNS))
    mentioned_put(rows, Message.mentioned)
    return rows


def conversation_get(*, access: WorkspaceAccess, conversation_id: Any, user: User) -> Conversation:
    conversation = (
        conversation_list(access=access, user=user).filter(pk=parse_uuid(conversation_id)).first()
    )
    if conversation is None:
        raise NotFound()
    return conversation


def _unread_in(*, workspace_id: uuid.UUID, user_id: int) -> QuerySet[Message]:
    """Every unread message for the person ``user_id`` in the workspace."""
    return _unread_messages(user_id).filter(
        conversation__workspace_id=workspace_id,
        created_at__gt=_read_until(user_id, "conversation"),
    )


# The workspace's tabs, on each of its pages: :func:`_unread_in`, its SQL built once per process.
_UNREAD_TOTAL = Prepared(
    "conversations.unread_total", _unread_in, workspace_id=UUIDField(), user_id=BigIntegerField()
)


def unread_total(*, access: WorkspaceAccess, user: User) -> int:
    """Every unread message for ``user`` in the workspace, in one query (built once per process:
    ``core.prepared``)."""
    return _UNREAD_TOTAL.count(workspace_id=access.workspace.pk, user_id=user.pk)


HOME_LIMIT = 10


def conversations_with_new_messages(*, user: User, limit: int = HOME_LIMIT) -> list[Conversation]:
    """For the home page: conversations in the person's workspaces with messages by others since
    they last read them, most recent activity first, each with ``unread`` (one query)."""
    read_until = _read_until(user, "pk")
    return list(
        Conversation.objects.filter(workspace_id__in=member_workspace_ids(user=user))
        # Nothing happened since the last read: skip it without counting its messages.
        .filter(last_message_at__gt=read_until)
        .annotate(unread=_unread_count(user))
        .filter(unread__gt=0)
        .select_related("workspace")
        .order_by("-last_message_at", "-created_at")[:limit]
    )


def _messages(conversation: Conversation) -> QuerySet[Message]:
    return (
        Message.objects.filter(conversation=conversation)
        .select_related("author", "deleted_by", "document")
        .prefetch_related("mentioned")
    )


def message_get(*, conversation: Conversation, message_id: Any) -> Message:
    message = _messages(conversation).filter(pk=parse_uuid(message_id)).first()
    if message is None:
        raise NotFound()
    return message


@dataclass
class MessagePage:
    messages: list[Message]  # oldest first
    has_earlier: bool
    has_later: bool


def _after_time(conversation: Conversation, after: str) -> datetime:
    """``after`` is a message id (of this conversation) or an ISO 8601 time."""
    try:
        ref = parse_datetime(after)
    except ValueError:
        ref = None
    if ref is not None:
        if ref.tzinfo is None:
            ref = ref.replace(tzinfo=UTC)
        return ref
    message = Message.objects.filter(conversation=conversation, pk=parse_uuid(after)).first()
    if message is None:
        raise NotFound("No such message in this conversation.")
    return message.created_at


def message_page(
    *,
    conversation: Conversation,
    before: str | None = None,
    after: str | None = None,
    limit: int = PAGE_SIZE,
) -> MessagePage:
    """A page of messages, oldest first: the latest ``limit`` (or the ``limit`` before message
    ``before``), or the first ``limit`` after ``after`` (a message id or an ISO time)."""
    limit_check(limit)
    qs = _messages(conversation)
    if after:
        found = list(qs.filter(created_at__gt=_after_time(conversation, after))[: limit + 1])
        return MessagePage(found[:limit], has_earlier=True, has_later=len(found) > limit)
    if before:
        ref = qs.filter(pk=parse_uuid(before)).first()
        if ref is None:
            raise NotFound("No such message in this conversation.")
        qs = qs.filter(created_at__lt=ref.created_at)
        has_later = True
    else:
        has_later = False
    newest = list(qs.order_by("-created_at")[: limit + 1])
    page = list(reversed(newest[:limit]))
    return MessagePage(page, has_earlier=len(newest) > limit, has_later=has_later)


def linkable_documents(*, access: WorkspaceAccess) -> QuerySet[Document]:
    """Documents a message may link to: the workspace's, not in the trash."""
    return live_documents().filter(workspace=access.workspace).order_by("name")


# --- For the search index (which reads every conversation, never as a member) ---------------


def conversation_find(pk: Any) -> Conversation | None:
    """The conversation with this id, or None if it is gone."""
    return Conversation.objects.filter(pk=pk).first()


def message_find(pk: Any) -> Message | None:
    """The message with this id and its conversation (one query), or None if it is gone; a
    deleted message is returned, its ``is_deleted`` set."""
    return Message.objects.filter(pk=pk).select_related("conversation").first()


def every_conversation() -> Iterator[Conversation]:
    return Conversation.objects.all().iterator()


def every_live_message() -> Iterator[Message]:
    """Every message not deleted."""
    return Message.objects.filter(deleted_at__isnull=True).iterator()


# --- For notifications (which decide who is told) ---------------------------------------------


def earlier_message_author_ids(message: Message) -> QuerySet[Message, Any]:
    """The authors of the messages of ``message``'s conversation written before it (not it),
    each once, as ids to read or a subquery."""
    return (
        Message.objects.filter(conversation_id=message.conversation_id)
        .exclude(pk=message.pk)
        .filter(created_at__lte=message.created_at)
        .values_list("author_id", flat=True)
        .distinct()
    )
