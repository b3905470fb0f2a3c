"""Search follows the changes of what it indexes, inside their transactions, so the index
commits or rolls back with the change: documents (``documents.hooks``), comments
(``comments.hooks``), conversations (``conversations.hooks``) and suggestions
(``suggestions.hooks``: a suggestion's thread is found by its passage and suggested text). A
preview made
(``previews.hooks``) re-indexes after its commit, each document in a transaction of its own. The
entries themselves are written by ``services``."""

from __future__ import annotations

from django.db import transaction

from commonroom.comments import hooks as comments
from commonroom.conversations import hooks as conversations
from commonroom.documents import hooks
from commonroom.previews import hooks as previews
from commonroom.search import services
from commonroom.search.models import Kind
from commonroom.suggestions import hooks as suggestions


def on_version_added(change: hooks.VersionAdded) -> None:
    services.index_version(  # the name and the latest version's words
        document=change.document,
        version=change.version,
        document_created=change.document_created,
    )


def on_document_renamed(change: hooks.DocumentRenamed) -> None:
    services.index_document(change.document)


def on_document_trashed(change: hooks.DocumentTrashed) -> None:
    services.index_document(change.document)  # out of search, with its comments


def on_document_restored(change: hooks.DocumentRestored) -> None:
    services.index_document(change.document)  # back in search, with its comments


def on_folder_trashed(change: hooks.FolderTrashed) -> None:
    services.index_documents(change.documents)  # those it took leave search with it


def on_folder_restored(change: hooks.FolderRestored) -> None:
    services.index_documents(change.documents)  # back; those trashed on their own stay out


def on_comment_written(change: comments.CommentAdded | comments.CommentEdited) -> None:
    services.index_comment(change.comment)


def on_suggestion_made(change: suggestions.SuggestionMade) -> None:
    services.index_comment(change.comment, also=f"{change.quote}\n{change.new_text}")


def on_comment_deleted(change: comments.CommentDeleted) -> None:
    services.remove_for(Kind.COMMENT, change.comment.pk)


def on_conversation_started(change: conversations.ConversationStarted) -> None:
    services.index_conversation(change.conversation)


def on_message_written(change: conversations.MessagePosted | conversations.MessageEdited) -> None:
    services.index_message(change.message)


def on_message_deleted(change: conversations.MessageDeleted) -> None:
    services.remove_for(Kind.MESSAGE, change.message.pk)


def on_preview_ready(change: previews.PreviewReady) -> None:
    # After the commit: re-indexing takes each document's workspace lock, which an upload of
    # the same file holds while it waits for the preview's row, held here until the commit.
    sha = change.sha256
    transaction.on_commit(lambda: services.preview_made(sha), robust=True)


def connect() -> None:
    hooks.subscribe(hooks.VersionAdded, on_version_added)
    hooks.subscribe(hooks.DocumentRenamed, on_document_renamed)
    hooks.subscribe(hooks.DocumentTrashed, on_document_trashed)
    hooks.subscribe(hooks.DocumentRestored, on_document_restored)
    hooks.subscribe(hooks.FolderTrashed, on_folder_trashed)
    hooks.subscribe(hooks.FolderRestored, on_folder_restored)
    comments.subscribe(comments.CommentAdded, on_comment_written)
    comments.subscribe(comments.CommentEdited, on_comment_written)
    comments.subscribe(comments.CommentDeleted, on_comment_deleted)
    suggestions.subscribe(suggestions.SuggestionMade, on_suggestion_made)
    conversations.subscribe(conversations.ConversationStarted, on_conversation_started)
    conversations.subscribe(conversations.MessagePosted, on_message_written)
    conversations.subscribe(conversations.MessageEdited, on_message_written)
    conversations.subscribe(conversations.MessageDeleted, on_message_deleted)
    previews.subscribe(previews.PreviewReady, on_preview_ready)
