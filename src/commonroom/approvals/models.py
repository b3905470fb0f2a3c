"""Approval requests: chosen members asked to approve one exact version of a document.

An :class:`ApprovalRequest` names the version (its bytes: the SHA-256 each approval records),
who asked, a message, a due date and a rule: everyone listed (``all``) or any ``required`` of
them (``any``). Each person asked is an :class:`Approver` with their decision. Every change to
a request is a :class:`HistoryEntry` (shown on the page and on the record's certificate; the
audit trail has the same changes, chained).

Invariants:
- a request's ``version`` never changes; at most one request is open per version;
- ``state`` goes from open to approved, declined, cancelled or superseded, once, never back,
  with ``ended_at``; ``approved`` exactly when the rule was met, and then the version is the
  document's final record (``documents``: ``Version.record_at``);
- an approver decides once (pending → approved or declined); removing an approver (by the
  requester, or because they left the workspace or may no longer comment) keeps their row,
  marked removed, so the history stays whole; an approval records the SHA-256 of the version
  it approved, the time, the IP address and the user agent, and the second factor confirmed;
- the rule is evaluated on the approvers not removed: ``all`` is met when every one approved,
  ``any`` when ``required`` approved; a request whose rule can no longer be met (a decline,
  or too few left) ends as declined.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Rule(models.TextChoices):
    ALL = "all", "Everyone listed"
    ANY = "any", "Any number of them"


class RequestState(models.TextChoices):
    OPEN = "open", "Open"
    APPROVED = "approved", "Approved"
    DECLINED = "declined", "Declined"
    CANCELLED = "cancelled", "Cancelled"
    SUPERSEDED = "superseded", "Ended by a new version"


class Decision(models.TextChoices):
    PENDING = "pending", "Waiting"
    APPROVED = "approved", "Approved"
    DECLINED = "declined", "Declined"
    REMOVED = "removed", "Removed"


class ApprovalRequest(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    document = models.ForeignKey(
        "documents.Document", on_delete=models.CASCADE, related_name="approval_requests"
    )
    version = models.ForeignKey("documents.Version", on_delete=models.PROTECT, related_name="+")
    # The version's bytes when asked (a version never changes; kept for the certificate).
    sha256 = models.CharField(max_length=64)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    message = models.TextField(blank=True)
    due_date = models.DateField(null=True, blank=True)
    rule = models.CharField(max_length=5, choices=Rule.choices, default=Rule.ALL)
    # For ``any``: how many approvals meet the rule.
    required = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(max_length=12, choices=RequestState.choices, default=RequestState.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Why it ended, in words ("version 4 was uploaded after this request; ...").
    end_note = models.CharField(max_length=500, blank=True)
    # The version whose upload ended it (superseded).
    superseded_by_number = models.PositiveIntegerField(null=True, blank=True)
    # The request this one asks again (on a newer version).
    asks_again = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reminded_at = models.DateTimeField(null=True, blank=True)
    # The daily job's reminders sent: "soon" (the day before the due date) and "overdue".
    due_reminders = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["version"],
                condition=models.Q(state="open"),
                name="one_open_request_per_version",
            ),
            models.CheckConstraint(
                condition=models.Q(required__gte=1), name="approval_required_at_least_one"
            ),
        ]
        indexes = [models.Index(fields=["document", "state"], name="approval_document_state")]

    def __str__(self) -> str:
        return f"approval request {self.pk} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state == RequestState.OPEN


class Approver(models.Model):
    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="approvers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING)
    added_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    # What an approval (or a decline) was given on, and from where.
    sha256 = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    # The second factor confirmed for this decision ("totp", "webauthn", "recovery_codes"), or
    # "" when the person has none.
    second_factor = models.CharField(max_length=20, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["added_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["request", "user"], name="one_approver_row_per_person")
        ]
        indexes = [models.Index(fields=["user", "decision"], name="approver_waiting")]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.request_id}: {self.decision}"


class HistoryEntry(models.Model):
    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="history")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # What happened, in words ("Priya Shah asked 2 people to approve version 2").
    text = models.CharField(max_length=600)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return self.text
