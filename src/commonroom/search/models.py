"""The search index: one :class:`SearchEntry` per searchable thing (a document, a comment, a
conversation's topic, a message), written by ``search/services.py`` from the owning services in
their transactions.

Invariants:
- an entry exists only for something live: a trashed document (and the comments on it), a
  deleted comment or message has none;
- every entry names its workspace, and every search is restricted to the searcher's workspaces
  inside the engine's query (``search/backends.py``);
- the engine's own index follows the rows: on PostgreSQL ``vector`` is rewritten by the service
  that writes the row (GIN indexes on it and on its title words, ``ts_filter(vector, '{a}')``);
  on SQLite the FTS5 tables ``search_fts`` and ``search_title_fts`` (external content, rowid =
  ``id``) are kept by triggers, so cascaded deletes leave nothing behind.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone

MAX_BODY = 200_000  # characters of a document's words indexed (a long report's first 200 KB)


class Kind(models.TextChoices):
    DOCUMENT = "document", "Document"
    COMMENT = "comment", "Comment"
    CONVERSATION = "conversation", "Conversation"
    MESSAGE = "message", "Message"


class SearchEntry(models.Model):
    kind = models.CharField(max_length=12, choices=Kind.choices)
    object_id = models.CharField(max_length=36)
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    document = models.ForeignKey(
        "documents.Document", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    conversation = models.ForeignKey(
        "conversations.Conversation",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    title = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # PostgreSQL only (NULL on SQLite, whose index is the FTS5 table).
    vector = SearchVectorField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="search_entry_once")
        ]
        indexes = [models.Index(fields=["workspace", "updated_at"], name="search_ws_time")]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}"
