"""A version of a Word document with its open suggestions as Word's own tracked changes and its
open comment threads as Word comments (issue 12's round trip; decision 16, "Download with
suggestions as tracked changes").

What goes into the file of version N:

- each open suggestion made on version N or an earlier one (an open suggestion moved to every
  version after it that still had its paragraph) whose thread is not deleted: a revision
  (``w:ins``/``w:del``) by its author, dated when it was made, where ``passages`` placed it in
  the file;
- each open thread (not resolved, not deleted) anchored to a passage that is in version N's
  preview (written there, or found there again: ``comments.selectors.open_threads_on_version``)
  and that is not a suggestion's: a Word comment on that passage by its author, with its replies
  (deleted ones left out), each comment's text as it was typed;
- a suggestion's thread, when it is open and has a reason or replies: a Word comment on the
  suggestion's passage, its text the thread's first comment (the reason, else the sentence
  saying what it suggests), with the replies. Without either the revision says it all.

What cannot be placed is left out and counted: a thread whose passage changed in version N or
is not found in its file as the preview shows it (or a preview that is not ready), a suggestion
whose change overlaps an earlier one's or that the Word engine refuses there. The caller says
so to the person (:attr:`TrackedFile.left_out`).

The file is untrusted: it is read and written only in the confined child (``tracked_child``,
through ``core.sandbox``), which also stamps it with version N's stamp
(``documents.stamping``), so the file sent back after editing in Word is recognised as based on
version N. Nothing is written to the database here; the service audits the download.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from commonroom.comments.selectors import open_threads_on_version
from commonroom.core.exceptions import Conflict
from commonroom.core.sandbox import Limits, run_child
from commonroom.documents.filenames import download_name
from commonroom.documents.selectors import DocumentAccess
from commonroom.documents.stamping import PROPERTY, Stamp, work_folder
from commonroom.office import package
from commonroom.previews.blocks import Block, code_points
from commonroom.previews.selectors import preview_blocks
from commonroom.suggestions import passages
from commonroom.suggestions.models import State, Suggestion
from commonroom.suggestions.passages import Place, usable_text
from commonroom.suggestions.textmap import unbroken

if TYPE_CHECKING:
    from commonroom.comments.models import Comment
    from commonroom.comments.passages import Place as PreviewPlace
    from commonroom.documents.models import Version

log = logging.getLogger(__name__)

CHILD_MODULE = "commonroom.suggestions.tracked_child"
LIMITS = Limits(seconds=60, memory_mb=1536, file_mb=2 * package.MAX_TOTAL // (1024 * 1024))
OUTPUT = "tracked.docx"
WORD_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

NOT_CONFINED = (
    "This server cannot open Word files in its locked-down reader, so it does not add the "
    "suggestions to them: download the version as it is."
)
NOT_MADE = (
    "Version {number}'s Word file could not be read to add the suggestions and comments to it: "
    "download it as it is."
)


@dataclass(frozen=True)
class TrackedFile:
    """The file to send, its name, and what it holds and left out."""

    data: bytes
    filename: str
    version: int
    suggestions: int  # made revisions
    threads: int  # made Word comment threads
    suggestions_left_out: int
    threads_left_out: int

    @property
    def left_out(self) -> str:
        """A sentence saying what was left out and why ("" when nothing was)."""
        parts = []
        if self.suggestions_left_out:
            n = self.suggestions_left_out
            parts.append(
                f"{n} suggestion{'s' if n != 1 else ''} could not be placed in version "
                f"{self.version}'s Word file (it changes the same words as an earlier one, or "
                "Word's tracked changes cannot hold it there) and "
                f"{'are' if n != 1 else 'is'} not in it"
            )
        if self.threads_left_out:
            n = self.threads_left_out
            parts.append(
                f"{n} comment thread{'s' if n != 1 else ''} whose passage is not in version "
                f"{self.version} as it reads (it changed, or it could not be found in the file) "
                f"{'are' if n != 1 else 'is'} not in it"
            )
        if not parts:
            return ""
        return "; ".join(parts) + ": see them on the document's page."


def tracked_filename(document_name: str, number: int) -> str:
    """ "Minutes.docx", 3 → "Minutes (version 3, with suggestions).docx": named after the
    document and its version, as every download is (``documents.filenames.download_name``)."""
    return download_name(document_name, number, note="with suggestions", extension=".docx")


def _iso(value: Any) -> str:
    return str(value.isoformat())


def _open_suggestions(doc_access: DocumentAccess, version: Version) -> list[Suggestion]:
    return list(
        Suggestion.objects.filter(
            document=doc_access.document,
            state=State.OPEN,
            version__number__lte=version.number,
            comment__deleted_at__isnull=True,
        )
        .select_related("author")
        .order_by("created_at", "pk")
    )


def _replies(thread: Comment) -> list[dict[str, str]]:
    return [
        {"author": r.author.display_name, "date": _iso(r.created_at), "text": r.body}
        for r in getattr(thread, "thread_replies", [])
    ]


def _edit_json(suggestion: Suggestion) -> dict[str, Any]:
    place = Place(
        suggestion.paragraph,
        suggestion.occurrence,
        suggestion.paragraph_start,
        suggestion.paragraph_end,
    )
    edit = passages.word_edit(suggestion.kind, place, suggestion.new_text)
    if isinstance(edit, passages.wordedit.NewParagraph):
        return {"after": edit.after, "occurrence": edit.occurrence, "text": edit.text}
    return {
        "paragraph": edit.paragraph,
        "occurrence": edit.occurrence,
        "start": edit.start,
        "end": edit.end,
        "text": edit.text,
    }


def _shown_place(blocks: list[Block] | None, place: PreviewPlace | None) -> dict[str, Any] | None:
    """A thread's passage on the preview as the child finds it in the file: the block's text,
    which of the blocks reading the same it is and how many there are, and the range in it (code
    points). ``None`` when it is not a passage of the document's text on this preview."""
    if blocks is None or place is None:
        return None
    body = [b for b in blocks if not b.aside]
    block = next((b for b in body if b.id == place.block), None)
    if block is None:
        return None
    shown = usable_text(block)
    start, end = code_points(block.text, place.start), code_points(block.text, place.end)
    if start is None or end is None or not start <= end <= len(shown):
        return None
    key = unbroken(shown)
    same = [b.id for b in body if unbroken(usable_text(b)) == key]
    return {
        "shown": shown,
        "rank": same.index(block.id),
        "count": len(same),
        "start": start,
        "end": end,
    }


@dataclass
class _Request:
    body: dict[str, Any]
    suggestion_keys: list[str]
    thread_keys: list[str]
    # A suggestion's own thread, by its key, to the suggestion's key.
    thread_of: dict[str, str]
    threads_not_placed: int


def _request(doc_access: DocumentAccess, version: Version) -> _Request:
    suggestions = _open_suggestions(doc_access, version)
    threads = open_threads_on_version(doc_access=doc_access, version=version)
    all_suggestion_threads = set(
        Suggestion.objects.filter(document=doc_access.document).values_list("comment_id", flat=True)
    )
    by_thread = {thread.pk: thread for thread, _place in threads}
    revisions: list[dict[str, Any]] = []
    comments: list[dict[str, Any]] = []
    thread_of: dict[str, str] = {}
    for s in suggestions:
        key = f"s{s.pk}"
        revisions.append(
            {
                "key": key,
                "edit": _edit_json(s),
                "author": s.author.display_name,
                "date": _iso(s.created_at),
            }
        )
        thread = by_thread.get(s.comment_id)
        replies = _replies(thread) if thread is not None else []
        if thread is not None and (s.reason or replies):
            thread_key = f"t{s.comment_id}"
            thread_of[thread_key] = key
            comments.append(
                {
                    "key": thread_key,
                    "suggestion": key,
                    "place": {
                        "paragraph": s.paragraph,
                        "occurrence": s.occurrence,
                        "start": s.paragraph_start,
                        "end": s.paragraph_end,
                    },
                    "author": s.author.display_name,
                    "date": _iso(s.created_at),
                    "text": thread.body,  # the reason, or the sentence saying what it suggests
                    "replies": replies,
                }
            )
    blocks = preview_blocks(doc_access=doc_access, version=version)
    not_placed = 0
    for thread, place in threads:
        if thread.pk in all_suggestion_threads:
            continue  # a suggestion's: with its suggestion while it is open, else left alone
        shown = _shown_place(blocks, place)
        if shown is None:
            not_placed += 1
            continue
        comments.append(
            {
                "key": f"t{thread.pk}",
                "place": shown,
                "author": thread.author.display_name,
                "date": _iso(thread.created_at),
                "text": thread.body,
                "replies": _replies(thread),
            }
        )
    body = {
        "property": {"name": PROPERTY, "value": Stamp.of(version).value},
        "revisions": revisions,
        "threads": comments,
    }
    return _Request(
        body,
        [r["key"] for r in revisions],
        [c["key"] for c in comments],
        thread_of,
        not_placed,
    )


def _keys(answer: dict[str, Any], which: str, known: Sequence[str]) -> set[str]:
    left = answer.get("left_out")
    found = left.get(which) if isinstance(left, dict) else None
    return {k for k in found if k in known} if isinstance(found, list) else set()


def tracked_file(doc_access: DocumentAccess, version: Version, data: bytes) -> TrackedFile:
    """Version ``version`` (whose stored bytes are ``data``) with its open suggestions and
    threads in it (see the module). Raises :class:`Conflict` with a sentence when the file
    cannot be read or written."""
    asked = _request(doc_access, version)
    refused = Conflict(NOT_MADE.format(number=version.number), code="not_readable")
    with work_folder() as work:  # the version stamp's work folders, swept as theirs are
        source, request, outdir = work / "source.docx", work / "request.json", work / "out"
        source.write_bytes(data)
        request.write_text(json.dumps(asked.body), encoding="utf-8")
        outdir.mkdir()
        run = run_child(
            CHILD_MODULE,
            [str(source), str(request), str(outdir)],
            work=work,
            limits=LIMITS,
        )
        what = f"version {version.number} of {version.document_id} with tracked changes"
        answer = run.answer
        if answer is not None and answer.get("refused"):
            log.error(
                "suggestions: %s refused: COMMONROOM_PREVIEW_CONFINE=required and the kernel "
                "did not apply %s",
                what,
                ", ".join(map(str, answer.get("missing") or [])),
            )
            raise Conflict(NOT_CONFINED, code="not_confined")
        if run.timed_out or run.code != 0 or answer is None:
            log.warning(
                "suggestions: %s was not made (code %s, timed out %s, answer %s): %s",
                what,
                run.code,
                run.timed_out,
                answer,
                run.errors,
            )
            raise refused
        if not answer.get("ok"):
            log.info("suggestions: %s was not made: %s", what, str(answer.get("message")))
            raise refused
        made = outdir / OUTPUT
        if made.is_symlink() or not made.is_file():
            log.warning("suggestions: %s: the child wrote no file", what)
            raise refused
        written = made.read_bytes()
    left_suggestions = _keys(answer, "revisions", asked.suggestion_keys)
    left_threads = _keys(answer, "threads", asked.thread_keys)
    # A suggestion's own comment left out with it is counted once, as the suggestion.
    threads_left = {k for k in left_threads if asked.thread_of.get(k) not in left_suggestions}
    return TrackedFile(
        data=written,
        filename=tracked_filename(doc_access.document.name, version.number),
        version=version.number,
        suggestions=len(asked.suggestion_keys) - len(left_suggestions),
        threads=len(asked.thread_keys) - len(left_threads),
        suggestions_left_out=len(left_suggestions),
        threads_left_out=len(threads_left) + asked.threads_not_placed,
    )
