"""Comments on a document's versions: threads, replies, edits kept, tombstones, resolution.

Invariants:
- a comment belongs to the version it was written on and stays visible on later versions;
- a reply belongs to a thread's first comment (threads are one level deep) on the same document;
- editing keeps every earlier text as a :class:`CommentRevision` (for the audit trail);
- deleting leaves a tombstone: the row stays with its body emptied, so the thread still reads;
- only a thread's first comment is resolved or reopened;
- ``body_html`` is always the sanitised render of ``body`` (core.markup), and ``mentioned`` the
  members its @mentions named, both rewritten with every edit;
- one author's non-empty ``client_key`` names one comment: a resend returns it, never a second.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from commonroom.documents.models import Document, Version


class Comment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="comments")
    version = models.ForeignKey(Version, on_delete=models.CASCADE, related_name="comments")
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
