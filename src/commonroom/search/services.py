"""Keeping the search index current. Every function here is called inside the transaction of
the change it follows (``receivers``: the documents', comments', conversations' and previews'
hooks), so the index commits (or rolls back) with the change.

Each ``index_*`` reads the thing as it is now and writes its entry, or removes it when the thing
is no longer searchable (a trashed document and the comments on it, a deleted comment or
message). They are idempotent: ``search_reindex`` calls them for everything.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.contrib.postgres.search import SearchVector
from django.db import connection, transaction
from django.db.models import QuerySet, UUIDField, Value

from commonroom.comments.selectors import comment_find, live_comments_on
from commonroom.conversations.selectors import (
    conversation_find,
    every_conversation,
    every_live_message,
    message_find,
)
from commonroom.core.markup import as_text
from commonroom.core.prepared import Prepared, PreparedExpression, Written, insert, update_where
from commonroom.documents.selectors import (
    document_find,
    latest_version,
    live_documents,
    live_documents_with_file,
)
from commonroom.previews.selectors import preview_text
from commonroom.search.backends import clean_body, index_text
from commonroom.search.models import MAX_BODY, Kind, SearchEntry
from commonroom.workspaces.services import workspace_lock

if TYPE_CHECKING:
    from commonroom.comments.models import Comment
    from commonroom.conversations.models import Conversation, Message
    from commonroom.documents.models import Document, Version


def _vector_of(title: str, body: str) -> Any:
    return SearchVector(Value(title), weight="A", config="simple") + SearchVector(
        Value(body), weight="B", config="simple"
    )


# PostgreSQL's vector of an entry, written on every upload: the ORM's expression compiled once
# per process, so that the entry's INSERT or UPDATE is built once too (``core.prepared``).
_VECTOR = PreparedExpression("search.vector", SearchEntry, _vector_of, "title", "body")


def _vector(title: str, body: str) -> Written:
    return _VECTOR(title=index_text(title), body=index_text(body))


def _write(kind: str, object_id: Any, **fields: Any) -> None:
    fields["title"] = clean_body(fields.get("title", ""))[:255]
    fields["body"] = clean_body(fields.get("body", ""))[:MAX_BODY]
    vector = (
        {"vector": _vector(fields["title"], fields["body"])}
        if connection.vendor == "postgresql"
        else {}
    )
    # An entry that exists (the usual case: a document's new version, a comment edited) is
    # rewritten in one statement, its words' vector with it; a new one is made, once however
    # many write it at once (update_or_create retries on the constraint).
    # The update's statement is built once (``update_where``): it runs on every new version.
    if update_where(SearchEntry, {"kind": kind, "object_id": str(object_id)}, fields | vector):
        return
    entry, _ = SearchEntry.objects.update_or_create(
        kind=kind, object_id=str(object_id), defaults=fields
    )
    if vector:
        SearchEntry.objects.filter(pk=entry.pk).update(vector=vector["vector"].expression())


def remove_for(kind: str, object_id: Any) -> None:
    SearchEntry.objects.filter(kind=kind, object_id=str(object_id)).delete()


def _document_words(document: Document) -> tuple[str, Any]:
    """The text of the document's latest version (its preview's words, once made) and that
    version's author."""
    latest = latest_version(document)
    if latest is None:
        return "", document.created_by_id
    # The words only once the workspace has the preview: bytes another workspace previewed
    # earlier are not searchable here any sooner than new ones.
    return preview_text(latest.blob_id, workspace_id=document.workspace_id), latest.author_id


def index_document(document: Document) -> None:
    """The document's entry (name and latest words) and its comments' entries; none of them
    while it is in the trash."""
    doc = document_find(document.pk)
    if doc is None or doc.in_trash:
        SearchEntry.objects.filter(document_id=document.pk).delete()
        return
    body, author_id = _document_words(doc)
    _write(
        Kind.DOCUMENT,
        doc.pk,
        workspace_id=doc.workspace_id,
        document_id=doc.pk,
        conversation=None,
        title=doc.name,
        body=body,
        author_id=author_id,
        created_at=doc.created_at,
        updated_at=doc.updated_at,
    )
    _comments_indexed(doc)


def index_version(*, document: Document, version: Version, document_created: bool) -> None:
    """The document's entry once ``version`` was added to it, inside that transaction:
    :func:`index_document`'s entry from the rows the upload holds (the document, locked and
    saved with it, and the version, its latest) rather than read again. A new document's entry
    is new, and it has no comments yet."""
    if document.in_trash:
        index_document(document)
        return
    body = preview_text(version.blob_id, workspace_id=document.workspace_id)
    fields: dict[str, Any] = {
        "workspace_id": document.workspace_id,
        "document_id": document.pk,
        "conversation": None,
        "author_id": version.author_id,
        "created_at": document.created_at,
        "updated_at": document.updated_at,
    }
    if not document_created:
        _write(Kind.DOCUMENT, document.pk, title=document.name, body=body, **fields)
        _comments_indexed(document)
        return
    title, body = clean_body(document.name)[:255], clean_body(body)[:MAX_BODY]
    if connection.vendor == "postgresql":  # its words' vector in the same statement
        fields["vector"] = _vector(title, body)
    insert(
        SearchEntry(
            kind=Kind.DOCUMENT, object_id=str(document.pk), title=title, body=body, **fields
        )
    )


def _comment_entries(*, document_id: uuid.UUID) -> QuerySet[SearchEntry, Any]:
    return (
        SearchEntry.objects.filter(document_id=document_id, kind=Kind.COMMENT)
        .order_by("object_id")
        .values_list("object_id")
    )


def _live_comment_ids(*, document_id: uuid.UUID) -> QuerySet[Any, Any]:
    return live_comments_on(document_id).order_by("pk").values_list("pk")


# Asked on every new version (:func:`_comments_indexed`): their SQL built once per process.
_COMMENT_ENTRIES = Prepared("search.comment_entries", _comment_entries, document_id=UUIDField())
_LIVE_COMMENT_IDS = Prepared("search.live_comment_ids", _live_comment_ids, document_id=UUIDField())


def _comments_indexed(doc: Document) -> None:
    """Every live comment on the document has its entry."""
    have = {row[0] for row in _COMMENT_ENTRIES.tuples(document_id=doc.pk)}
    # Their ids only: the rows of the few missing are read by ``_index_comment``, and a
    # document with hundreds of comments makes no instances for each new version.
    for (pk,) in _LIVE_COMMENT_IDS.tuples(document_id=doc.pk):
        if str(pk) not in have:
            _index_comment(pk)


def index_documents(documents: Iterable[Document]) -> None:
    for doc in documents:
        index_document(doc)


def _shown(item: Any) -> str:
    """A comment's or message's words as its readers see them (mentions by name, never an
    address), so that a snippet quotes what the thread shows, and a name finds it."""
    return as_text(item.body_html).strip() if item.body_html else item.body


def index_comment(comment: Comment, *, also: str = "") -> None:
    """The comment's entry; ``also``: more words it is found by (a suggestion's passage and
    suggested text, for the comment opening its thread)."""
    _index_comment(comment.pk, also=also)


def _index_comment(pk: Any, *, also: str = "") -> None:
    """:func:`index_comment` of the comment whose id is ``pk``, read as it is now."""
    found = comment_find(pk)
    if found is None or found.is_deleted or found.document.in_trash:
        remove_for(Kind.COMMENT, pk)
        return
    _write(
        Kind.COMMENT,
        found.pk,
        workspace_id=found.document.workspace_id,
        document_id=found.document_id,
        conversation=None,
        title="",
        body=f"{_shown(found)}\n{also}" if also else _shown(found),
        author_id=found.author_id,
        created_at=found.created_at,
        updated_at=found.edited_at or found.created_at,
    )


def index_conversation(conversation: Conversation) -> None:
    found = conversation_find(conversation.pk)
    if found is None:
        remove_for(Kind.CONVERSATION, conversation.pk)
        return
    _write(
        Kind.CONVERSATION,
        found.pk,
        workspace_id=found.workspace_id,
        document=None,
        conversation_id=found.pk,
        title=found.title,
        body="",
        author_id=found.created_by_id,
        created_at=found.created_at,
        updated_at=found.created_at,
    )


def index_message(message: Message) -> None:
    found = message_find(message.pk)
    if found is None or found.is_deleted:
        remove_for(Kind.MESSAGE, message.pk)
        return
    _write(
        Kind.MESSAGE,
        found.pk,
        workspace_id=found.conversation.workspace_id,
        document=None,
        conversation_id=found.conversation_id,
        title="",
        body=_shown(found),
        author_id=found.author_id,
        created_at=found.created_at,
        updated_at=found.edited_at or found.created_at,
    )


def preview_made(blob_sha: str) -> None:
    """A preview's words are ready: re-index the documents whose latest version has that file."""
    for doc in live_documents_with_file(blob_sha):
        # One transaction per document, its workspace locked first as every writer there does
        # (an upload holding that lock may be waiting for this document's entry: locking in the
        # same order keeps the two from deadlocking).
        with transaction.atomic():
            workspace_lock(workspace_id=doc.workspace_id)
            fresh = live_documents().filter(pk=doc.pk).first()
            if fresh is None:
                continue
            latest = latest_version(fresh)
            if latest is not None and latest.blob_id == blob_sha:
                index_document(fresh)


def reindex_all() -> int:
    """Rebuild every entry from the data (``commonroom search_reindex``). Returns the count."""
    SearchEntry.objects.all().delete()
    for doc in live_documents().iterator():
        index_document(doc)
    for conversation in every_conversation():
        index_conversation(conversation)
    for message in every_live_message():
        index_message(message)
    return SearchEntry.objects.count()
