"""Every write to suggestions: keyword-only, atomic, checked under the workspace and document
locks (``documents.services.document_access_locked``), audited as the transaction's last writes.

- :func:`suggestion_create`: a comment thread (through ``comments.services.comment_create``, so
  replies, mentions, resolving, live events and notifications are a comment's) carrying a
  change to a passage of one version's preview. Everything that can be refused is refused
  before anything is written: the passage must be in that version's preview and be found in
  its file, and the change must apply to it (``passages.locate`` makes it on a copy).
- :func:`suggestions_accept`: one new version with the chosen suggestions applied to the latest
  version's file, added through ``documents.services.version_upload`` (the upload path: blob,
  version, audit, the document hook and all who follow it). The document's row is locked first
  and the suggestions read under that lock, so two accepts at once queue: the second builds on
  the version the first made, its suggestions moved there by the first's version (or outdated
  by it, and then refused).
- :func:`suggestion_reject`: the suggestion closed with a reason.

An accepted or rejected suggestion's thread is resolved by whoever decided it, through
``comments.services.threads_resolve`` (audited and live as any resolve; it can be reopened
to go on talking); the Comments list shows its change and state (``receivers.thread_parts``).
- :func:`tracked_changes_accept`: a Word version's own tracked changes (made in Word) all
  accepted, in a confined child (``tracked``), as one new version through ``version_upload``,
  based on that version.
- :func:`suggestions_follow_version` (from ``receivers``, inside the transaction that adds a
  version): each open suggestion moves to the new version when the new file still has its
  paragraph (same text, same occurrence), else it is outdated there. The file is read, not the
  preview: the new version's preview is made later, by a worker, and may fail.
- :func:`stale_copy_carry`: a stale copy's changes (the latest version, made from an older
  one) carried onto the version before it as suggestions: that version restored, each change
  the copy made to its base (``carry``) a suggestion on it, the ones the versions between also
  changed listed in a comment (decision 18).

What must always hold: a suggestion is applied only to the paragraph it was made on (the same
text, found again in each newer file); an open suggestion applies to the latest version; an
accepted one names the version its accept made.

Audit rows come last, after every other write of the transaction. So the suggestion's row is
written inside the comment's service, when it tells ``comments.hooks`` of the new thread
(:func:`suggestion_thread_started`, from ``receivers``), before that service's audit row; an
accept's suggestions are named on the version it makes inside the document hook, before the
version's audit row; the suggestions' own audit rows follow.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Q, QuerySet, UUIDField
from django.utils import timezone

from commonroom.audit.actions import Action
from commonroom.audit.services import audit_record, audit_rows_last
from commonroom.comments.services import comment_create, threads_resolve
from commonroom.core.exceptions import ApplicationError, Conflict, NotFound
from commonroom.core.prepared import Prepared
from commonroom.core.request_info import SYSTEM, RequestInfo
from commonroom.core.text import stated_text
from commonroom.documents.selectors import DocumentAccess, document_access, version_get
from commonroom.documents.services import (
    document_access_locked,
    download_require,
    version_restore,
    version_upload,
)
from commonroom.documents.stamping import PROPERTY, Stamp
from commonroom.live.events import SuggestionEvent, SuggestionEventKind
from commonroom.live.services import publish
from commonroom.office import properties, wordedit
from commonroom.previews.blocks import code_points, utf16_length
from commonroom.previews.selectors import preview_blocks
from commonroom.suggestions import carry, hooks, passages, revisions
from commonroom.suggestions.hooks import SuggestionMade
from commonroom.suggestions.models import Kind, State, Suggestion
from commonroom.suggestions.passages import Edit, PassageError, Place, quoted, usable_text
from commonroom.suggestions.permissions import (
    CANNOT_DECIDE,
    CANNOT_SUGGEST,
    UNSUPPORTED,
    NotWord,
    require_decide,
    require_suggest,
    version_format,
)
from commonroom.suggestions.tracked import TrackedFile, tracked_file
from commonroom.workspaces.selectors import parse_uuid
from commonroom.workspaces.services import deny

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.comments.models import Comment
    from commonroom.documents.models import Document, Version

MAX_TEXT = wordedit.MAX_TEXT  # characters of new text in one suggestion
MAX_REASON = 10_000  # a comment's length: the reason is the thread's first comment
MAX_DECISION_REASON = 2_000
MAX_AT_ONCE = 200  # suggestions accepted in one new version
MAX_QUOTE = 500  # what the page sends of the passage (anchors.js)
NOTE_LENGTH = 500  # a version's note

_BLOCK_ID = re.compile(r"^p-[0-9]{1,6}$")
# What the thread's first comment says when the suggestion gives no reason.
DESCRIBED = {
    Kind.REPLACE: "Suggests replacing this passage.",
    Kind.DELETE: "Suggests deleting this passage.",
    Kind.INSERT_BEFORE: "Suggests adding text before this passage.",
    Kind.INSERT_AFTER: "Suggests adding text after this passage.",
    Kind.NEW_PARAGRAPH: "Suggests a new paragraph after this one.",
}
# How a version's note names each accepted change.
NOTED = {
    Kind.REPLACE: "replace",
    Kind.DELETE: "delete",
    Kind.INSERT_BEFORE: "add before",
    Kind.INSERT_AFTER: "add after",
    Kind.NEW_PARAGRAPH: "new paragraph after",
}


def _not_in_version(number: int) -> ApplicationError:
    return ApplicationError(
        f"That passage is not in version {number} as its preview shows it: choose it again.",
        code="passage_not_found",
    )


def _clean_kind(kind: Any) -> Kind:
    try:
        return Kind(kind)
    except ValueError:
        raise ApplicationError(
            "Choose what the suggestion does: replace the passage, delete it, add text before "
            "or after it, or add a new paragraph after it.",
            code="invalid_kind",
        ) from None


def _clean_new_text(kind: Kind, text: Any) -> str:
    """The new text as typed (a form's line ends as ``"\\n"``); refused when empty (except for
    a deletion, which takes none), too long, or holding control characters."""
    if kind == Kind.DELETE:
        return ""
    if not isinstance(text, str):
        text = ""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n"))
    if not text.strip():
        if kind == Kind.REPLACE:
            raise ApplicationError(
                "Write what the passage should say, or suggest deleting it instead.",
                code="empty_text",
            )
        raise ApplicationError("Write the text to add.", code="empty_text")
    if len(text) > MAX_TEXT:
        raise ApplicationError(
            f"The suggested text is longer than {MAX_TEXT:,} characters: make it as several "
            "suggestions.",
            code="text_too_long",
        )
    for character in text:
        if character in "\t\n":
            continue
        if unicodedata.category(character) in ("Cc", "Cs") or character in "\ufffe\uffff":
            raise ApplicationError(
                "The suggested text contains a control character; only tabs and new lines are "
                "allowed.",
                code="control_characters",
            )
    return text


def _clean_reason(reason: Any, *, limit: int) -> str:
    return stated_text(reason, what="reason", limit=limit)


def _offset(value: Any) -> int:
    if type(value) is not int or not 0 <= value <= 10_000_000:
        raise ApplicationError("The passage's place is not valid.", code="invalid_position")
    return value


def _file(version: Version) -> bytes:
    """The version's bytes, when its kind of file can be changed and it is not too large to."""
    passages.check_size(version_format(version) or "", version.size)
    with default_storage.open(version.blob.storage_name, "rb") as handle:
        data: bytes = handle.read()
    return data


def _place(suggestion: Suggestion) -> Place:
    return Place(
        suggestion.paragraph,
        suggestion.occurrence,
        suggestion.paragraph_start,
        suggestion.paragraph_end,
    )


def _audit(
    suggestion: Suggestion, document: Document, *, action: str, actor: User, info: RequestInfo,
    **data: Any,
) -> None:  # fmt: skip
    audit_record(
        action=action,
        actor=actor,
        info=info,
        workspace_id=document.workspace_id,
        document_id=document.pk,
        target_type="suggestion",
        target_id=str(suggestion.pk),
        target_label=document.name,
        data={"suggestion": str(suggestion.pk), "thread": str(suggestion.comment_id), **data},
    )


# --- Suggesting -------------------------------------------------------------------------------


def suggestion_create(
    *,
    actor: User,
    doc_access: DocumentAccess,
    version_number: Any,
    block_id: Any,
    start: Any,
    end: Any,
    kind: Any,
    text: Any = "",
    reason: Any = "",
    quote: Any = None,
    client_key: str = "",
    info: RequestInfo = SYSTEM,
) -> Suggestion:
    """Suggest a change to a passage of version ``version_number``'s preview: the block
    ``block_id`` (``p-<n>``) and ``[start, end)`` in its text as a browser counts it (UTF-16
    code units of its ``textContent``: what the page's selection gives; the whole block when
    ``start`` is 0 and ``end`` its length). ``quote`` (optional) is the passage as the page
    showed it, whitespace collapsed, checked against it. ``reason`` is the thread's first
    comment (a sentence saying what is suggested when there is none). Made on an older version,
    it moves to the latest at once when the latest still has its paragraph, else it is outdated.
    Sent again with the same ``client_key``, it returns the suggestion first made."""
    require_suggest(doc_access)
    kind = _clean_kind(kind)
    version = version_get(doc_access=doc_access, number=version_number)
    fmt = version_format(version)
    if fmt is None:
        raise ApplicationError(UNSUPPORTED, code="unsupported")
    new_text = _clean_new_text(kind, text)
    why = _clean_reason(reason, limit=MAX_REASON)
    blocks = preview_blocks(doc_access=doc_access, version=version)
    if blocks is None:
        raise Conflict(
            f"The preview of version {version.number} is not ready: a suggestion is made on it.",
            code="preview_not_ready",
        )
    block = next((b for b in blocks if b.id == block_id), None)
    if not isinstance(block_id, str) or not _BLOCK_ID.match(block_id) or block is None:
        raise _not_in_version(version.number)
    first, last = _offset(start), _offset(end)
    shown = usable_text(block)
    whole = first == 0 and last == utf16_length(block.text)
    if whole:
        a, b = 0, len(shown)  # the whole block, chosen by keyboard: its own text
    else:
        found_a, found_b = code_points(shown, first), code_points(shown, last)
        if found_a is None or found_b is None:
            raise ApplicationError(
                "The passage reaches beyond its paragraph: a suggestion changes one paragraph "
                "at a time.",
                code="passage_too_long",
            )
        a, b = found_a, found_b
    if a >= b or not shown[a:b].strip():
        raise ApplicationError("Choose a passage with words in it.", code="empty_passage")
    passage = shown[a:b]
    if quote is not None:
        asked = " ".join(str(quote).split())[:MAX_QUOTE]
        if asked != " ".join((block.text if whole else passage).split())[:MAX_QUOTE]:
            raise _not_in_version(version.number)
    if kind == Kind.REPLACE and new_text == passage:
        raise ApplicationError(
            "The new text is the same as the passage: nothing would change.", code="unchanged"
        )
    place = passages.locate(fmt, _file(version), blocks, block, a, b, kind=kind, text=new_text)
    with transaction.atomic():
        doc_access = document_access_locked(actor, doc_access, "comment", CANNOT_SUGGEST)
        document = doc_access.document
        suggestion = Suggestion(
            document=document,
            version=version,
            applies_to=version,
            author=actor,
            kind=kind,
            block_id=block.id,
            block_text=shown,
            start=a,
            end=b,
            quote=passage,
            paragraph=place.paragraph,
            occurrence=place.occurrence,
            paragraph_start=place.start,
            paragraph_end=place.end,
            new_text=new_text,
            reason=why,
        )
        if version.number < document.current_version_number:
            latest = version_get(doc_access=doc_access, number=document.current_version_number)
            if _stays(suggestion, latest, _paragraphs_of(latest)):
                suggestion.applies_to = latest
            else:
                suggestion.state, suggestion.outdated_in = State.OUTDATED, latest
        # Written by suggestion_thread_started, when the comment's service tells its hook.
        pending = _starting.set(suggestion)
        try:
            comment = comment_create(
                actor=actor,
                doc_access=doc_access,
                body=why or DESCRIBED[kind],
                version_number=version.number,
                anchor_quote=passage,
                anchor_position={"block": block.id, "start": first, "end": last},
                client_key=client_key,
                info=info,
            )
        finally:
            _starting.reset(pending)
        if not comment.is_new:
            sent = Suggestion.objects.filter(comment=comment).first()
            if sent is None:
                raise Conflict("That client key was already used for a comment.", code="key_used")
            return sent
        if suggestion.comment_id != comment.pk:
            raise RuntimeError("the comments hook did not tell suggestions of the new thread")
        _audit(
            suggestion,
            document,
            action=Action.SUGGESTION_CREATED,
            actor=actor,
            info=info,
            version=version.number,
            kind=str(kind),
        )
        if suggestion.state == State.OUTDATED:
            _audit_outdated(suggestion, document, actor=actor, info=info)
    return suggestion


# The suggestion whose thread the comment being written starts (set around comment_create).
_starting: ContextVar[Suggestion | None] = ContextVar("suggestion_starting", default=None)


def suggestion_thread_started(comment: Comment) -> None:
    """Inside ``comments.services.comment_create`` (its hook), before its audit row: when the
    comment starts the thread of the suggestion being made, the suggestion is written, with
    it."""
    suggestion = _starting.get()
    if suggestion is None or comment.thread_id is not None:
        return
    if comment.document_id != suggestion.document_id or comment.author_id != suggestion.author_id:
        return
    _starting.set(None)
    suggestion.comment = comment
    suggestion.save(force_insert=True)
    hooks.changed(
        SuggestionMade(
            actor=suggestion.author,
            comment=comment,
            quote=suggestion.quote,
            new_text=suggestion.new_text,
        )
    )


# --- Newer versions ---------------------------------------------------------------------------


def _paragraphs_of(version: Version) -> list[str] | None:
    """The paragraphs of ``version``'s file as suggestions name them; None when it is not a
    kind of file suggestions change, or cannot be read as its kind."""
    fmt = version_format(version)
    if fmt is None:
        return None
    try:
        return passages.paragraphs(fmt, _file(version))
    except ApplicationError:  # not readable as its kind of file: nothing can be found in it
        return None


def _stays(suggestion: Suggestion, version: Version, found: list[str] | None) -> bool:
    """Whether ``version``'s file (its paragraphs ``found``) still has the suggestion's
    paragraph: the same text at the same occurrence, in the same kind of file."""
    return (
        found is not None
        and version_format(suggestion.version) == version_format(version)
        and passages.still_in(_place(suggestion), found)
    )


def _follow(open_ones: Sequence[Suggestion], version: Version) -> list[Suggestion]:
    """Each of ``open_ones`` moved to ``version`` when it still has the suggestion's paragraph
    (:func:`_stays`), else outdated there. Returns those outdated."""
    found = _paragraphs_of(version)
    moved = [s.pk for s in open_ones if _stays(s, version, found)]
    outdated = [s for s in open_ones if s.pk not in moved]
    if moved:
        Suggestion.objects.filter(pk__in=moved).update(applies_to=version)
    if outdated:
        Suggestion.objects.filter(pk__in=[s.pk for s in outdated]).update(
            state=State.OUTDATED, outdated_in=version
        )
        for suggestion in outdated:
            suggestion.state, suggestion.outdated_in = State.OUTDATED, version
    return outdated


def _audit_outdated(
    suggestion: Suggestion, document: Document, *, actor: User, info: RequestInfo
) -> None:
    version = suggestion.outdated_in
    _audit(
        suggestion,
        document,
        action=Action.SUGGESTION_OUTDATED,
        actor=actor,
        info=info,
        version=version.number if version is not None else None,
        made_on=suggestion.version.number,
    )


def _to_follow(*, document_id: uuid.UUID) -> QuerySet[Suggestion, Any]:
    """The ids of the document's suggestions a new version moves: those accepted into the
    file and not yet in a version, and the open ones."""
    return (
        Suggestion.objects.filter(
            Q(state=State.ACCEPTED, accepted_in__isnull=True) | Q(state=State.OPEN),
            document_id=document_id,
        )
        .order_by("pk")
        .values_list("pk")
    )


# Asked on every new version: :func:`_to_follow`, its SQL built once per process.
_TO_FOLLOW = Prepared("suggestions.to_follow", _to_follow, document_id=UUIDField())


def suggestions_follow_version(*, actor: User, document: Document, version: Version) -> None:
    """Inside the transaction that added ``version`` (the document hook): the suggestions an
    accept in this transaction made it from name it; each open suggestion moves to it or is
    outdated by it (audited, as ``actor``'s version's consequence). Open screens are told of
    those accepted and outdated before the audit rows, which stay the transaction's last."""
    # Both kinds in one read, oldest first: those accepted into the file and not yet in a
    # version, and the open ones. Whether there are any is asked first, as ids: on most
    # versions there are none, and that narrow read costs the ORM far less than the rows'.
    ids = [pk for (pk,) in _TO_FOLLOW.tuples(document_id=document.pk)]
    if not ids:
        return
    followed = list(
        Suggestion.objects.filter(pk__in=ids).select_related("version").order_by("created_at", "pk")
    )
    accepted = [s for s in followed if s.state == State.ACCEPTED]
    if accepted:
        Suggestion.objects.filter(pk__in=[s.pk for s in accepted]).update(accepted_in=version)
    for suggestion in accepted:
        suggestion.document = document
        suggestion_published(
            suggestion, "suggestion.accepted", version=version.number, actor_id=actor.pk
        )
    open_ones = [s for s in followed if s.state == State.OPEN]
    if not open_ones:
        return
    outdated = _follow(open_ones, version)
    for suggestion in outdated:
        suggestion.document = document
        suggestion_published(
            suggestion, "suggestion.outdated", version=version.number, actor_id=actor.pk
        )
    for suggestion in outdated:
        _audit_outdated(suggestion, document, actor=actor, info=SYSTEM)


# --- Deciding ---------------------------------------------------------------------------------


def _refuse_unless_open(suggestion: Suggestion) -> None:
    if suggestion.state == State.OUTDATED:
        number = suggestion.outdated_in.number if suggestion.outdated_in is not None else "?"
        raise Conflict(
            f"The suggestion on {quoted(suggestion.quote)} is outdated — the text it changes was "
            f"amended in version {number}: it can no longer be accepted.",
            code="outdated",
        )
    if suggestion.state == State.ACCEPTED:
        raise Conflict(
            f"The suggestion on {quoted(suggestion.quote)} was already accepted.",
            code="already_done",
        )
    if suggestion.state == State.REJECTED:
        raise Conflict(
            f"The suggestion on {quoted(suggestion.quote)} was already rejected.",
            code="already_done",
        )
    if suggestion.comment.is_deleted:
        raise Conflict(
            f"The suggestion on {quoted(suggestion.quote)} was withdrawn: its comment was deleted.",
            code="withdrawn",
        )


def _locked_suggestions(doc_access: DocumentAccess, ids: Sequence[Any]) -> list[Suggestion]:
    """The suggestions ``ids`` of the document, read under its lock (every caller holds it),
    oldest first; any that is not there is 404."""
    wanted = {parse_uuid(i) for i in ids}
    found = list(
        Suggestion.objects.filter(document=doc_access.document, pk__in=wanted)
        .select_related("comment", "author", "version", "applies_to", "outdated_in")
        .order_by("created_at", "pk")
    )
    if len(found) != len(wanted):
        raise NotFound()
    return found


def suggestion_published(
    suggestion: Suggestion, kind: SuggestionEventKind, *, version: int, actor_id: int
) -> None:
    """Tell the workspace's open screens (``live``) about ``suggestion``, inside the caller's
    transaction and before its audit rows (which stay the transaction's last writes)."""
    publish(
        workspace_id=suggestion.document.workspace_id,
        event=SuggestionEvent(
            kind=kind,
            document=suggestion.document_id,
            suggestion=suggestion.pk,
            thread=suggestion.comment_id,
            version=version,
            actor_id=actor_id,
        ),
    )


def _threads_resolved(
    suggestions: Sequence[Suggestion], *, actor: User, doc_access: DocumentAccess, info: RequestInfo
) -> None:
    """The decided suggestions' threads resolved by ``actor``, through comments' own service
    (audited, told to open screens and followers as any resolve; anyone who may comment can
    reopen one to go on talking), all under one lock. A thread someone already resolved is
    left as it is. Inside the decision's transaction and its ``audit_rows_last`` block."""
    threads_resolve(
        actor=actor,
        doc_access=doc_access,
        comment_ids=[s.comment_id for s in suggestions],
        info=info,
    )


def suggestion_reject(
    *,
    actor: User,
    doc_access: DocumentAccess,
    suggestion_id: Any,
    reason: Any = "",
    info: RequestInfo = SYSTEM,
) -> Suggestion:
    """Reject a suggestion, with a reason if given (shown with it, and on its thread): its
    thread is resolved, and stays to be read or reopened."""
    require_decide(doc_access)
    why = _clean_reason(reason, limit=MAX_DECISION_REASON)
    # The thread's resolve writes its own audit row: held back, both stay the last writes.
    with transaction.atomic(), audit_rows_last():
        doc_access = document_access_locked(actor, doc_access, "upload_version", CANNOT_DECIDE)
        (suggestion,) = _locked_suggestions(doc_access, [suggestion_id])
        _refuse_unless_open(suggestion)
        suggestion.state = State.REJECTED
        suggestion.decided_by = actor
        suggestion.decided_at = timezone.now()
        suggestion.decision_reason = why
        suggestion.save(update_fields=["state", "decided_by", "decided_at", "decision_reason"])
        suggestion_published(
            suggestion,
            "suggestion.rejected",
            version=suggestion.applies_to.number,
            actor_id=actor.pk,
        )
        _audit(
            suggestion,
            doc_access.document,
            action=Action.SUGGESTION_REJECTED,
            actor=actor,
            info=info,
            version=suggestion.applies_to.number,
            reason=why,
        )
        _threads_resolved([suggestion], actor=actor, doc_access=doc_access, info=info)
    return suggestion


def version_note(suggestions: Sequence[Suggestion]) -> str:
    """The new version's note: what was accepted and whose it was, within a note's length
    (quotes shortened, then left out, then the last ones counted)."""
    head = (
        "Accepted suggestion: "
        if len(suggestions) == 1
        else f"Accepted {len(suggestions)} suggestions: "
    )
    for width in (60, 30, 15, 0):
        parts = []
        for s in suggestions:
            quote = ""
            if width:
                short = " ".join(s.quote.split())
                short = short if len(short) <= width else short[: width - 1] + "…"
                quote = f" “{short}”"
            parts.append(f"{s.author.display_name}: {NOTED[Kind(s.kind)]}{quote}")
        note = head + "; ".join(parts) + "."
        if len(note) <= NOTE_LENGTH:
            return note
    names = [s.author.display_name for s in suggestions]
    for shown in range(len(names), 0, -1):
        note = head + "by " + ", ".join(names[:shown]) + f" and {len(names) - shown} more."
        if len(note) <= NOTE_LENGTH:
            return note
    return head.rstrip(": ") + "."


def _restamped(data: bytes, base: Version) -> tuple[bytes, Stamp | None]:
    """A Word file whose version stamp (``documents.stamping``) names the version it came from
    before this change says ``base`` instead: the stamp names where a file was amended from,
    and this file was amended from ``base``. A file without a stamp is left as it is. With the
    stamp the file now carries (the upload need not read it back)."""
    if properties.read_property(data, PROPERTY) is None:
        return data, None
    stamp = Stamp.of(base)
    return properties.with_property(data, PROPERTY, stamp.value), stamp


def suggestions_accept(
    *,
    actor: User,
    doc_access: DocumentAccess,
    suggestion_ids: Sequence[Any],
    info: RequestInfo = SYSTEM,
) -> Version:
    """Accept one suggestion or several at once: ONE new version, the latest version's file
    with each change made, added as an upload based on the latest (``version_upload``), with a
    note listing what was accepted and whose it was. Refused whole, with a sentence, when any
    of them is not open (outdated, decided, withdrawn) or cannot be applied; then nothing
    changes."""
    require_decide(doc_access)
    if isinstance(suggestion_ids, str) or not suggestion_ids:
        raise ApplicationError("Choose at least one suggestion to accept.", code="none_chosen")
    if len(suggestion_ids) > MAX_AT_ONCE:
        raise ApplicationError(
            f"At most {MAX_AT_ONCE} suggestions can be accepted at once.", code="too_many"
        )
    # The upload and the threads' resolves write their own audit rows: held back, every one
    # stays among the transaction's last writes.
    with transaction.atomic(), audit_rows_last():
        doc_access = document_access_locked(actor, doc_access, "upload_version", CANNOT_DECIDE)
        document = doc_access.document
        chosen = _locked_suggestions(doc_access, suggestion_ids)
        latest = version_get(doc_access=doc_access, number=document.current_version_number)
        behind = [s for s in chosen if s.is_open and s.applies_to_id != latest.pk]
        if behind:  # only when a version was added before suggestions followed versions
            for gone in _follow(behind, latest):
                _refuse_unless_open(gone)
        for suggestion in chosen:
            _refuse_unless_open(suggestion)
        fmt = version_format(latest)
        if fmt is None:
            raise ApplicationError(UNSUPPORTED, code="unsupported")
        edits = [Edit(s.kind, _place(s), s.block_text, s.start, s.end, s.new_text) for s in chosen]
        try:
            data = passages.apply(fmt, _file(latest), edits)
        except PassageError as exc:
            raise PassageError(exc.message, status=409) from exc
        stamp: Stamp | None = None  # a text file carries none
        if fmt == "docx":
            data, stamp = _restamped(data, latest)
        now = timezone.now()
        Suggestion.objects.filter(pk__in=[s.pk for s in chosen]).update(
            state=State.ACCEPTED, decided_by=actor, decided_at=now
        )
        # The new version: the hook it fires (``receivers``) names it on the suggestions just
        # accepted and moves (or outdates) the others, before its own audit row.
        version = version_upload(
            actor=actor,
            doc_access=doc_access,
            uploaded=SimpleUploadedFile(latest.filename, data, content_type=latest.content_type),
            based_on_number=latest.number,
            note=version_note(chosen),
            info=info,
            stamp=stamp,  # written here: no child reads it back
        )
        for suggestion in chosen:
            _audit(
                suggestion,
                document,
                action=Action.SUGGESTION_ACCEPTED,
                actor=actor,
                info=info,
                version=version.number,
                based_on=latest.number,
                author=suggestion.author.email,
            )
        _threads_resolved(chosen, actor=actor, doc_access=doc_access, info=info)
    return version


# --- A Word file's own tracked changes -------------------------------------------------------


def tracked_changes_accept(
    *,
    actor: User,
    doc_access: DocumentAccess,
    number: Any,
    info: RequestInfo = SYSTEM,
) -> Version:
    """Accept every tracked change of version ``number``'s Word file (changes made in Word:
    insertions, deletions, moves, formatting) as ONE new version, added as an upload based on
    that version (``version_upload``: when it is not the latest, the new version is flagged as
    based on an older one, as any such upload is), with a note saying what was accepted.
    Refused with a sentence, and nothing written, when the file is not a .docx
    (:class:`NotWord`), has no tracked changes, or holds changes that cannot be accepted here (a
    table's cells); the same bytes as the latest are refused by the upload (``same_as_latest``)."""
    require_decide(doc_access)
    version = version_get(doc_access=doc_access, number=number)
    if version_format(version) != "docx":
        raise NotWord(version.number)
    accepted = revisions.accepted_copy(version)  # the confined child, before any lock
    note = (
        f"Accepted all tracked changes of version {version.number} ({accepted.found.described()})."
    )
    with transaction.atomic():
        made = version_upload(
            actor=actor,
            doc_access=doc_access,
            uploaded=SimpleUploadedFile(
                version.filename, accepted.data, content_type=version.content_type
            ),
            based_on_number=version.number,
            note=note[:NOTE_LENGTH],
            info=info,
            stamp=accepted.stamp,  # set by the child: no second child reads it back
        )
        audit_record(
            action=Action.TRACKED_CHANGES_ACCEPTED,
            actor=actor,
            info=info,
            workspace_id=made.document.workspace_id,
            document_id=made.document_id,
            target_type="document",
            target_id=str(made.document_id),
            target_label=made.document.name,
            data={
                "version": made.number,
                "based_on": version.number,
                "insertions": accepted.found.insertions,
                "deletions": accepted.found.deletions,
                "others": accepted.found.others,
            },
        )
    return made


# --- The Word round trip ----------------------------------------------------------------------


def tracked_changes_download(
    *, actor: User, doc_access: DocumentAccess, number: Any, info: RequestInfo = SYSTEM
) -> TrackedFile:
    """Version ``number`` of a Word document with its open suggestions as Word's tracked
    changes and its open comment threads as Word comments (``tracked``), stamped as that
    version: for whoever may download the document. Refused with a sentence, and nothing
    written, for any other kind of file or one that cannot be read; what could not be placed is
    left out and counted. The download is audited, with those counts."""
    download_require(
        actor=actor, doc_access=doc_access, what="tracked_changes", number=number, info=info
    )
    version = version_get(doc_access=doc_access, number=number)
    if version_format(version) != "docx":
        raise NotWord(version.number)
    try:
        data = _file(version)
    except PassageError as exc:
        raise Conflict(exc.message, code="too_large") from exc
    made = tracked_file(doc_access, version, data)
    with transaction.atomic():
        document = doc_access.document
        audit_record(
            action=Action.DOCUMENT_DOWNLOADED_TRACKED,
            actor=actor,
            info=info,
            workspace_id=document.workspace_id,
            document_id=document.pk,
            target_type="document",
            target_id=str(document.pk),
            target_label=document.name,
            data={
                "version": version.number,
                "sha256": version.blob_id,
                "suggestions": made.suggestions,
                "threads": made.threads,
                "suggestions_left_out": made.suggestions_left_out,
                "threads_left_out": made.threads_left_out,
            },
        )
    return made


# --- A stale copy's changes carried onto the latest as suggestions ---------------------------

MAX_CARRIED = MAX_AT_ONCE  # changes of one copy carried at once
CANNOT_CARRY = (
    "Only the workspace's managers and editors can carry a copy's changes onto the latest version."
)


@dataclass(frozen=True)
class NotCarried:
    """A change of the copy that is not a suggestion: the paragraph as its base had it (empty
    for a new paragraph), as the copy has it (empty when deleted), and why it was not
    carried."""

    old: str
    new: str
    why: str


@dataclass
class CarryResult:
    """What :func:`stale_copy_carry` did: ``restored`` (the new latest version: the text of
    ``target`` again), the suggestions made on it, and the copy's changes not carried."""

    copy: int
    base: int
    target: int
    restored: Version
    suggestions: list[Suggestion]
    not_carried: list[NotCarried]
    report: Comment | None


@dataclass(frozen=True)
class _Planned:
    change: carry.ParagraphChange
    block: str
    start: int  # UTF-16 code units of the block's text, as a browser counts them
    end: int
    kind: Kind
    text: str


def _stale_refusal(doc_access: DocumentAccess, copy: Version) -> None:
    """Refuse, with a sentence, a version whose changes cannot be carried."""
    document = doc_access.document
    if copy.number != document.current_version_number:
        raise Conflict(
            f"Version {copy.number} is no longer the latest (version "
            f"{document.current_version_number} is): its changes can no longer be carried.",
            code="not_latest",
        )
    if copy.based_on_latest or not copy.based_on_number or copy.number < 2:
        raise ApplicationError(
            f"Version {copy.number} was based on the latest version of its time: there is "
            "nothing it could have undone.",
            code="not_stale",
        )


def _plan(
    change: carry.ParagraphChange,
    *,
    fmt: str,
    target_data: bytes,
    target_paragraphs: list[str],
    blocks: list[Any],
    alive: dict[int, int],
    placed: dict[int, int],
    copy_shown: list[str] | None,
    between: str,
) -> _Planned | NotCarried:
    """Where the change goes on the target's preview, or why it cannot go there."""
    new = copy_shown[change.copy] if copy_shown is not None and change.copy >= 0 else change.new
    old = "" if change.kind == Kind.NEW_PARAGRAPH else change.old  # a new one had no text
    if change.kind == Kind.NEW_PARAGRAPH and change.base < 0:
        return NotCarried(
            "", new, "A new first paragraph: a suggestion adds a paragraph after another one."
        )
    at = alive.get(change.base)
    if change.kind == Kind.NEW_PARAGRAPH and at is None:
        # Its place, not its neighbour's words, is what a new paragraph needs: after what
        # the versions between put where the paragraph it followed was.
        after = placed.get(change.base, -1)
        at = after if after >= 0 else None
    if at is None:
        if change.kind == Kind.NEW_PARAGRAPH:
            why = f"No paragraph of {between} comes before its place."
        else:
            why = f"The paragraph it changes was also changed in {between}."
        return NotCarried(old, new, why)
    try:
        block = passages.block_of(fmt, target_data, blocks, at)
    except PassageError as exc:
        return NotCarried(old, new, exc.message)
    shown = usable_text(block)
    whole = (0, utf16_length(shown))
    if change.kind == Kind.NEW_PARAGRAPH:
        return _Planned(change, block.id, *whole, Kind.NEW_PARAGRAPH, new)
    if change.kind == Kind.DELETE:
        return _Planned(change, block.id, *whole, Kind.DELETE, "")
    if copy_shown is not None:  # Markdown: compared as the preview shows it
        span = carry.word_span(shown, new)
        if span is None:
            return NotCarried(
                change.old, change.new, "Only its formatting changed, which a suggestion "
                "cannot carry.",
            )  # fmt: skip
        a, b = span.start, span.end
    else:
        span = carry.word_span(change.old, change.new)
        if span is None:  # pragma: no cover - paragraph_changes gives none the same
            return NotCarried(change.old, change.new, "Nothing changed in it.")
        a, b = passages.shown_range(target_paragraphs[at], span.start, span.end, shown)
    return _Planned(
        change,
        block.id,
        utf16_length(shown[:a]),
        utf16_length(shown[:b]),
        span.kind,
        span.text,
    )


def _carried_note(copy: int, base: int, target: int, actor: User) -> str:
    return (
        f"Version {target} restored: version {copy} was a copy of version {base}, so "
        f"{actor.display_name} carried its changes onto this version as suggestions."
    )[:NOTE_LENGTH]


def _report_body(copy: int, target: int, not_carried: Sequence[NotCarried]) -> str:
    """The comment listing the copy's changes that were not carried, within a comment's
    length."""
    n = len(not_carried)
    head = (
        f"{'This change' if n == 1 else f'These {n} changes'} of version {copy} "
        f"{'was' if n == 1 else 'were'} not carried onto version {target} as suggestions: "
        "check them against this version."
    )
    lines = [head, ""]
    for item in not_carried:
        was = quoted(item.old) if item.old else "(a new paragraph)"
        now = quoted(item.new) if item.new else "(deleted)"
        line = f"- {was} → {now}: {item.why}"
        if sum(len(x) + 1 for x in lines) + len(line) > MAX_REASON - 100:
            lines.append(f"- and {n - (len(lines) - 2)} more (compare the versions).")
            break
        lines.append(line)
    return "\n".join(lines)


def stale_copy_carry(
    *,
    actor: User,
    doc_access: DocumentAccess,
    number: Any,
    info: RequestInfo = SYSTEM,
) -> CarryResult:
    """Version ``number`` is the latest but was made from an older version (a stale copy,
    flagged "based on version 1, not the latest"): it undoes what the versions between changed.
    In one transaction under the document's lock: the version before it becomes the latest
    again (``documents.services.version_restore``), and each change the copy made to its base
    (``carry.paragraph_changes``) becomes a suggestion on it, when the paragraph it changes is
    still there as the base had it; the others are listed in a comment on it, never dropped.
    Each suggestion is the copy's uploader's (the words are theirs) while they may comment,
    else the actor's, naming them. Refused with a sentence, nothing written, when the version
    is not the latest or not stale, its kind of file has no paragraphs, the preview of the
    version before it is not ready, or it changed nothing."""
    require_decide(doc_access)
    if not doc_access.can("restore_version"):
        deny(doc_access.access, CANNOT_CARRY)
    # Several audited services run here, each writing its audit rows last: held back and
    # written when the block ends, they stay the transaction's last writes.
    with transaction.atomic(), audit_rows_last():
        doc_access = document_access_locked(actor, doc_access, "restore_version", CANNOT_CARRY)
        require_decide(doc_access)
        copy = version_get(doc_access=doc_access, number=number)
        _stale_refusal(doc_access, copy)
        target = version_get(doc_access=doc_access, number=copy.number - 1)
        base = version_get(doc_access=doc_access, number=copy.based_on_number)
        fmt = version_format(copy)
        if fmt is None or {version_format(base), version_format(target)} != {fmt}:
            raise ApplicationError(
                "Changes can be carried as suggestions between Word (.docx), text (.txt) or "
                "Markdown (.md) versions of the same kind only.",
                code="unsupported",
            )
        blocks = preview_blocks(doc_access=doc_access, version=target)
        if blocks is None:
            raise ApplicationError(
                f"The preview of version {target.number} is not ready yet: try again in a minute.",
                code="preview_not_ready",
            )
        copy_data, target_data = _file(copy), _file(target)
        base_paragraphs = passages.paragraphs(fmt, _file(base))
        target_paragraphs = passages.paragraphs(fmt, target_data)
        changes = carry.paragraph_changes(base_paragraphs, passages.paragraphs(fmt, copy_data))
        if not changes:
            raise ApplicationError(
                f"Version {copy.number} has the same text as version {base.number}, which it "
                "was made from: there are no changes to carry.",
                code="no_changes",
            )
        if len(changes) > MAX_CARRIED:
            raise ApplicationError(
                f"Version {copy.number} changes {len(changes)} paragraphs of version "
                f"{base.number}; at most {MAX_CARRIED} can be carried as suggestions: compare "
                "the versions instead.",
                code="too_many",
            )
        between = carry.versions_between(base.number + 1, target.number)
        alive = carry.survivors(base_paragraphs, target_paragraphs)
        placed = carry.places_after(base_paragraphs, target_paragraphs)
        copy_shown = passages.rendered_texts(fmt, copy_data) if fmt == "md" else None
        if copy_shown is not None and len(copy_shown) != len(passages.paragraphs(fmt, copy_data)):
            copy_shown = None  # pragma: no cover - the converter and the parser agree
        plans = [
            _plan(
                change,
                fmt=fmt,
                target_data=target_data,
                target_paragraphs=target_paragraphs,
                blocks=blocks,
                alive=alive,
                placed=placed,
                copy_shown=copy_shown,
                between=between,
            )
            for change in changes
        ]
        restored = version_restore(
            actor=actor,
            doc_access=doc_access,
            number=target.number,
            note=_carried_note(copy.number, base.number, target.number, actor),
            info=info,
        )
        author, author_access = _carry_author(actor, doc_access, copy)
        author_info = info if author.pk == actor.pk else SYSTEM
        uploader = copy.author.display_name
        if author.pk != copy.author.pk:
            reason = (
                f"{uploader}'s change in version {copy.number} (a copy of version "
                f"{base.number}), carried here by {actor.display_name}."
            )
        else:
            reason = (
                f"Carried from version {copy.number}, {uploader}'s copy of version "
                f"{base.number}, by {actor.display_name}."
            )
        made: list[Suggestion] = []
        not_carried: list[NotCarried] = []
        for plan in plans:
            if isinstance(plan, NotCarried):
                not_carried.append(plan)
                continue
            try:
                with transaction.atomic(), audit_rows_last():
                    made.append(
                        suggestion_create(
                            actor=author,
                            doc_access=author_access,
                            version_number=restored.number,
                            block_id=plan.block,
                            start=plan.start,
                            end=plan.end,
                            kind=plan.kind,
                            text=plan.text,
                            reason=reason,
                            info=author_info,
                        )
                    )
            except ApplicationError as exc:
                change = plan.change
                if plan.kind == Kind.NEW_PARAGRAPH:
                    not_carried.append(NotCarried("", plan.text, exc.message))
                else:
                    not_carried.append(NotCarried(change.old, change.new, exc.message))
        report = None
        if not_carried:
            report = comment_create(
                actor=actor,
                doc_access=doc_access,
                body=_report_body(copy.number, restored.number, not_carried),
                version_number=restored.number,
                info=info,
            )
        audit_record(
            action=Action.SUGGESTIONS_CARRIED,
            actor=actor,
            info=info,
            workspace_id=doc_access.document.workspace_id,
            document_id=doc_access.document.pk,
            target_type="document",
            target_id=str(doc_access.document.pk),
            target_label=doc_access.document.name,
            data={
                "version": copy.number,
                "based_on": base.number,
                "restored": target.number,
                "new_version": restored.number,
                "author": author.email,
                "carried": len(made),
                "not_carried": len(not_carried),
            },
        )
    return CarryResult(copy.number, base.number, target.number, restored, made, not_carried, report)


def _carry_author(
    actor: User, doc_access: DocumentAccess, copy: Version
) -> tuple[User, DocumentAccess]:
    """Who the carried suggestions are by, with their access: the copy's uploader while they
    may comment on the document, else the actor."""
    uploader = copy.author
    if uploader.pk == actor.pk or not uploader.is_active:
        return actor, doc_access
    try:
        theirs = document_access(
            user=uploader,
            workspace_id=doc_access.document.workspace_id,
            document_id=doc_access.document.pk,
        )
    except ApplicationError:
        return actor, doc_access
    if not theirs.can("comment"):
        return actor, doc_access
    return uploader, theirs
