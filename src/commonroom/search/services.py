"""Keeping the search index current. Every function here is called by the service that changed
the thing, inside its transaction, so the index commits (or rolls back) with the change.

Each ``index_*`` reads the thing as it is now and writes its entry, or removes it when the thing
is no longer searchable (a trashed document and the comments on it, a deleted comment or
message). They are idempotent: ``search_reindex`` calls them for everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.postgres.search import SearchVector
from django.db import connection, transaction
from django.db.models import Value

from commonroom.comments.models import Comment
from commonroom.conversations.models import Conversation, Message
from commonroom.documents.models import Document
from commonroom.search.backends import clean_body, index_text
from commonroom.search.models import MAX_BODY, Kind, SearchEntry
from commonroom.workspaces.models import Workspace


def _vector(title: str, body: str) -> Any:
    return SearchVector(Value(index_text(title)), weight="A", config="simple") + SearchVector(
        Value(index_text(body)), weight="B", config="simple"
    )


def _write(kind: str, object_id: Any, **fields: Any) -> None:
    fields["title"] = clean_body(fields.get("title", ""))[:255]
    fields["body"] = clean_body(fields.get("body", ""))[:MAX_BODY]
    entry, _ = SearchEntry.objects.update_or_create(
        kind=kind, object_id=str(object_id), defaults=fields
    )
    if connection.vendor == "postgresql":
        SearchEntry.objects.filter(pk=entry.pk).update(
            vector=_vector(fields["title"], fields["body"])
        )


def remove_for(kind: str, object_id: Any) -> None:
    SearchEntry.objects.filter(kind=kind, object_id=str(object_id)).delete()


def _document_words(document: Document) -> tuple[str, Any]:
    """The text of the document's latest version (its preview's words, once made) and that
    version's author."""
    latest = document.versions.filter(number=document.current_version_number).first()
    if latest is None:
        return "", document.created_by_id
    return _preview_text(latest.blob_id), latest.author_id


def _preview_text(sha256: str) -> str:
    """The words of the file's preview, once the previews app has made it."""
    try:
        from commonroom.previews.models import Preview
    except ImportError:  # pragma: no cover - the previews app is part of the project
        return ""
    found = Preview.objects.filter(blob_id=sha256).values_list("text", flat=True).first()
    return found or ""


def index_document(document: Document) -> None:
    """The document's entry (name and latest words) and its comments' entries; none of them
    while it is in the trash."""
    doc = Document.objects.filter(pk=document.pk).first()
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
    have = set(
        SearchEntry.objects.filter(document_id=doc.pk, kind=Kind.COMMENT).values_list(
            "object_id", flat=True
        )
    )
    for comment in Comment.objects.filter(document_id=doc.pk, deleted_at__isnull=True):
        if str(comment.pk) not in have:
            index_comment(comment)


def index_documents(documents: Iterable[Document]) -> None:
    for doc in documents:
        index_document(doc)


def index_comment(comment: Comment) -> None:
    found = Comment.objects.filter(pk=comment.pk).select_related("document").first()
    if found is None or found.is_deleted or found.document.in_trash:
        remove_for(Kind.COMMENT, comment.pk)
        return
    _write(
        Kind.COMMENT,
        found.pk,
        workspace_id=found.document.workspace_id,
        document_id=found.document_id,
        conversation=None,
        title="",
        body=found.body,
        author_id=found.author_id,
        created_at=found.created_at,
        updated_at=found.edited_at or found.created_at,
    )


def index_conversation(conversation: Conversation) -> None:
    found = Conversation.objects.filter(pk=conversation.pk).first()
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
    found = Message.objects.filter(pk=message.pk).select_related("conversation").first()
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
        body=found.body,
        author_id=found.author_id,
        created_at=found.created_at,
        updated_at=found.edited_at or found.created_at,
    )


def preview_made(blob_sha: str) -> None:
    """A preview's words are ready: re-index the documents whose latest version has that file."""
    from commonroom.documents.models import Version

    docs = Document.objects.filter(
        deleted_at__isnull=True,
        pk__in=Version.objects.filter(blob_id=blob_sha).values("document_id"),
    )
    for doc in docs:
        # One transaction per document, its workspace locked first as every writer there does
        # (an upload holding that lock may be waiting for this document's entry: locking in the
        # same order keeps the two from deadlocking).
        with transaction.atomic():
            list(
                Workspace.objects.select_for_update()
                .filter(pk=doc.workspace_id)
                .values_list("pk", flat=True)
            )
            fresh = Document.objects.filter(pk=doc.pk, deleted_at__isnull=True).first()
            if fresh is None:
                continue
            latest = fresh.versions.filter(number=fresh.current_version_number).values_list(
                "blob_id", flat=True
            )
            if latest.first() == blob_sha:
                index_document(fresh)


def reindex_all() -> int:
    """Rebuild every entry from the data (``commonroom search_reindex``). Returns the count."""
    SearchEntry.objects.all().delete()
    for doc in Document.objects.filter(deleted_at__isnull=True).iterator():
        index_document(doc)
    for conversation in Conversation.objects.all().iterator():
        index_conversation(conversation)
    for message in Message.objects.filter(deleted_at__isnull=True).iterator():
        index_message(message)
    return SearchEntry.objects.count()
