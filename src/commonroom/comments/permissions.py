"""What a person may do with one comment, derived from their abilities on its document."""

from __future__ import annotations

from typing import Any

from commonroom.comments.models import Comment
from commonroom.documents.selectors import DocumentAccess


def comment_abilities(doc_access: DocumentAccess, comment: Comment, user: Any) -> dict[str, bool]:
    can_comment = doc_access.can("comment")
    live = not comment.is_deleted
    own = comment.author_id == getattr(user, "pk", None)
    root = comment.thread_id is None
    # A thread goes on when a comment in it is deleted: a tombstone still takes replies (they
    # join its thread) and a first comment's is still resolved or reopened; only the deleted
    # words themselves are neither edited nor deleted again.
    return {
        "reply": can_comment,
        "edit": can_comment and live and own,
        # Authors remove their own words; managers moderate.
        "delete": live and ((can_comment and own) or doc_access.access.can("manage_members")),
        "resolve": can_comment and root and comment.resolved_at is None,
        "reopen": can_comment and root and comment.resolved_at is not None,
    }
