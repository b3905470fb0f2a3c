"""How other apps follow previews without previews knowing them (``core.hooks``).

When a preview is made, the service that records it tells :func:`changed`, inside the
transaction that holds the preview's row. Search follows it (the words of the documents showing
that file become searchable) from its ``receivers.py``; what must wait for the commit (search
re-indexes each document in a transaction of its own, under its workspace's lock) is its own
``transaction.on_commit``. So previews does not import search: search imports previews. A
preview that could not be made is told too (:class:`PreviewFailed`): comments follow both, to
look for their threads' passages in the new version.

**Block marks.** Apps whose things point at passages of a preview (comments) add a function
with :func:`add_block_marks`; each time a version's preview is shown, it returns, by block id,
trusted HTML that :func:`block_marks` gathers and the preview puts right after those blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from commonroom.core.hooks import Hook

if TYPE_CHECKING:
    from commonroom.documents.models import Version
    from commonroom.documents.selectors import DocumentAccess


@dataclass(frozen=True)
class PreviewReady:
    """The preview of the file ``sha256`` was made (first made, or made again): its words and
    markup are there to read. A preview that failed is not told."""

    sha256: str


@dataclass(frozen=True)
class PreviewFailed:
    """The preview of the file ``sha256`` could not be made (or its kind of file has none)."""

    sha256: str


Change = PreviewReady | PreviewFailed

hook: Hook[Change] = Hook("previews")
subscribe = hook.subscribe
unsubscribe = hook.unsubscribe
subscribed = hook.subscribed
changed = hook.changed


# --- Block marks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewShown:
    """``version``'s preview being drawn for a reader with ``doc_access`` to its document."""

    doc_access: DocumentAccess
    version: Version


BlockMarks = Callable[[PreviewShown], Mapping[str, str]]
_block_marks: list[BlockMarks] = []


def add_block_marks(marks: BlockMarks) -> None:
    """``marks`` adds to every preview shown (from an app's ``ready()``): by block id, trusted
    HTML (escaped by its maker) to put right after that block."""
    if marks not in _block_marks:
        _block_marks.append(marks)


def block_marks(shown: PreviewShown) -> dict[str, str]:
    """What every app adds after the blocks of the preview ``shown``, by block id."""
    found: dict[str, str] = {}
    for marks in _block_marks:
        for block, html in marks(shown).items():
            found[block] = found.get(block, "") + html
    return found
