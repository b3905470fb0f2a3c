"""The audited actions: constants other apps name when they call ``audit_record``.

Only Python knows this list: ``AuditEvent.action`` is a plain string without ``choices``, so a
new action here needs no migration. This module reads no data, so any app may import it.
"""

from __future__ import annotations

from django.db import models


class Action(models.TextChoices):
    """The actions in use, with their words for the trail. Only Python knows this list: the
    column is a plain string, so adding one here needs no migration."""

    LOGIN = "auth.login", "Signed in"
    LOGIN_FAILED = "auth.login_failed", "Failed sign-in"
    LOGOUT = "auth.logout", "Signed out"
    SESSIONS_ENDED = "auth.sessions_ended", "Signed out everywhere"
    MFA_CHANGED = "auth.mfa_changed", "Changed second factor"
    ACCOUNT_CREATED_SSO = "user.created_sso", "Account made at a first single sign-on"
    SSO_LINKED = "user.sso_linked", "Linked an account to single sign-on"
    TOKEN_CREATED = "token.created", "Created API token"
    TOKEN_REVOKED = "token.revoked", "Revoked API token"
    GUEST_TOKENS_ALLOWED = "user.api_tokens_allowed", "Allowed an external guest API tokens"
    WORKSPACE_CREATED = "workspace.created", "Created workspace"
    WORKSPACE_UPDATED = "workspace.updated", "Changed workspace details"
    WORKSPACE_ARCHIVED = "workspace.archived", "Archived workspace"
    WORKSPACE_UNARCHIVED = "workspace.unarchived", "Reopened workspace"
    INVITATION_SENT = "invitation.sent", "Invited someone"
    INVITATION_REVOKED = "invitation.revoked", "Withdrew an invitation"
    INVITATION_ACCEPTED = "invitation.accepted", "Accepted an invitation"
    MEMBER_ADDED = "member.added", "Added a member"
    MEMBER_ROLE_CHANGED = "member.role_changed", "Changed a role"
    MEMBER_REMOVED = "member.removed", "Removed a member"
    MEMBER_ACCESS_END_SET = "member.access_end_set", "Set when a member's access ends"
    MEMBER_ACCESS_EXTENDED = "member.access_extended", "Extended a member's access"
    MEMBER_ACCESS_NOTICE = "member.access_notice", "Told a member their access ends soon"
    MEMBER_ACCESS_ENDED = "member.access_ended", "A member's access reached its end date"
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
    DOWNLOAD_REFUSED = "download.refused", "Refused a download (not allowed for their role)"
    VERSION_RESTORED = "version.restored", "Restored old version"
    DOCUMENT_RENAMED = "document.renamed", "Renamed document"
    DOCUMENT_MOVED = "document.moved", "Moved document"
    DOCUMENT_DELETED = "document.deleted", "Moved document to trash"
    DOCUMENT_RESTORED = "document.restored", "Restored document from trash"
    DOCUMENT_PURGED = "document.purged", "Purged document"
    DOCUMENT_SEALED = "document.sealed", "Sealed document: a version became its final record"
    DOCUMENT_REOPENED = "document.reopened", "Reopened a sealed document"
    DOCUMENT_LOCK_BROKEN = "document.lock_broken", "Broke another program's lock on a document"
    # A read receipt: the first reading of a version by a person (its preview open and visible,
    # a download, an approval), once per person and version ever. PREVIEW_VIEWED and
    # VERSION_DOWNLOADED stay the trail of each look; this is the one that counts as read.
    VERSION_READ = "version.read", "Read a version"
    READERS_REMINDED = "document.readers_reminded", "Reminded those who had not read a document"
    RECORD_PURGE_REFUSED = (
        "record.purge_refused",
        "Refused to delete a final record under retention",
    )
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
    CHAIN_CHECKPOINT = "audit.checkpoint", "Checkpoint of the audit chains"
    CHAINS_MOVED = "audit.rechained", "Audit trail moved to per-workspace chains"
    SUGGESTION_CREATED = "suggestion.created", "Suggested a change"
    SUGGESTION_ACCEPTED = "suggestion.accepted", "Accepted a suggestion"
    SUGGESTION_REJECTED = "suggestion.rejected", "Rejected a suggestion"
    SUGGESTION_OUTDATED = "suggestion.outdated", "Suggestion outdated by a new version"
    TRACKED_CHANGES_ACCEPTED = (
        "version.tracked_changes_accepted",
        "Accepted all tracked changes of a version",
    )
    DOCUMENT_DOWNLOADED_TRACKED = (
        "document.downloaded_tracked",
        "Downloaded with suggestions as tracked changes",
    )
    SUGGESTIONS_CARRIED = "suggestions.carried", "Carried a stale copy's changes as suggestions"
    APPROVAL_REQUESTED = "approval.requested", "Asked for approval of a version"
    APPROVAL_CHANGED = "approval.changed", "Changed an approval request"
    APPROVAL_REMINDED = "approval.reminded", "Reminded approvers"
    APPROVAL_APPROVED = "approval.approved", "Approved a version"
    APPROVAL_DECLINED = "approval.declined", "Declined to approve a version"
    APPROVAL_ENDED = "approval.ended", "An approval request ended"
    ADMIN_ADDED = "admin.added", "Added on the admin site"
    ADMIN_CHANGED = "admin.changed", "Changed on the admin site"
    ADMIN_DELETED = "admin.deleted", "Deleted on the admin site"
    RECORD_CERTIFICATE_DOWNLOADED = (
        "record.certificate_downloaded",
        "Downloaded a final record's signed certificate",
    )


def action_label(action: str) -> str:
    """The words for ``action``; an action this version does not know shows as itself."""
    try:
        return str(Action(action).label)
    except ValueError:
        return action
