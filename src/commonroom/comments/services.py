"""Every write to comments: keyword-only, atomic, checked against the comment abilities under
the workspace lock (a person removed a moment ago cannot post), audited in the same transaction
(the audit row last: its chain's head is locked from there to the commit),
and published as a live event (``comment.created`` / ``comment.updated``) that screens hear of
only after the commit. Each change is also told to ``comments.hooks`` in the same transaction,
before the audit row: search and notifications follow comments there.

:func:`passages_follow` is no person's write: once a new version's preview is made (or could
not be), each thread anchored to a passage of an earlier version is looked for in it
(``comments.passages``) and gets a :class:`ThreadPassage` there, under the workspace's lock,
with one ``comment.passages`` live event. It is not audited: it follows from the upload, which
is, and the thread's own anchor never changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch
from django.utils import timezone

from commonroom.audit.actions import Action
from commonroom.audit.services import audit_record
from commonroom.comments import hooks
from commonroom.comments.models import Comment, CommentRevision, PassageState, ThreadPassage
from commonroom.comments.passages import Place, follow
from commonroom.comments.permissions import CommentAbility, comment_abilities
from commonroom.core.exceptions import ApplicationError, Conflict, NotFound
from commonroom.core.markup import Rendered, render, resolver_for
from commonroom.core.request_info import SYSTEM, RequestInfo
from commonroom.core.text import plain_text, posted_text
from commonroom.documents.selectors import DocumentAccess, latest_versions_with_file
from commonroom.documents.services import document_access_locked
from commonroom.live.events import CommentEvent, PassagesEvent
from commonroom.live.services import publish
from commonroom.previews.selectors import preview_outcome
from commonroom.workspaces.selectors import member_users, parse_uuid
from commonroom.workspaces.services import deny, workspace_lock

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.documents.models import Version
    from commonroom.previews.blocks import Block

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


def _already_sent(actor: User, doc_access: DocumentAccess, client_key: str) -> Comment | None:
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


def _publish(
    comment: Comment, *, kind: Literal["comment.created", "comment.updated"], actor: User
) -> None:
    doc = comment.document
    publish(
        workspace_id=doc.workspace_id,
        event=CommentEvent(
            kind=kind,
            document=doc.pk,
            thread=comment.thread_id or comment.pk,
            comment=comment.pk,
            version=comment.version.number,
            author_id=actor.pk,
            client_key=comment.client_key if kind == "comment.created" else "",
        ),
    )


def _audit(comment: Comment, *, action: str, actor: User, info: RequestInfo, **data: Any) -> None:
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
    actor: User,
    doc_access: DocumentAccess,
    comment_id: Any,
    ability: CommentAbility,
    message: str,
    conflicts: dict[CommentAbility, str] | None = None,
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
    actor: User,
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
    _publish(comment, kind="comment.created", actor=actor)
    hooks.changed(
        hooks.CommentAdded(actor=actor, comment=comment, mentioned=tuple(rendered.mentioned))
    )
    if comment.anchor_position is not None and number < doc.current_version_number:
        # On an older version: its passage is looked for in the latest at once (once that
        # version's preview is made; until then, when it is). After the hook, which tells
        # the apps that follow some threads themselves.
        _follow(doc.versions.get(number=doc.current_version_number), only=comment.pk)
    _audit(comment, action=Action.COMMENT_CREATED, actor=actor, info=info)  # last: see audit
    return comment


@transaction.atomic
def comment_reply(
    *,
    actor: User,
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
    _publish(reply, kind="comment.created", actor=actor)
    hooks.changed(
        hooks.CommentAdded(actor=actor, comment=reply, mentioned=tuple(rendered.mentioned))
    )
    _audit(reply, action=Action.COMMENT_CREATED, actor=actor, info=info, thread=str(root.pk))
    return reply


@transaction.atomic
def comment_edit(
    *,
    actor: User,
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
        hooks.changed(hooks.CommentEdited(actor=actor, comment=comment))
        _publish(comment, kind="comment.updated", actor=actor)
        _audit(comment, action=Action.COMMENT_EDITED, actor=actor, info=info)
    return comment


@transaction.atomic
def comment_delete(
    *, actor: User, doc_access: DocumentAccess, comment_id: Any, info: RequestInfo = SYSTEM
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
    hooks.changed(hooks.CommentDeleted(actor=actor, comment=comment))
    _publish(comment, kind="comment.updated", actor=actor)
    _audit(comment, action=Action.COMMENT_DELETED, actor=actor, info=info)
    return comment


@transaction.atomic
def comment_set_resolved(
    *,
    actor: User,
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
        RESOLVE_REFUSED,
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
    _publish(comment, kind="comment.updated", actor=actor)
    hooks.changed(hooks.CommentResolved(actor=actor, comment=comment, resolved=resolved))
    _audit(comment, action=action, actor=actor, info=info)
    return comment


RESOLVE_REFUSED = "Only a thread can be resolved or reopened, by someone who may comment."


@transaction.atomic
def threads_resolve(
    *,
    actor: User,
    doc_access: DocumentAccess,
    comment_ids: Sequence[Any],
    info: RequestInfo = SYSTEM,
) -> list[Comment]:
    """Resolve several threads of one document at once, each as :func:`comment_set_resolved`
    resolves one (told to open screens and followers, audited), under one lock of the document
    and its threads (what deciding several suggestions at once does). A thread already resolved
    is left as it is. Refused whole, nothing written, when one is not a thread of the document
    the actor may resolve. Returns those it resolved, oldest first."""
    doc_access = document_access_locked(actor, doc_access, "view", RESOLVE_REFUSED)
    wanted = {parse_uuid(i) for i in comment_ids}
    found = list(
        Comment.objects.select_for_update(of=("self",))
        .select_related("version", "document")
        .filter(pk__in=wanted, document=doc_access.document)
        .order_by("created_at", "pk")
    )
    if len(found) != len(wanted):
        raise NotFound()
    todo = [c for c in found if c.resolved_at is None]
    for comment in todo:
        if not comment_abilities(doc_access, comment, actor)["resolve"]:
            deny(doc_access.access, RESOLVE_REFUSED)
    if not todo:
        return []
    now = timezone.now()
    Comment.objects.filter(pk__in=[c.pk for c in todo]).update(resolved_at=now, resolved_by=actor)
    for comment in todo:
        comment.resolved_at, comment.resolved_by = now, actor
        _publish(comment, kind="comment.updated", actor=actor)
        hooks.changed(hooks.CommentResolved(actor=actor, comment=comment, resolved=True))
    for comment in todo:
        _audit(comment, action=Action.COMMENT_RESOLVED, actor=actor, info=info)
    return todo


# --- Passages followed to newer versions -----------------------------------------------------


def passages_follow(*, sha256: str, document_id: Any = None) -> int:
    """After the commit that made (or failed) the preview of the file ``sha256``, or that added
    a version whose file's preview was already made: in each document (``document_id``, or
    every one) whose latest version has that file, each thread anchored to a passage of an
    earlier version is looked for in that version (:func:`_follow`), in a transaction of the
    document's own, under its workspace's lock (as every writer there: an upload holding it
    may be waiting for the preview's row, held until that commit), and its open pages told.

    Safe to run again: a thread found, or whose passage changed, in a version is not looked
    for in it again (a preview made after it failed is looked in then). Returns how many
    threads got a new place or state."""
    versions = latest_versions_with_file(sha256)
    if document_id is not None:
        versions = versions.filter(document_id=document_id)
    done = 0
    for version in list(versions):
        with transaction.atomic():
            workspace_lock(workspace_id=version.document.workspace_id)
            # Read again under the lock: a newer version or the trash may have come meanwhile.
            fresh = latest_versions_with_file(sha256).filter(pk=version.pk).first()
            if fresh is None:
                continue
            written = _follow(fresh)
            if any(written.values()):
                listed, more = _listed(written)
                publish(
                    workspace_id=fresh.document.workspace_id,
                    event=PassagesEvent(
                        kind="comment.passages",
                        document=fresh.document_id,
                        number=fresh.number,
                        more=more,
                        **listed,
                    ),
                )
            done += sum(len(ids) for ids in written.values())
    return done


PASSAGES_LISTED = 200  # thread ids one comment.passages event names at most, in all


def _listed(written: dict[str, list[Any]]) -> tuple[dict[str, list[Any]], int]:
    """The ids an event names (at most :data:`PASSAGES_LISTED`, "found" first), and how many
    more there are: a long document's new version may move thousands of threads, and an event
    is not the place for them all."""
    room = PASSAGES_LISTED
    listed: dict[str, list[Any]] = {}
    for state, ids in written.items():
        listed[state] = ids[:room]
        room -= len(listed[state])
    return listed, sum(len(ids) for ids in written.values()) - sum(map(len, listed.values()))


_SHOWN_AS = {
    PassageState.FOUND: "found",
    PassageState.CHANGED: "changed",
    PassageState.NO_PREVIEW: "unchecked",
    PassageState.UNREADABLE: "unchecked",
}


def _follow(version: Version, *, only: Any = None) -> dict[str, list[Any]]:
    """Inside a transaction holding the workspace's lock: each thread of ``version``'s document
    (or only the thread ``only``) anchored to a passage of an earlier version, still followed
    (its passage never changed) and not yet found in ``version`` or a later one, looked for in
    ``version``'s preview from its last known place. Threads another app follows itself
    (``hooks.threads_followed_elsewhere``: suggestions) are left alone; so is everything
    while the preview is being made. Returns the ids of the threads written, by what the
    thread now says: "found", "changed" or "unchecked"."""
    rows = ThreadPassage.objects.filter(thread=OuterRef("pk"))
    threads = (
        Comment.objects.filter(
            document_id=version.document_id,
            thread__isnull=True,
            anchor_position__isnull=False,
            version__number__lt=version.number,
        )
        .exclude(Exists(rows.filter(state=PassageState.CHANGED)))
        .exclude(Exists(rows.filter(version__number__gt=version.number)))
        .exclude(Exists(rows.filter(version_id=version.pk, state=PassageState.FOUND)))
        .select_related("version")
        .prefetch_related(
            Prefetch(
                "passages",
                queryset=ThreadPassage.objects.select_related("version").order_by(
                    "version__number"
                ),
                to_attr="thread_passages",
            )
        )
        .order_by("created_at", "pk")
    )
    if only is not None:
        threads = threads.filter(pk=only)
    found = list(threads)
    if not found:
        return {}  # the preview is not read for nothing
    made, blocks = preview_outcome(version.blob_id, workspace_id=version.document.workspace_id)
    if not made:
        return {}
    elsewhere = hooks.threads_followed_elsewhere([t.pk for t in found])
    earlier: dict[str, list[Block] | None] = {}
    written: dict[str, list[Any]] = {"found": [], "changed": [], "unchecked": []}
    new_rows: list[ThreadPassage] = []
    for thread in found:
        if thread.pk in elsewhere:
            continue
        state, place = _look(thread, version, blocks, earlier)
        row = next((r for r in _passages_of(thread) if r.version_id == version.pk), None)
        fields = {
            "state": state,
            "block": place.block if place else "",
            "start": place.start if place else None,
            "end": place.end if place else None,
        }
        if row is None:
            new_rows.append(ThreadPassage(thread=thread, version=version, **fields))
        elif any(getattr(row, name) != value for name, value in fields.items()):
            ThreadPassage.objects.filter(pk=row.pk).update(checked_at=timezone.now(), **fields)
        else:
            continue
        written[_SHOWN_AS[state]].append(thread.pk)
    ThreadPassage.objects.bulk_create(new_rows)
    return written


def _passages_of(thread: Comment) -> list[ThreadPassage]:
    """The thread's passages read with it (``thread_passages``), oldest version first."""
    found: list[ThreadPassage] = getattr(thread, "thread_passages", [])
    return found


def _look(
    thread: Comment,
    version: Version,
    blocks: list[Block] | None,
    earlier: dict[str, list[Block] | None],
) -> tuple[PassageState, Place | None]:
    """Where ``thread``'s passage is in ``version``, whose preview's blocks are ``blocks``
    (``None``: it has no preview), from the last place it was known at: the latest earlier
    version it was found in, else where it was written (``earlier`` keeps the blocks of the
    previews read, by file)."""
    if blocks is None:
        return PassageState.NO_PREVIEW, None
    position = thread.anchor_position or {}
    source = thread.version
    try:
        place = Place(str(position["block"]), int(position["start"]), int(position["end"]))
    except (KeyError, TypeError, ValueError):
        return PassageState.UNREADABLE, None
    for row in _passages_of(thread):  # oldest version first
        if row.state == PassageState.FOUND and row.version.number < version.number:
            source = row.version
            place = Place(row.block, row.start or 0, row.end or 0)
    if source.blob_id not in earlier:
        workspace_id = version.document.workspace_id  # the source is the same document's
        earlier[source.blob_id] = preview_outcome(source.blob_id, workspace_id=workspace_id)[1]
    before = earlier[source.blob_id]
    if before is None:
        return PassageState.UNREADABLE, None
    outcome, where = follow(place, thread.anchor_quote, before, blocks)
    if outcome == "found":
        return PassageState.FOUND, where
    if outcome == "changed":
        return PassageState.CHANGED, None
    return PassageState.UNREADABLE, None
