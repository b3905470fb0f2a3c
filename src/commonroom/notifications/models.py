"""Notifications instead of email: what happened that concerns a person, where to look, and
whether they have seen it (or been emailed about it).

Invariants:
- one source item (a comment, a version, a message) notifies a person at most once: the
  ``dedupe_key`` names the item and is unique per recipient;
- only people who are members of the workspace when it happens are notified, and a notification
  shows only while its recipient is still a member;
- ``summary`` and ``excerpt`` are plain text (escaped wherever they are shown);
- ``target_url`` is a local path (checked again before any redirect).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Kind(models.TextChoices):
    MENTION = "mention", "Mentioned you"
    REPLY = "reply", "Replied to your thread"
    NEW_COMMENT = "new_comment", "New comment"
    NEW_VERSION = "new_version", "New version"
    CONVERSATION = "conversation", "Conversation"
    APPROVAL = "approval", "Approval"
    READ_REMINDER = "read_reminder", "Reminder to read"
    ADDED = "added", "Added you to a workspace"


class Notification(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    document = models.ForeignKey(
        "documents.Document", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    target_url = models.CharField(max_length=500)
    summary = models.CharField(max_length=300)
    excerpt = models.CharField(max_length=300, blank=True)
    # What notified ("comment:<id>", "version:<id>", "message:<id>"): once per person.
    dedupe_key = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"], name="notification_once_per_person"
            )
        ]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="notification_unread"),
            models.Index(fields=["recipient", "created_at"], name="notification_recent"),
            # An edited or deleted comment or message finds the notifications quoting it.
            models.Index(fields=["dedupe_key"], name="notification_source"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class Follow(models.Model):
    """A person follows a document: new comments and versions notify them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey("documents.Document", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "document"], name="follow_once"),
        ]
        indexes = [models.Index(fields=["document"], name="follow_document")]

    def __str__(self) -> str:
        return f"{self.user_id} follows {self.document_id}"


class EmailChoice(models.TextChoices):
    IMMEDIATE = "immediate", "Straight away, one email for each notification"
    DIGEST = "digest", "Once a day, in a digest"
    NONE = "none", "Only mentions, in a daily digest"


# Shown under each choice on the settings page.
EMAIL_HINTS = {
    EmailChoice.IMMEDIATE: "An email as soon as anything notifies you.",
    EmailChoice.DIGEST: "One email a day listing what notified you since the last one.",
    EmailChoice.NONE: (
        "No email about new comments, versions or conversations. When someone mentions you, "
        "it comes in one email a day."
    ),
}


class NotificationSettings(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    email = models.CharField(max_length=10, choices=EmailChoice.choices, default=EmailChoice.DIGEST)
    last_digest_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.email}"


class DocumentSeen(models.Model):
    """The latest version of a document a person has had on their screen."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey("documents.Document", on_delete=models.CASCADE, related_name="+")
    version_number = models.PositiveIntegerField()
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "document"], name="document_seen_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} saw {self.document_id} v{self.version_number}"
