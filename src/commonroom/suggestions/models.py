"""Suggestions: a comment thread that carries a change to a passage of one version.

A :class:`Suggestion` is one-to-one with the comment that opens its thread (replies, mentions,
resolving are the thread's, as for any comment). It keeps the passage twice: as the preview
showed it (``block_id`` and ``block_text``, the range ``[start, end)`` in that text, code
points) and as the file has it (``paragraph``: the paragraph's text in the file, or for
Markdown the block's source lines; ``occurrence``: which paragraph of the file with exactly
that text, from 1; ``[paragraph_start, paragraph_end)`` in it). The file's side is what moves
and accepting use; the preview's side is what people chose and what the page shows.

Invariants:
- ``version`` (the version it was made on) never changes; ``applies_to`` is the version it now
  applies to: ``version`` or a later one whose file still has the paragraph (same text, same
  occurrence). An open suggestion always applies to its document's latest version.
- ``state`` goes from open to accepted, rejected or outdated, once, never back; the fields of
  that decision are set with it: ``decided_by``/``decided_at`` for accepted and rejected
  (``decision_reason``: why, for a rejection), ``accepted_in`` (the version the accept made),
  ``outdated_in`` (the version whose file no longer has the paragraph).
- ``quote`` is ``block_text[start:end]``; ``new_text`` is empty exactly for a deletion.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils import timezone

if TYPE_CHECKING:
    from commonroom.suggestions.permissions import SuggestionAbilities


class Kind(models.TextChoices):
    REPLACE = "replace", "Replace"
    DELETE = "delete", "Delete"
    INSERT_BEFORE = "insert_before", "Insert before"
    INSERT_AFTER = "insert_after", "Insert after"
    NEW_PARAGRAPH = "new_paragraph", "New paragraph after"


class State(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    OUTDATED = "outdated", "Outdated"


class Suggestion(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    comment = models.OneToOneField(
        "comments.Comment", on_delete=models.CASCADE, related_name="suggestion"
    )
    document = models.ForeignKey(
        "documents.Document", on_delete=models.CASCADE, related_name="suggestions"
    )
    version = models.ForeignKey("documents.Version", on_delete=models.CASCADE, related_name="+")
    applies_to = models.ForeignKey("documents.Version", on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The passage as the preview of ``version`` showed it.
    block_id = models.CharField(max_length=12)
    block_text = models.TextField()
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    quote = models.TextField()
    # The passage as the file has it.
    paragraph = models.TextField()
    occurrence = models.PositiveIntegerField()
    paragraph_start = models.PositiveIntegerField()
    paragraph_end = models.PositiveIntegerField()
    new_text = models.TextField(blank=True)
    reason = models.TextField(blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    accepted_in = models.ForeignKey(
        "documents.Version", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    outdated_in = models.ForeignKey(
        "documents.Version", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )

    # Set by selectors.with_abilities for pages: what the reader may do to it.
    can: SuggestionAbilities = {"accept": False, "reject": False}  # replaced, never mutated

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["document", "state"], name="suggestion_document_state")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start__lt=models.F("end")), name="suggestion_passage_not_empty"
            ),
            models.CheckConstraint(
                condition=models.Q(paragraph_start__lte=models.F("paragraph_end")),
                name="suggestion_paragraph_range",
            ),
            models.CheckConstraint(
                condition=models.Q(kind=Kind.DELETE, new_text="")
                | (~models.Q(kind=Kind.DELETE) & ~models.Q(new_text="")),
                name="suggestion_text_iff_not_deletion",
            ),
        ]

    def __str__(self) -> str:
        return f"suggestion {self.pk} on {self.document_id} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state == State.OPEN
