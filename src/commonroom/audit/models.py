"""The append-only, hash-chained audit trail.

Invariants:
- rows are only ever inserted, by :func:`commonroom.audit.services.audit_record`, inside the
  transaction of the action they record (the action and its record commit or vanish together);
- ``seq`` runs 1, 2, 3... without gaps; ``hash`` = SHA-256 over the row's fields and the previous
  row's hash; :class:`AuditHead` holds the last seq and hash, so removing the newest rows shows too;
- rows hold plain ids and labels, never foreign keys, so nothing that happens to a user, document
  or workspace later can change or delete a row.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

GENESIS_HASH = "0" * 64


class Action(models.TextChoices):
    LOGIN = "auth.login", "Signed in"
    LOGIN_FAILED = "auth.login_failed", "Failed sign-in"
    LOGOUT = "auth.logout", "Signed out"
    SESSIONS_ENDED = "auth.sessions_ended", "Signed out everywhere"
    MFA_CHANGED = "auth.mfa_changed", "Changed second factor"
    TOKEN_CREATED = "token.created", "Created API token"
    TOKEN_REVOKED = "token.revoked", "Revoked API token"
    WORKSPACE_CREATED = "workspace.created", "Created workspace"
    WORKSPACE_UPDATED = "workspace.updated", "Changed workspace details"
    WORKSPACE_ARCHIVED = "workspace.archived", "Archived workspace"
    WORKSPACE_UNARCHIVED = "workspace.unarchived", "Reopened workspace"
    INVITATION_SENT = "invitation.sent", "Invited someone"
    INVITATION_REVOKED = "invitation.revoked", "Withdrew an invitation"
    INVITATION_ACCEPTED = "invitation.accepted", "Accepted an invitation"
    MEMBER_ROLE_CHANGED = "member.role_changed", "Changed a role"
    MEMBER_REMOVED = "member.removed", "Removed a member"
    FOLDER_CREATED = "folder.created", "Created folder"
    FOLDER_RENAMED = "folder.renamed", "Renamed folder"
    FOLDER_MOVED = "folder.moved", "Moved folder"
    FOLDER_DELETED = "folder.deleted", "Moved folder to trash"
    FOLDER_RESTORED = "folder.restored", "Restored folder from trash"
    FOLDER_PURGED = "folder.purged", "Purged folder"
    DOCUMENT_VIEWED = "document.viewed", "Viewed document"
    PREVIEW_VIEWED = "preview.viewed", "Read a version's preview"
    DOCUMENT_UPLOADED = "document.uploaded", "Uploaded document"
    VERSION_UPLOADED = "version.uploaded", "Uploaded new version"
    VERSION_DOWNLOADED = "version.downloaded", "Downloaded version"
    VERSION_RESTORED = "version.restored", "Restored old version"
    DOCUMENT_RENAMED = "document.renamed", "Renamed document"
    DOCUMENT_MOVED = "document.moved", "Moved document"
    DOCUMENT_DELETED = "document.deleted", "Moved document to trash"
    DOCUMENT_RESTORED = "document.restored", "Restored document from trash"
    DOCUMENT_PURGED = "document.purged", "Purged document"
    BLOBS_COLLECTED = "blob.collected", "Removed unreferenced files"
    COMMENT_CREATED = "comment.created", "Commented"
    COMMENT_EDITED = "comment.edited", "Edited a comment"
    COMMENT_DELETED = "comment.deleted", "Deleted a comment"
    COMMENT_RESOLVED = "comment.resolved", "Resolved a thread"
    COMMENT_REOPENED = "comment.reopened", "Reopened a thread"
    CONVERSATION_STARTED = "conversation.started", "Started a conversation"
    MESSAGE_POSTED = "message.posted", "Posted a message"
    MESSAGE_EDITED = "message.edited", "Edited a message"
    MESSAGE_DELETED = "message.deleted", "Deleted a message"


class AuditEvent(models.Model):
    seq = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=40, choices=Action.choices, db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_email = models.CharField(max_length=254, blank=True)
    workspace_id = models.UUIDField(null=True, blank=True, db_index=True)
    document_id = models.UUIDField(null=True, blank=True, db_index=True)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=300, blank=True)
    ip = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-seq"]
        indexes = [models.Index(fields=["workspace_id", "-seq"], name="audit_ws_seq")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} by {self.actor_email or 'system'}"


class AuditHead(models.Model):
    """One row: the last seq and hash of the chain. Locked while a row is appended."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)

    def __str__(self) -> str:
        return f"audit head #{self.seq}"
