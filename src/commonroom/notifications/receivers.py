"""Notifications follow documents (``documents.hooks``): a new version notifies the document's
followers in the upload's own transaction (so with the change, or not at all), and the document
page says whether its reader follows it, noting the version they have now seen; a reminder to
read a document (``ReadersReminded``) notifies and emails each person reminded. They follow
comments (``comments.hooks``) and conversations (``conversations.hooks``) the same way: a comment
or message written notifies those it concerns, and an edit or a deletion changes what their
notifications quote, in the change's own transaction. A suggestion made (``suggestions.hooks``)
rewords its thread's notifications: "X suggested a change to <document>". A member whose access
to a workspace ends within a week (``workspaces.hooks.MemberAccessEnding``) is emailed, whatever
their settings: it is about their access, not the workspace's activity. Someone with an account
added to a workspace at once (``workspaces.hooks.MemberAdded``) is notified "X added you to
<workspace>", with the end date of their access when it has one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commonroom.approvals import hooks as approvals
from commonroom.comments import hooks as comments
from commonroom.conversations import hooks as conversations
from commonroom.documents import hooks
from commonroom.notifications.selectors import (
    documents_changed,
    is_following,
    threads_waiting,
    unread_mentions,
)
from commonroom.notifications.services import (
    access_ending,
    approval_asked,
    approval_decided,
    approval_ended,
    approval_reminded,
    comment_deleted,
    comment_edited,
    comment_posted,
    document_seen,
    member_added,
    message_deleted,
    message_edited,
    message_posted,
    readers_reminded,
    suggestion_made,
    version_uploaded,
)
from commonroom.suggestions import hooks as suggestions
from commonroom.workspaces import hooks as workspaces


def on_version_added(change: hooks.VersionAdded) -> None:
    version_uploaded(version=change.version)


def on_readers_reminded(change: hooks.ReadersReminded) -> None:
    readers_reminded(
        document=change.document,
        version=change.version,
        user_ids=change.user_ids,
        actor=change.actor,
    )


def on_comment_added(change: comments.CommentAdded) -> None:
    comment_posted(comment=change.comment, mentioned=list(change.mentioned))


def on_comment_edited(change: comments.CommentEdited) -> None:
    comment_edited(comment=change.comment)


def on_comment_deleted(change: comments.CommentDeleted) -> None:
    comment_deleted(comment=change.comment)


def on_suggestion_made(change: suggestions.SuggestionMade) -> None:
    suggestion_made(comment=change.comment, quote=change.quote, new_text=change.new_text)


def on_message_posted(change: conversations.MessagePosted) -> None:
    message_posted(message=change.message, mentioned=list(change.mentioned))


def on_message_edited(change: conversations.MessageEdited) -> None:
    message_edited(message=change.message)


def on_message_deleted(change: conversations.MessageDeleted) -> None:
    message_deleted(message=change.message)


def on_approval(change: approvals.Change) -> None:
    """Approvals: the people asked or reminded, the requester of each decision, everyone on a
    request when it ends."""
    if isinstance(change, approvals.ApprovalAsked):
        approval_asked(request=change.request, user_ids=change.user_ids, actor=change.actor)
    elif isinstance(change, approvals.ApprovalReminded):
        approval_reminded(
            request=change.request, user_ids=change.user_ids, actor=change.actor, why=change.why
        )
    elif isinstance(change, approvals.ApprovalDecided):
        approval_decided(request=change.request, approver=change.approver)
    else:
        approval_ended(request=change.request, actor=change.actor)


def on_member_added(change: workspaces.MemberAdded) -> None:
    member_added(
        actor=change.actor,
        workspace_id=change.workspace.pk,
        user_id=change.user_id,
        open_path=change.open_path,
        open_label=change.open_label,
        workspace_name=change.workspace.name,
        access_until=change.access_until,
    )


def on_member_access_ending(change: workspaces.MemberAccessEnding) -> None:
    access_ending(
        workspace=change.workspace, user_id=change.user_id, access_until=change.access_until
    )


def document_page(page: hooks.DocumentPage) -> Mapping[str, Any]:
    document = page.doc_access.document
    document_seen(user=page.user, document=document)  # for "changed since you last looked"
    return {"following": is_following(user=page.user, document=document)}


def home_page(page: workspaces.HomePage) -> Mapping[str, Any]:
    """The home page's "what needs me": unread mentions, threads waiting for the person's
    answer, documents changed since they last looked."""
    return {
        "mentions": unread_mentions(user=page.user),
        "waiting": threads_waiting(user=page.user),
        "changed": documents_changed(user=page.user),
    }


def connect() -> None:
    hooks.subscribe(hooks.VersionAdded, on_version_added)
    hooks.subscribe(hooks.ReadersReminded, on_readers_reminded)
    hooks.add_page_part(document_page)
    workspaces.add_home_part(home_page)
    comments.subscribe(comments.CommentAdded, on_comment_added)
    comments.subscribe(comments.CommentEdited, on_comment_edited)
    comments.subscribe(comments.CommentDeleted, on_comment_deleted)
    suggestions.subscribe(suggestions.SuggestionMade, on_suggestion_made)
    conversations.subscribe(conversations.MessagePosted, on_message_posted)
    conversations.subscribe(conversations.MessageEdited, on_message_edited)
    conversations.subscribe(conversations.MessageDeleted, on_message_deleted)
    approvals.subscribe(approvals.ApprovalAsked, on_approval)
    approvals.subscribe(approvals.ApprovalReminded, on_approval)
    approvals.subscribe(approvals.ApprovalDecided, on_approval)
    approvals.subscribe(approvals.ApprovalEnded, on_approval)
    workspaces.subscribe(workspaces.MemberAdded, on_member_added)
    workspaces.subscribe(workspaces.MemberAccessEnding, on_member_access_ending)
