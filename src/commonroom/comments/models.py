"""Comments on a document's versions: threads, replies, edits kept, tombstones, resolution.

Invariants:
- a comment belongs to the version it was written on and stays visible on later versions;
- a reply belongs to a thread's first comment (threads are one level deep) on the same document;
- editing keeps every earlier text as a :class:`CommentRevision` (for the audit trail);
- deleting leaves a tombstone: the row stays with its body emptied, so the thread still reads;
- only a thread's first comment is resolved or reopened;
- ``body_html`` is always the sanitised render of ``body`` (core.markup), and ``mentioned`` the
  members its @mentions named, both rewritten with every edit;
- one author's non-empty ``client_key`` names one comment: a resend returns it, never a second;
- a thread anchored to a passage has at most one :class:`ThreadPassage` per later version: where
  its passage is there (``found``: block and offsets), or that it is not (``changed``: the thread
  follows no further), or that it could not be looked for (``unchecked``); the thread's own
  ``anchor_quote``/``anchor_position`` never change.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils import timezone

if TYPE_CHECKING:
    from commonroom.comments.passages import PassageShown


class Comment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    document = models.ForeignKey(
        "documents.Document", on_delete=models.CASCADE, related_name="comments"
    )
    version = models.ForeignKey(
        "documents.Version", on_delete=models.CASCADE, related_name="comments"
    )
    thread = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=10_000)
    # The sanitised HTML of ``body`` (Markdown-lite), safe to show as it is.
    body_html = models.TextField(blank=True)
    # Chosen by the sending screen, so that a resend (an offline phone) never posts twice.
    client_key = models.CharField(max_length=64, blank=True)
    mentioned = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    # Where in the version the comment points, when it points at a passage (previews, later).
    anchor_quote = models.CharField(max_length=500, blank=True)
    anchor_position = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    # Set by the services: True when this call created the comment, False for a resend.
    is_new: bool = False
    # Set by selectors.with_abilities for pages: what the viewer may do to it.
    can: dict[str, bool] = {}  # replaced per instance, never mutated
    # Set by the selectors on a thread's first comment: where its passage is on the latest
    # version, or why it is not shown there (``comments.passages``).
    passage: PassageShown | None = None
    # Set by selectors.with_parts for pages: what other apps show at the top of the thread's
    # card (HTML; a suggestion's change and state).
    parts: str = ""

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["document", "created_at"], name="comment_document_time")]
        constraints = [
            models.UniqueConstraint(
                fields=["author", "client_key"],
                condition=~models.Q(client_key=""),
                name="comment_author_client_key",
            )
        ]

    def __str__(self) -> str:
        return f"comment {self.pk} on {self.document_id}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class CommentRevision(models.Model):
    """A comment's text before one of its edits."""

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="revisions")
    body = models.TextField()
    replaced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["replaced_at"]

    def __str__(self) -> str:
        return f"earlier text of {self.comment_id}"


class PassageState(models.TextChoices):
    FOUND = "found", "Found"
    CHANGED = "changed", "Changed"
    # The version has no preview to look in (it failed, or its kind has none).
    NO_PREVIEW = "no_preview", "No preview"
    # Where the thread was could not be read (its quote is not at its offsets there).
    UNREADABLE = "unreadable", "Unreadable"


class ThreadPassage(models.Model):
    """Where an anchored thread's passage is on a version after the one it was written on
    (``comments.services.passages_follow``)."""

    thread = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="passages")
    version = models.ForeignKey("documents.Version", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=12, choices=PassageState.choices)
    # For ``found``: the block of the version's preview and the offsets in its text (as the
    # thread's ``anchor_position`` counts them), the same offsets as where it came from.
    block = models.CharField(max_length=12, blank=True)
    start = models.PositiveIntegerField(null=True, blank=True)
    end = models.PositiveIntegerField(null=True, blank=True)
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["thread", "checked_at"]
        constraints = [
            models.UniqueConstraint(fields=["thread", "version"], name="thread_passage_once"),
            models.CheckConstraint(
                condition=(
                    models.Q(state="found", start__isnull=False, end__isnull=False)
                    & ~models.Q(block="")
                )
                | (
                    ~models.Q(state="found")
                    & models.Q(block="", start__isnull=True, end__isnull=True)
                ),
                name="thread_passage_found_has_place",
            ),
        ]
        indexes = [models.Index(fields=["version", "state"], name="thread_passage_version")]

    def __str__(self) -> str:
        return f"passage of {self.thread_id} on {self.version_id}: {self.state}"
