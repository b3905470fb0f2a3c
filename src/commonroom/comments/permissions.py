"""What a person may do with one comment, derived from their abilities on its document.

Named by :data:`CommentAbility`, so a misspelt name is a type error (see
``workspaces.permissions``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypedDict

from commonroom.comments.models import Comment
from commonroom.documents.selectors import DocumentAccess

if TYPE_CHECKING:
    from commonroom.accounts.models import User

CommentAbility = Literal["reply", "edit", "delete", "resolve", "reopen"]


class CommentAbilities(TypedDict):
    reply: bool
    edit: bool
    delete: bool
    resolve: bool
    reopen: bool


def comment_abilities(doc_access: DocumentAccess, comment: Comment, user: User) -> CommentAbilities:
    can_comment = doc_access.can("comment")
    live = not comment.is_deleted
    own = comment.author_id == user.pk
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
