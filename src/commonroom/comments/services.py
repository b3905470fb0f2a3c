"""Every write to comments: keyword-only, atomic, checked against the comment abilities under
the workspace lock (a person removed a moment ago cannot post), audited in the same transaction,
and published as a live event (``comment.created`` / ``comment.updated``) that screens hear of
only after the commit.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from commonroom.audit.models import Action
from commonroom.audit.services import audit_record
from commonroom.comments.models import Comment, CommentRevision
from commonroom.comments.permissions import comment_abilities
from commonroom.core.exceptions import ApplicationError, Conflict, NotFound
from commonroom.core.markup import Rendered, render, resolver_for
from commonroom.core.request_info import SYSTEM, RequestInfo
from commonroom.core.text import plain_text, posted_text
from commonroom.documents.selectors import DocumentAccess
from commonroom.documents.services import document_access_locked
from commonroom.live.services import publish
from commonroom.notifications import services as notifications
from commonroom.search import services as search_index
from commonroom.workspaces.selectors import member_users, parse_uuid
from commonroom.workspaces.services import deny

MAX_BODY = 10_000
MAX_OFFSET = 1_000_000  # a passage's start/end within its block, in characters
_BLOCK_ID = re.compile(r"p-[0-9]{1,6}")


def _clean_body(body: str) -> str:
    return posted_text(body, noun="comment", max_length=MAX_BODY)


def _render(text: str, doc_access: DocumentAccess) -> Rendered:
    """Sanitised HTML of ``text``; every @mention must name a member of the workspace."""
    return render(text, resolve=resolver_for(member_users(doc_access.access.workspace)))


def _clean_client_key(client_key: str) -> str:
    key = (client_key or "").strip()
    if len(key) > 64 or not all(c.isalnum() or c in "-_" for c in key):
        raise ApplicationError("The client key is not valid.", code="invalid_client_key")
    return key


def _already_sent(actor: Any, doc_access: DocumentAccess, client_key: str) -> Comment | None:
    """The comment this author already sent with ``client_key``, if any (a resend)."""
    if not client_key:
        return None
    sent = (
        Comment.objects.select_related("version", "document")
        .filter(author=actor, client_key=client_key)
        .first()
    )
    if sent is not None and sent.document_id != doc_access.document.pk:
        raise Conflict("That client key was already used for another comment.", code="key_used")
    return sent


def clean_anchor_position(value: Any) -> dict[str, Any] | None:
    """``{"block": "p-<n>", "start": int, "end": int}`` (a passage of a preview block), or None
    for anything else: a wrong anchor is dropped, never an error (the comment still posts).
    ``value`` may be the dict or its JSON text (as a form sends it)."""
    if isinstance(value, str):
        if not value.strip() or len(value) > 200:
            return None
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, dict) or set(value) != {"block", "start", "end"}:
        return None
    block, start, end = value["block"], value["start"], value["end"]
    if not isinstance(block, str) or not _BLOCK_ID.fullmatch(block):
        return None
    for n in (start, end):
        if type(n) is not int or not 0 <= n <= MAX_OFFSET:
            return None
    if start > end:
        return None
    return {"block": block, "start": start, "end": end}


def _write(comment: Comment, rendered: Rendered) -> None:
    comment.body_html = rendered.html
    comment.mentioned.set(rendered.mentioned)


def thread_fragment_url(comment: Comment) -> str:
    """Where a screen GETs the comment's whole thread as its viewer sees it."""
    root_id = comment.thread_id or comment.pk
    doc = comment.document
    return reverse("comment_thread", args=[doc.workspace_id, doc.pk, root_id])


def _publish(comment: Comment, *, kind: str, actor: Any) -> None:
    doc = comment.document
    root_id = comment.thread_id or comment.pk
    publish(
        workspace_id=doc.workspace_id,
        kind=kind,
        data={
            "list": f"document:{doc.pk}",
            "target": f"thread-{root_id}",
            "fragment": thread_fragment_url(comment),
            "document": str(doc.pk),
            "thread": str(root_id),
            "comment": str(comment.pk),
            "version": comment.version.number,
            "author_id": actor.pk,
            "client_key": comment.client_key if kind == "comment.created" else "",
        },
    )


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
    actor: Any,
    doc_access: DocumentAccess,
    comment_id: Any,
    ability: str,
    message: str,
    conflicts: dict[str, str] | None = None,
) -> tuple[DocumentAccess, Comment]:
    """The comment, locked, once ``actor`` may do ``ability`` to it. ``conflicts`` maps another
    ability to the message of a 409: when the actor could do *that* instead, the thing is
    already done (resolving a resolved thread), which is a conflict, not a refusal."""
    doc_access = document_access_locked(actor, doc_access, "view", message)
    comment = (
        Comment.objects.select_for_update(of=("self",))
        .select_related("version", "document")
        .filter(pk=parse_uuid(comment_id), document=doc_access.document)
        .first()
    )
    if comment is None:
        raise NotFound()
    can = comment_abilities(doc_access, comment, actor)
    if not can[ability]:
        for other, conflict in (conflicts or {}).items():
            if can[other]:
                raise Conflict(conflict, code="already_done")
        if comment.is_deleted and ability in ("edit", "delete"):
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
    anchor_position: Any = None,
    client_key: str = "",
    info: RequestInfo = SYSTEM,
) -> Comment:
    """Start a thread on a version of the document (its latest unless one is named), anchored
    to a passage of its preview when ``anchor_position`` is valid (see
    :func:`clean_anchor_position`). Sent again with the same ``client_key``, it returns the
    first comment (``is_new`` False)."""
    doc_access = document_access_locked(
        actor, doc_access, "comment", "You can read this document but not comment on it."
    )
    key = _clean_client_key(client_key)
    sent = _already_sent(actor, doc_access, key)
    if sent is not None:
        return sent
    doc = doc_access.document
    number = doc.current_version_number if version_number is None else version_number
    version = doc.versions.filter(number=number).first()
    if version is None:
        raise NotFound(f"Version {number} does not exist.")
    text = _clean_body(body)
    rendered = _render(text, doc_access)
    comment = Comment.objects.create(
        document=doc,
        version=version,
        author=actor,
        body=text,
        body_html=rendered.html,
        client_key=key,
        anchor_quote=plain_text(anchor_quote)[:500],
        anchor_position=clean_anchor_position(anchor_position),
    )
    comment.mentioned.set(rendered.mentioned)
    comment.is_new = True
    _audit(comment, action=Action.COMMENT_CREATED, actor=actor, info=info)
    _publish(comment, kind="comment.created", actor=actor)
    search_index.index_comment(comment)
    notifications.comment_posted(comment=comment, mentioned=rendered.mentioned)
    return comment


@transaction.atomic
def comment_reply(
    *,
    actor: Any,
    doc_access: DocumentAccess,
    comment_id: Any,
    body: str,
    client_key: str = "",
    info: RequestInfo = SYSTEM,
) -> Comment:
    """Reply in a thread (to its first comment, or to any reply in it: threads are flat). Sent
    again with the same ``client_key``, it returns the first reply (``is_new`` False)."""
    key = _clean_client_key(client_key)
    doc_access, parent = _locked_comment(
        actor, doc_access, comment_id, "reply", "You cannot reply here."
    )
    sent = _already_sent(actor, doc_access, key)
    if sent is not None:
        return sent
    root = parent.thread or parent
    text = _clean_body(body)
    rendered = _render(text, doc_access)
    reply = Comment.objects.create(
        document=doc_access.document,
        version=doc_access.document.versions.get(number=doc_access.document.current_version_number),
        thread=root,
        author=actor,
        body=text,
        body_html=rendered.html,
        client_key=key,
    )
    reply.mentioned.set(rendered.mentioned)
    reply.is_new = True
    _audit(reply, action=Action.COMMENT_CREATED, actor=actor, info=info, thread=str(root.pk))
    _publish(reply, kind="comment.created", actor=actor)
    search_index.index_comment(reply)
    notifications.comment_posted(comment=reply, mentioned=rendered.mentioned)
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
        rendered = _render(text, doc_access)
        CommentRevision.objects.create(comment=comment, body=comment.body)
        comment.body = text
        comment.edited_at = timezone.now()
        _write(comment, rendered)
        comment.save(update_fields=["body", "body_html", "edited_at"])
        search_index.index_comment(comment)
        notifications.comment_edited(comment=comment)
        _audit(comment, action=Action.COMMENT_EDITED, actor=actor, info=info)
        _publish(comment, kind="comment.updated", actor=actor)
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
    _write(comment, Rendered(html=""))
    comment.save(update_fields=["body", "body_html", "deleted_at", "deleted_by"])
    search_index.remove_for("comment", comment.pk)
    notifications.comment_deleted(comment=comment)
    _audit(comment, action=Action.COMMENT_DELETED, actor=actor, info=info)
    _publish(comment, kind="comment.updated", actor=actor)
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
        conflicts=(
            {"reopen": "This thread is already resolved."}
            if resolved
            else {"resolve": "This thread is already open: only a resolved one is reopened."}
        ),
    )
    comment.resolved_at = timezone.now() if resolved else None
    comment.resolved_by = actor if resolved else None
    comment.save(update_fields=["resolved_at", "resolved_by"])
    action = Action.COMMENT_RESOLVED if resolved else Action.COMMENT_REOPENED
    _audit(comment, action=action, actor=actor, info=info)
    _publish(comment, kind="comment.updated", actor=actor)
    return comment
