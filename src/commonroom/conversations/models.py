"""Workspace conversations: topics with messages, in place of the reply-all email thread.

Invariants:
- a conversation belongs to one workspace; its messages are read by every member of it;
- ``last_message_at`` and ``message_count`` follow every new message (the list sorts on them);
- editing keeps every earlier text as a :class:`MessageRevision`; deleting leaves a tombstone
  (the row stays, its body emptied, the text kept as a revision) so the conversation still reads;
- a linked document is in the same workspace and was not in the trash when it was linked;
- one author + one non-empty ``client_key`` is one message: a resend never posts twice;
- what a person has read is one :class:`ConversationRead` row per person and conversation:
  unread = messages by others, not deleted, created after ``last_read_at``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

MAX_TITLE = 200
MAX_BODY = 10_000


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=MAX_TITLE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_message_at = models.DateTimeField(default=timezone.now)
    message_count = models.PositiveIntegerField(default=0)

    # Not stored: set by ``conversation_start`` to the message that opened the topic.
    first_message: Message | None = None

    class Meta:
        ordering = ["-last_message_at"]
        indexes = [
            models.Index(fields=["workspace", "-last_message_at"], name="conversation_activity")
        ]

    def __str__(self) -> str:
        return self.title


class Message(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=MAX_BODY)
    body_html = models.TextField(blank=True)
    # A purge removes the document; the message stays and says nothing is linked any more.
    document = models.ForeignKey(
        "documents.Document", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    mentioned = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in_messages"
    )
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    client_key = models.CharField(max_length=64, blank=True)

    # Not stored: set by the services on the message a call has just created (False when a
    # resent ``client_key`` returned the message that already existed).
    is_new: bool = False

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["conversation", "created_at"], name="message_time")]
        constraints = [
            models.UniqueConstraint(
                fields=["author", "client_key"],
                condition=~Q(client_key=""),
                name="message_client_key_once",
            )
        ]

    def __str__(self) -> str:
        return f"message {self.pk} in {self.conversation_id}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class MessageRevision(models.Model):
    """A message's text before one of its edits (or before it was deleted)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="revisions")
    body = models.TextField()
    replaced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["replaced_at"]

    def __str__(self) -> str:
        return f"earlier text of {self.message_id}"


class ConversationRead(models.Model):
    """How far one person has read one conversation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="reads")
    last_read_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "conversation"], name="conversation_read_once")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.conversation_id} to {self.last_read_at}"
