"""Comparing versions in the JSON API (mounted on /api/v1/workspaces by commonroom/api.py): the
same selector as the page, so a token sees exactly what its person sees there."""

from __future__ import annotations

import uuid
from typing import Any

from ninja import Router, Schema

from commonroom.core.views import AuthedRequest, info
from commonroom.documents.selectors import document_access
from commonroom.previews import services
from commonroom.previews.selectors import compare_pair, versions_compare

router = Router(tags=["previews"])
SINGLE = "This document has one version: there is nothing to compare it with yet."


class CompareOut(Schema):
    a: int
    b: int
    status: str  # ready, waiting, failed, unsupported, single
    message: str
    summary: str
    kind: str  # "text", "sheets", "slides" or "" when not ready
    notes: list[str]
    blocks: list[dict[str, Any]]
    sheets: list[dict[str, Any]]
    slides: list[dict[str, Any]]


@router.get("/{workspace_id}/documents/{document_id}/compare", response=CompareOut)
def compare_api(
    request: AuthedRequest,
    workspace_id: uuid.UUID,
    document_id: uuid.UUID,
    a: str = "",
    b: str = "",
) -> object:
    """Version ``a`` (older) compared with version ``b`` (newer); by default the latest against
    the one before. Documents (.docx, .txt, .md): ``blocks`` of paragraphs, each with ``kind``
    (same, changed, inserted, deleted, moved_from, moved_to) and ``segments`` (``op`` same, ins
    or del, and ``text``); a paragraph moved and edited is a moved_to block whose segments hold
    its word changes, linked to its moved_from block by ``move``. A block that is not a plain
    paragraph says what it is in the document (in the newer version; in the older for a block
    deleted or moved away), only to show it as such (blocks are matched by their text alone):
    ``style`` (heading, list, cell, table, quote, code), ``level`` (a heading's 1-6, a list
    item's depth from 1), ``ordered`` (a list item of a numbered list), and for a table cell's
    paragraph ``context``: ``row`` (the text of its row's first cell) and ``column`` (of its
    column's cell in the first row), each when there is one that is not the cell itself.
    Presentations (.pptx): ``slides``, each with ``kind`` (same, changed, added, removed,
    moved_from, moved_to), ``old_number`` and ``new_number`` (0 when not in that version),
    ``move``, ``title``
    (segments), and ``blocks`` and ``notes`` (the speaker notes) as a document's blocks.
    Workbooks (.xlsx) and CSV files: ``sheets``, each with ``name``, ``kind`` (changed, added,
    removed), ``cells`` (the changed cells of rows in both versions: ``ref`` named by the row's
    number in the newer version, ``old``, ``new``, and ``old_ref`` (its name in the older
    version) when rows added or removed above moved it) and ``cell_count``,
    ``rows`` (rows added or removed whole, in order: ``kind`` added or removed, ``row`` (its
    number in the newer version if added, the older if removed) and its non-empty ``cells``,
    each ``ref`` and ``text``) and ``rows_added`` / ``rows_removed`` (all of them; ``cells`` and
    ``rows`` show the first 2,000 cells in all); rows are matched first, so a row inserted is
    one row added, not every cell below it changed; columns are compared by position. A CSV
    file's one table is a sheet named "". ``status`` is ``waiting`` until both
    versions' previews are made, ``single`` when the document has one version."""
    doc_access = document_access(
        user=request.user, workspace_id=workspace_id, document_id=document_id
    )
    pair = compare_pair(doc_access=doc_access, a=a, b=b)
    if pair is None:
        latest = doc_access.document.current_version_number
        return {
            "a": latest,
            "b": latest,
            "status": "single",
            "message": SINGLE,
            "summary": "",
            "kind": "",
            "notes": [],
            "blocks": [],
            "sheets": [],
            "slides": [],
        }
    old, new = pair
    services.compare_record_view(
        actor=request.user, doc_access=doc_access, old=old, new=new, info=info(request)
    )
    found = versions_compare(doc_access=doc_access, old=old, new=new)
    return {
        "a": old.number,
        "b": new.number,
        "status": found.status,
        "message": found.message,
        "summary": found.summary,
        "kind": found.kind,
        "notes": found.notes,
        "blocks": [block.as_dict() for block in found.text.blocks] if found.text else [],
        "sheets": found.sheets.sheet_dicts() if found.sheets else [],
        "slides": [slide.as_dict() for slide in found.slides.slides] if found.slides else [],
    }
