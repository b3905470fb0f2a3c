"""The confined child that writes a Word file's open suggestions as tracked changes and its
comment threads as Word comments (``suggestions/tracked.py`` runs it through ``core/sandbox.py``;
nothing here imports Django).

``python -m commonroom.suggestions.tracked_child <source> <request> <outdir>`` reads the .docx
``source`` and the JSON ``request``::

    {"property": {"name": ..., "value": ...},            # the version stamp written into it
     "revisions": [{"key": ..., "edit": {...}, "author": ..., "date": "<ISO 8601>"}],
     "threads": [{"key": ..., "place": {...}, "author": ..., "date": ..., "text": ...,
                  "replies": [{"author": ..., "date": ..., "text": ...}]}]}

An edit is ``{"paragraph", "occurrence", "start", "end", "text"}`` (a change) or ``{"after",
"occurrence", "text"}`` (a new paragraph). A suggestion's own thread names it (``"suggestion":
<its key>``) and is left out with it. A thread's place is where it is in the file
(``{"paragraph", "occurrence", "start", "end"}``) or where it is on the preview
(``{"shown", "rank", "count", "start", "end"}``: a preview block's text, which of the blocks
reading so it is and how many there are, and the range in it), found here among the file's
paragraphs as ``suggestions.passages`` finds a passage: the rank-th paragraph that reads the
same once line breaks are left out, only when the file has as many as the preview.

It writes ``<outdir>/tracked.docx`` (``office.wordedit.with_tracked_changes``, then the stamp
through ``office.properties``) and answers ``{"ok": true, "left_out": {"revisions": [keys],
"threads": [keys]}}``: all of them are tried at once; when the engine refuses that, each is
added in turn, oldest first, and those it refuses are left out. A file that cannot be read or
written at all answers ``{"ok": false, "message": "<why>"}``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from commonroom.core.sandbox_child import serve

MAX_SOURCE = 256 * 1024 * 1024  # the parent sends nothing larger; a file grown since is refused
MAX_REQUEST = 64 * 1024 * 1024
OUTPUT = "tracked.docx"


def _load(path: Path, limit: int) -> bytes:
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError("too large")
    return data


def _edit(raw: dict[str, Any]) -> Any:
    from commonroom.office.wordedit import Change, NewParagraph

    if "after" in raw:
        return NewParagraph(
            after=str(raw["after"]), text=str(raw["text"]), occurrence=int(raw["occurrence"])
        )
    return Change(
        paragraph=str(raw["paragraph"]),
        start=int(raw["start"]),
        end=int(raw["end"]),
        text=str(raw["text"]),
        occurrence=int(raw["occurrence"]),
    )


def _date(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


def _file_place(place: dict[str, Any], found: list[str]) -> tuple[str, int, int, int] | None:
    """The paragraph, occurrence and range in the file of a thread's place; ``None`` when a
    place on the preview is not in the file as many times as on the preview."""
    from commonroom.suggestions.textmap import map_range, unbroken

    if "paragraph" in place:
        return (
            str(place["paragraph"]),
            int(place["occurrence"]),
            int(place["start"]),
            int(place["end"]),
        )
    shown = str(place["shown"])
    key = unbroken(shown)
    matches = [i for i, p in enumerate(found) if unbroken(p) == key]
    rank, count = int(place["rank"]), int(place["count"])
    if len(matches) != count or not 0 <= rank < count:
        return None
    at = matches[rank]
    paragraph = found[at]
    start, end = map_range(shown, int(place["start"]), int(place["end"]), paragraph)
    return paragraph, found[: at + 1].count(paragraph), start, end


def _thread(raw: dict[str, Any], found: list[str]) -> Any | None:
    from commonroom.office.wordedit import CommentThread, Reply

    place = _file_place(raw["place"], found)
    if place is None:
        return None
    paragraph, occurrence, start, end = place
    return CommentThread(
        paragraph=paragraph,
        occurrence=occurrence,
        start=start,
        end=end,
        author=str(raw["author"]),
        date=_date(raw["date"]),
        text=str(raw["text"]),
        replies=tuple(
            Reply(author=str(r["author"]), date=_date(r["date"]), text=str(r["text"]))
            for r in raw.get("replies", [])
        ),
    )


def _kept(
    items: Sequence[tuple[str, Any]], attempt: Callable[[list[Any]], object]
) -> tuple[list[Any], list[str]]:
    """``items`` (key, item) added one at a time, each kept when ``attempt`` with it and those
    kept before it succeeds; returns the items kept and the keys left out."""
    from commonroom.office.package import OfficeFileError

    kept: list[Any] = []
    left: list[str] = []
    for key, item in items:
        try:
            attempt([*kept, item])
        except (OfficeFileError, ValueError):
            left.append(key)
        else:
            kept.append(item)
    return kept, left


def tracked(source: Path, request: Path, outdir: Path) -> dict[str, Any]:
    from commonroom.office.package import OfficeFileError
    from commonroom.office.properties import with_property
    from commonroom.office.wordedit import Revision, paragraphs, with_tracked_changes

    try:
        asked = json.loads(_load(request, MAX_REQUEST))
        data = _load(source, MAX_SOURCE)
        found = paragraphs(data)
    except (OfficeFileError, ValueError) as exc:
        return {"ok": False, "message": str(exc)[:500]}
    revisions: list[tuple[str, Any]] = []
    left_revisions: list[str] = []
    for raw in asked.get("revisions", []):
        try:
            edit = _edit(raw["edit"])
            revisions.append(
                (str(raw["key"]), Revision(edit, str(raw["author"]), _date(raw["date"])))
            )
        except (KeyError, TypeError, ValueError):
            left_revisions.append(str(raw.get("key")))
    threads: list[tuple[str, Any]] = []
    left_threads: list[str] = []
    for raw in asked.get("threads", []):
        try:
            thread = _thread(raw, found)
        except (KeyError, TypeError, ValueError):
            thread = None
        if thread is None:
            left_threads.append(str(raw.get("key")))
        else:
            threads.append((str(raw["key"]), thread))
    try:
        written = with_tracked_changes(data, [r for _k, r in revisions], [t for _k, t in threads])
    except (OfficeFileError, ValueError):
        kept_revisions, left = _kept(revisions, lambda some: with_tracked_changes(data, some))
        left_revisions += left
        # A suggestion's own comment goes with it.
        without = {
            str(raw.get("key"))
            for raw in asked.get("threads", [])
            if raw.get("suggestion") in left_revisions
        }
        left_threads += [key for key, _thread in threads if key in without]
        threads = [(key, thread) for key, thread in threads if key not in without]
        kept_threads, left = _kept(
            threads, lambda some: with_tracked_changes(data, kept_revisions, some)
        )
        left_threads += left
        try:
            written = with_tracked_changes(data, kept_revisions, kept_threads)
        except (OfficeFileError, ValueError) as exc:
            return {"ok": False, "message": str(exc)[:500]}
    try:
        property_ = asked.get("property")
        if property_:
            written = with_property(written, str(property_["name"]), str(property_["value"]))
    except (OfficeFileError, ValueError) as exc:
        return {"ok": False, "message": str(exc)[:500]}
    (outdir / OUTPUT).write_bytes(written)
    return {"ok": True, "left_out": {"revisions": left_revisions, "threads": left_threads}}


def _preload() -> None:
    # lxml and zipfile, before confinement
    import commonroom.office.properties
    import commonroom.office.wordedit
    import commonroom.suggestions.textmap  # noqa: F401


def main(argv: list[str]) -> int:
    if len(argv) == 4:
        source, request, outdir = Path(argv[1]), Path(argv[2]), Path(argv[3])
        return serve(
            lambda: tracked(source, request, outdir),
            read_files=[source, request],
            write=[outdir],
            preload=_preload,
        )
    sys.stderr.write(
        "usage: python -m commonroom.suggestions.tracked_child <source> <request> <outdir>\n"
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
