"""Every write to comments: keyword-only, atomic, checked against the comment abilities under
the workspace lock (a person removed a moment ago cannot post), audited in the same transaction.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from commonroom.audit.models import Action
from commonroom.audit.services import audit_record
from commonroom.comments.models import Comment, CommentRevision
from commonroom.comments.permissions import comment_abilities
from commonroom.core.exceptions import ApplicationError, NotFound
from commonroom.core.request_info import SYSTEM, RequestInfo
from commonroom.core.text import plain_text
from commonroom.documents.selectors import DocumentAccess
from commonroom.documents.services import document_access_locked
from commonroom.workspaces.selectors import parse_uuid
from commonroom.workspaces.services import deny

MAX_BODY = 10_000


def _clean_body(body: str) -> str:
    text = plain_text(body, multiline=True)
    if not text:
        raise ApplicationError("Write something before sending.", code="empty_comment")
    if len(text) > MAX_BODY:
        raise ApplicationError(
            f"A comment can be at most {MAX_BODY:,} characters.", code="comment_too_long"
        )
    return text


def _audit(comment: Comment, *, action: str, actor: Any, info: RequestInfo, **data: Any) -> None:
    audit_record(
        action=action,
        actor=actor,
        info=info,
        workspace_id=comment.document.workspace_id,
        document_id=comment.document_id,
        target_type="comment",
        target_id=str(comment.pk),
        target_label=comment.document.name,
        data={"version": comment.version.number, **data},
    )


def _locked_comment(
    actor: Any, doc_access: DocumentAccess, comment_id: Any, ability: str, message: str
) -> tuple[DocumentAccess, Comment]:
    doc_access = document_access_locked(actor, doc_access, "view", message)
    comment = (
        Comment.objects.select_for_update(of=("self",))
        .select_related("version", "document")
        .filter(pk=parse_uuid(comment_id), document=doc_access.document)
        .first()
    )
    if comment is None:
        raise NotFound()
    if not comment_abilities(doc_access, comment, actor)[ability]:
        if comment.is_deleted:
            raise NotFound("That comment was deleted.")
        deny(doc_access.access, message)
    return doc_access, comment


@transaction.atomic
def comment_create(
    *,
    actor: Any,
    doc_access: DocumentAccess,
    body: str,
    version_number: int | None = None,
    anchor_quote: str = "",
    anchor_position: dict[str, Any] | None = None,
    info: RequestInfo = SYSTEM,
) -> Comment:
    """Start a thread on a version of the document (its latest unless one is named)."""
    doc_access = document_access_locked(
        actor, doc_access, "comment", "You can read this document but not comment on it."
    )
    doc = doc_access.document
    number = doc.current_version_number if version_number is None else version_number
    version = doc.versions.filter(number=number).first()
    if version is None:
        raise NotFound(f"Version {number} does not exist.")
    comment = Comment.objects.create(
        document=doc,
        version=version,
        author=actor,
        body=_clean_body(body),
        anchor_quote=plain_text(anchor_quote)[:500],
        anchor_position=anchor_position if isinstance(anchor_position, dict) else None,
    )
    _audit(comment, action=Action.COMMENT_CREATED, actor=actor, info=info)
    return comment


@transaction.atomic
def comment_reply(
    *,
    actor: Any,
    doc_access: DocumentAccess,
    comment_id: Any,
    body: str,
    info: RequestInfo = SYSTEM,
) -> Comment:
    """Reply in a thread (to its first comment, or to any reply in it: threads are flat)."""
    doc_access, parent = _locked_comment(
        actor, doc_access, comment_id, "reply", "You cannot reply here."
    )
    root = parent.thread or parent
    reply = Comment.objects.create(
        document=doc_access.document,
        version=doc_access.document.versions.get(number=doc_access.document.current_version_number),
        thread=root,
        author=actor,
        body=_clean_body(body),
    )
    _audit(reply, action=Action.COMMENT_CREATED, actor=actor, info=info, thread=str(root.pk))
    return reply


@transaction.atomic
def comment_edit(
    *,
    actor: Any,
    doc_access: DocumentAccess,
    comment_id: Any,
    body: str,
    info: RequestInfo = SYSTEM,
) -> Comment:
    """Change one's own comment; the earlier text is kept and the comment marked edited."""
    doc_access, comment = _locked_comment(
        actor, doc_access, comment_id, "edit", "Only the author can edit a comment."
    )
    text = _clean_body(body)
    if text != comment.body:
        CommentRevision.objects.create(comment=comment, body=comment.body)
        comment.body = text
        comment.edited_at = timezone.now()
        comment.save(update_fields=["body", "edited_at"])
        _audit(comment, action=Action.COMMENT_EDITED, actor=actor, info=info)
    return comment


@transaction.atomic
def comment_delete(
    *, actor: Any, doc_access: DocumentAccess, comment_id: Any, info: RequestInfo = SYSTEM
) -> Comment:
    """Leave a tombstone: the text goes (kept as a revision for the audit), the place stays."""
    doc_access, comment = _locked_comment(
        actor, doc_access, comment_id, "delete", "Only the author or a manager can delete it."
    )
    CommentRevision.objects.create(comment=comment, body=comment.body)
    comment.body = ""
    comment.deleted_at = timezone.now()
    comment.deleted_by = actor
    comment.save(update_fields=["body", "deleted_at", "deleted_by"])
    _audit(comment, action=Action.COMMENT_DELETED, actor=actor, info=info)
    return comment


@transaction.atomic
def comment_set_resolved(
    *,
    actor: Any,
    doc_access: DocumentAccess,
    comment_id: Any,
    resolved: bool,
    info: RequestInfo = SYSTEM,
) -> Comment:
    """Resolve a thread, or reopen it."""
    doc_access, comment = _locked_comment(
        actor,
        doc_access,
        comment_id,
        "resolve" if resolved else "reopen",
        "Only a thread can be resolved or reopened, by someone who may comment.",
    )
    comment.resolved_at = timezone.now() if resolved else None
    comment.resolved_by = actor if resolved else None
    comment.save(update_fields=["resolved_at", "resolved_by"])
    action = Action.COMMENT_RESOLVED if resolved else Action.COMMENT_REOPENED
    _audit(comment, action=action, actor=actor, info=info)
    return comment
