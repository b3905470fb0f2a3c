"""Reading previews, always for a version the reader already has access to."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS
from django.db.models import CharField, Count, Max, Q, QuerySet, UUIDField
from django.db.models.functions import Length
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from commonroom.accounts.selectors import people_digest
from commonroom.core.exceptions import NotFound
from commonroom.core.fragments import kept, nobody
from commonroom.core.prepared import Prepared
from commonroom.core.watermark import Watermark, watermark_for
from commonroom.documents.selectors import DocumentAccess, document_blob_ids, version_get
from commonroom.live.selectors import page_revision
from commonroom.previews import hooks
from commonroom.previews.blocks import Block, blocks_in
from commonroom.previews.compare import (
    MAX_CELLS_SHOWN,
    MAX_PARAGRAPHS,
    MAX_WORDS,
    SheetDiff,
    SlideDiff,
    TextDiff,
    blocks_from_html,
    diff_paragraphs,
    diff_sheets,
    diff_slides,
    diff_tables,
    rows_cut,
    sheets_from_html,
    slides_from_html,
    table_from_html,
)
from commonroom.previews.convert import format_for
from commonroom.previews.html import insert_after_blocks
from commonroom.previews.models import Preview, PreviewFile, PreviewStatus, WorkspacePreview
from commonroom.previews.outline import Outline, outline_of

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.documents.models import Version

_SRC_REF = re.compile(r'src="\{\{file:([A-Za-z0-9._-]{1,100})\}\}"')


@dataclass
class PreviewView:
    """What the page shows for one version."""

    version: Version
    status: str
    html: SafeString = field(default_factory=lambda: mark_safe(""))
    notes: list[str] = field(default_factory=list)
    message: str = ""
    can_download: bool = False
    outline: Outline = field(default_factory=Outline)  # its headings and pages, to jump to
    kind: str = ""
    watermark: Watermark | None = None

    @property
    def ready(self) -> bool:
        return self.status == PreviewStatus.READY

    @property
    def pending(self) -> bool:
        return self.status == PreviewStatus.PENDING

    @property
    def overlaid(self) -> bool:
        """Whether the page lays the watermark over the preview: HTML previews. Pictures (PDF
        pages, an image) carry it drawn in by the server instead."""
        return self.watermark is not None and self.kind not in DRAWN_IN_KINDS

    @property
    def watermark_tile(self) -> tuple[int, int]:
        return overlay_tile(self.watermark) if self.watermark is not None else (0, 0)


def overlay_tile(watermark: Watermark) -> tuple[int, int]:
    """The HTML overlay's tile width and its second line's start, in CSS pixels
    (``templates/previews/_watermark.html``): room for both lines whole (15 px text is under
    9 px a character), the second one staggered."""
    return len(watermark.line) * 9 + 220, 200


# Previews whose pictures are the content: the watermark is drawn into them.
DRAWN_IN_KINDS = frozenset({"pdf", "image"})


def reader_watermark(*, doc_access: DocumentAccess, reader: User) -> Watermark | None:
    """The watermark on what ``reader`` is shown of the document, or None. Everyone who may
    not download the originals reads a watermarked preview (their name, email and the day):
    drawn into its pictures, laid over its HTML. So does an external guest who may download
    where the workspace watermarks guests' downloads (``Workspace.watermark_guest_downloads``):
    a PDF's page pictures would otherwise be an unstamped copy of the PDF they may only take
    stamped. The one rule, asked by the preview, its files, comparisons and the print
    stylesheet alike."""
    if reader.is_guest and doc_access.access.workspace.watermark_guest_downloads:
        return watermark_for(reader)
    if doc_access.can("download"):
        return None
    return watermark_for(reader)


_PDF_PAGE = re.compile(r"^page-([1-9][0-9]{0,5})\.png$")


def preview_text(sha256: str, *, workspace_id: Any) -> str:
    """The words of the file's preview as the workspace has it: "" until its own preview is
    made (:func:`made_in`), or if it has none."""
    if not made_in(workspace_id, sha256):
        return ""
    found = Preview.objects.filter(blob_id=sha256).values_list("text", flat=True).first()
    return found or ""


def pdf_page_number(preview: Preview, name: str) -> int | None:
    """The page ``name`` (``page-<n>.png``) stands for in a PDF preview, if it has that page:
    its picture is drawn when first asked for (``previews.services.pdf_page_file``)."""
    match = _PDF_PAGE.match(name)
    if match is None or preview.kind != "pdf":
        return None
    number = int(match.group(1))
    return number if 1 <= number <= (preview.page_count or 0) else None


_HEADING_TAG = re.compile(r"<(/?)h([1-6])\b")


def _below_page_headings(html: str) -> str:
    """The document's h1-h6 as h3-h6 inside the page's "Read" section (an h2)."""
    return _HEADING_TAG.sub(lambda m: f"<{m.group(1)}h{min(6, int(m.group(2)) + 2)}", html)


def made_in(workspace_id: Any, sha256: str) -> bool:
    """Whether the workspace has the preview of the file ``sha256``: its own preview task ran
    (``previews.models.WorkspacePreview``). Until then its pages and API show it pending,
    whatever the file's preview is, so bytes shared with another workspace reveal nothing."""
    return _MADE_IN.count(workspace_id=workspace_id, sha256=sha256) > 0


def _made_in(*, workspace_id: Any, sha256: str) -> QuerySet[WorkspacePreview, Any]:
    return WorkspacePreview.objects.filter(
        workspace_id=workspace_id, blob_id=sha256, made_at__isnull=False
    )


# Asked by every upload (its search entry's words) and page: :func:`_made_in`, its SQL built
# once per process (one row at most: a workspace has a blob's preview once).
_MADE_IN = Prepared("previews.made_in", _made_in, workspace_id=UUIDField(), sha256=CharField())


def _shown(doc_access: DocumentAccess, version: Version, preview: Preview) -> tuple[str, Outline]:
    """A ready preview's HTML as the page shows it, and its outline."""
    made = Preview.objects.filter(pk=preview.pk).values_list("html", flat=True).first() or ""
    names = set(preview.files.values_list("name", flat=True))
    ws, doc = doc_access.access.workspace.pk, doc_access.document.pk
    # The file route reversed once, not once per image (a PDF shows a picture a page: 2,000
    # reverse() calls were ~90% of this function). A name is the route's last part and holds
    # only [A-Za-z0-9._-] (_SRC_REF), so there is nothing to quote.
    files_url = reverse("preview_file", args=[ws, doc, version.number, "_"]).removesuffix("_")

    def url(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names and pdf_page_number(preview, name) is None:
            return 'src=""'
        return f'src="{files_url}{name}"'

    # The HTML was sanitised when it was made; only our own URLs and the marks other apps add
    # after blocks (comments' markers, escaped by their maker) are put into it here.
    markers = hooks.block_marks(hooks.PreviewShown(doc_access, version))
    # Headings move below the page's own: the document's name is the page's one h1.
    shown = _below_page_headings(insert_after_blocks(_SRC_REF.sub(url, made), markers))
    return shown, outline_of(made)


def _preview_row(*, blob_id: str) -> QuerySet[Preview, Any]:
    """The blob's preview (one at most), every column but its HTML, and the HTML's length."""
    return (
        Preview.objects.filter(blob_id=blob_id)
        .order_by("pk")
        .annotate(html_length=Length("html"))
        .values_list(*_PREVIEW_FIELDS, "html_length")
    )


# Every column of a preview but its HTML, read when the shown HTML is drawn again.
_PREVIEW_FIELDS = [f.attname for f in Preview._meta.concrete_fields if f.attname != "html"]
_PREVIEW = Prepared("previews.preview_shown", _preview_row, blob_id=CharField())


def _preview_shown(blob_id: str) -> tuple[Preview, int] | None:
    """What ``Preview.objects.filter(blob_id=...).defer("html").annotate(html_length=
    Length("html")).first()`` reads, with SQL built once per process: the preview, its HTML
    deferred (read if it is drawn), and the length of its HTML."""
    found = _PREVIEW.window(limit=1, offset=0, blob_id=blob_id)
    if not found:
        return None
    row = found[0]
    preview = Preview.from_db(DEFAULT_DB_ALIAS, _PREVIEW_FIELDS, [row[f] for f in _PREVIEW_FIELDS])
    return preview, row["html_length"]


def _made_here(
    *, workspace_id: uuid.UUID, document_id: uuid.UUID, blob_id: str
) -> QuerySet[WorkspacePreview, Any]:
    """For the workspace: how many of the document's versions' previews were made here, when
    the last was, and whether ``blob_id``'s was (``this``): one row, or none when none was."""
    return (
        WorkspacePreview.objects.filter(
            workspace_id=workspace_id,
            blob_id__in=document_blob_ids(document_id),
            made_at__isnull=False,
        )
        .order_by("workspace_id")
        .values("workspace_id")
        .annotate(n=Count("pk"), last=Max("made_at"), this=Count("pk", filter=Q(blob_id=blob_id)))
        .values_list("workspace_id", "n", "last", "this")
    )


_MADE_HERE = Prepared(
    "previews.made_here",
    _made_here,
    workspace_id=UUIDField(),
    document_id=UUIDField(),
    blob_id=CharField(),
)


def preview_for(*, doc_access: DocumentAccess, version: Version, reader: User) -> PreviewView:
    """The preview of ``version`` as this reader sees it: its images pointed at the
    permission-checked file route; pending until the workspace has it (:func:`made_in`);
    watermarked with ``reader``'s name when they may not download (:func:`reader_watermark`).

    The HTML as shown (file routes, other apps' marks after its blocks) and its outline are
    kept between requests (``core.fragments``) under the preview as made (``made_at``, the
    HTML's length), the workspace's newest live event (the marks follow comments and
    suggestions, each an event) and when the document's versions' previews were made here (a
    suggestion moved from an earlier version is placed by that version's preview)."""
    shown_row = _preview_shown(version.blob_id)
    can_download = doc_access.can("download")
    if shown_row is None:
        return PreviewView(version, PreviewStatus.PENDING, can_download=can_download)
    preview, html_length = shown_row
    ws, doc = doc_access.access.workspace.pk, doc_access.document.pk
    # Whether the workspace has this version's preview (:func:`made_in`), and when the
    # document's versions' previews were made here (the kept HTML's key), in one read.
    found = _MADE_HERE.rows(workspace_id=ws, document_id=doc, blob_id=version.blob_id)
    made_here = found[0] if found else {"n": 0, "last": None, "this": 0}
    if not made_here["this"]:
        return PreviewView(version, PreviewStatus.PENDING, can_download=can_download)
    if preview.status != PreviewStatus.READY:
        return PreviewView(
            version, preview.status, message=preview.message, can_download=can_download
        )
    key = (
        doc,
        version.pk,
        preview.pk,
        preview.made_at,
        html_length,
        page_revision(access=doc_access.access),
        made_here["n"],
        made_here["last"],
    )
    shown, outline = kept(
        "previews.shown",
        key,
        lambda: _shown(doc_access, version, preview),
        people=people_digest,
    )
    html = mark_safe(shown)  # noqa: S308 (sanitised when made, and our own marks: _shown)
    watermark = reader_watermark(doc_access=doc_access, reader=reader)
    return PreviewView(
        version,
        preview.status,
        html=html,
        notes=list(preview.notes),
        can_download=can_download,
        outline=outline,
        kind=preview.kind,
        watermark=watermark,
    )


def preview_file_get(*, version: Version, name: str) -> PreviewFile:
    found = PreviewFile.objects.filter(
        preview__blob_id=version.blob_id, preview__status=PreviewStatus.READY, name=name
    ).first()
    if found is None or not made_in(version.document.workspace_id, version.blob_id):
        raise NotFound()
    return found


# What can be compared, decided here only: format -> how its versions are compared, and what
# people call it. Two versions are compared when both formats are compared the same way (a .txt
# against a .md file, say) and each preview is of the kind that way reads (COMPARED_FROM).
COMPARABLE: dict[str, tuple[str, str]] = {
    "docx": ("text", "Word (.docx)"),
    "txt": ("text", "text (.txt)"),
    "md": ("text", "Markdown (.md)"),
    "pptx": ("slides", "PowerPoint (.pptx)"),
    "xlsx": ("sheets", "Excel (.xlsx)"),
    "csv": ("table", "CSV (.csv)"),
}
COMPARED_FROM = {"text": "html", "slides": "slides", "sheets": "table", "table": "table"}
WAITING = "The comparison is ready when both previews are."
_NAMES = [name for _, name in COMPARABLE.values()]
NOT_COMPARABLE = (
    "These versions cannot be compared: comparing works for "
    f"{', '.join(_NAMES[:-1])} and {_NAMES[-1]} files, two of the same kind."
)


@dataclass
class Comparison:
    """Two versions of a document compared (``old`` against ``new``), or why not yet."""

    old: Version
    new: Version
    status: str  # "ready", "waiting", "failed", "unsupported"
    message: str = ""
    text: TextDiff | None = None
    sheets: SheetDiff | None = None  # workbooks, and CSV files (one table)
    slides: SlideDiff | None = None
    notes: list[str] = field(default_factory=list)
    can_download: bool = False

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    @property
    def kind(self) -> str:
        """How the versions were compared: "text", "sheets" (a CSV file's table too), "slides";
        "" when they were not."""
        return "text" if self.text else "sheets" if self.sheets else "slides" if self.slides else ""

    @property
    def summary(self) -> str:
        found = self.text or self.sheets or self.slides
        return found.summary if found is not None else ""


def comparable_as(preview: Preview) -> str:
    """How a ready preview is compared with another ("text", "slides", "sheets", "table"), or ""
    when it cannot be."""
    how = COMPARABLE.get(preview.format, ("", ""))[0]
    return how if how and preview.kind == COMPARED_FROM[how] else ""


def versions_compare(*, doc_access: DocumentAccess, old: Version, new: Version) -> Comparison:
    """``old`` and ``new`` (versions of the document the reader already has access to) compared
    from their previews: word by word for documents and presentations (slide by slide), row by
    row then cell by cell for workbooks and CSV files."""
    can_download = doc_access.can("download")
    ws = doc_access.access.workspace.pk
    found = {
        p.blob_id: p
        for p in Preview.objects.filter(blob_id__in=[old.blob_id, new.blob_id])
        if made_in(ws, p.blob_id)
    }
    pair = [found.get(old.blob_id), found.get(new.blob_id)]

    def made(
        status: str,
        message: str = "",
        notes: list[str] | None = None,
        text: TextDiff | None = None,
        sheets: SheetDiff | None = None,
        slides: SlideDiff | None = None,
    ) -> Comparison:
        return Comparison(
            old, new, status, message, text, sheets, slides, notes or [], can_download
        )

    for version, preview in zip((old, new), pair, strict=True):
        if preview is not None and preview.status in {
            PreviewStatus.FAILED,
            PreviewStatus.UNSUPPORTED,
        }:
            if preview.status == PreviewStatus.UNSUPPORTED:
                return made("unsupported", message=NOT_COMPARABLE)
            return made(
                "failed",
                message=f"The preview of version {version.number} could not be made, so the "
                "versions cannot be compared. Download them to compare them.",
            )
    if pair[0] is None or pair[1] is None or not (pair[0].is_ready and pair[1].is_ready):
        return made("waiting", message=WAITING)
    before, after = pair[0], pair[1]
    # Previews never change once made (a remake stamps a new made_at), so neither does their
    # comparison: computed once, then kept a while (a 5,000-paragraph pair takes about a second).
    stamps = [p.made_at.timestamp() if p.made_at else 0 for p in (before, after)]
    key = f"compare:{COMPARE_FORMAT}:{before.pk}:{stamps[0]}:{after.pk}:{stamps[1]}"
    status, notes, parts = cache.get(key) or (None, [], {})
    if status is None:
        status, notes, parts = _compare(before, after)
        cache.set(key, (status, notes, parts), COMPARE_CACHE_SECONDS)
    if status != "ready":
        return made(status, message=NOT_COMPARABLE)
    return made("ready", notes=notes, **parts)


COMPARE_FORMAT = 1  # raise when what _compare returns changes shape or meaning
COMPARE_CACHE_SECONDS = 3600


def _compare(before: Preview, after: Preview) -> tuple[str, list[str], dict[str, Any]]:
    """Two ready previews compared: ("ready", notes, {"text"|"slides"|"sheets": diff}), or
    ("unsupported", [], {}) when they are not of one kind that compares."""
    how = {comparable_as(before), comparable_as(after)}
    notes = list(dict.fromkeys([*before.notes, *after.notes]))
    if how == {"text"}:
        text = diff_paragraphs(blocks_from_html(before.html), blocks_from_html(after.html))
        if text.cut:
            notes.append(
                f"Only the first {MAX_PARAGRAPHS:,} paragraphs ({MAX_WORDS:,} words) of each "
                "version are compared."
            )
        return "ready", notes, {"text": text}
    if how == {"slides"}:
        slides = diff_slides(slides_from_html(before.html), slides_from_html(after.html))
        if slides.cut:
            notes.append(
                f"Only the first slides of each version, up to {MAX_PARAGRAPHS:,} paragraphs "
                f"({MAX_WORDS:,} words), are compared."
            )
        return "ready", notes, {"slides": slides}
    if how in ({"sheets"}, {"table"}):
        old_cut, new_cut = rows_cut(before.notes), rows_cut(after.notes)
        if how == {"sheets"}:
            sheets = diff_sheets(
                sheets_from_html(before.html), sheets_from_html(after.html), old_cut, new_cut
            )
        else:
            sheets = diff_tables(
                table_from_html(before.html),
                table_from_html(after.html),
                "" in old_cut,
                "" in new_cut,
            )
        if any(n.startswith("Showing the first") for n in notes):
            notes.insert(0, "Only the cells the previews show are compared.")
        if sheets.cut:
            notes.append(
                f"Showing the first {MAX_CELLS_SHOWN:,} changed cells (the cells of rows added "
                "or removed count too)."
            )
        return "ready", notes, {"sheets": sheets}
    return "unsupported", [], {}


def compare_pair(
    *, doc_access: DocumentAccess, a: Any = None, b: Any = None
) -> tuple[Version, Version] | None:
    """The two versions asked for (``a`` older, ``b`` newer; forged numbers are 404); by
    default the latest against the one before. ``None`` when the document has one version."""
    latest = doc_access.document.current_version_number
    if a in (None, "") and b in (None, ""):
        if latest < 2:
            return None
        a, b = latest - 1, latest
    elif a in (None, ""):
        b_version = version_get(doc_access=doc_access, number=b)
        a = max(b_version.number - 1, 1)
    elif b in (None, ""):
        b = latest
    return version_get(doc_access=doc_access, number=a), version_get(
        doc_access=doc_access, number=b
    )


def comparable_with_previous(versions: list[Version]) -> set[int]:
    """The numbers of the versions (of one document) that can be compared with the version just
    before them: both of a kind that comparing works for (``COMPARABLE``), the same kind. Read
    from the names and types alone, so a document page offers "Compare with the previous version"
    only where the comparison page can give one."""
    # A document's versions mostly share a name and a type: each pair's format found once.
    formats: dict[tuple[str, str], str] = {}
    how = {}
    for v in versions:
        pair = (v.content_type, v.filename)
        fmt = formats.get(pair)
        if fmt is None:
            fmt = formats[pair] = format_for(*pair) or ""
        how[v.number] = COMPARABLE.get(fmt, ("", ""))[0]
    return {number for number, kind in how.items() if kind and how.get(number - 1) == kind}


def preview_outcome(sha256: str, *, workspace_id: Any) -> tuple[bool, list[Block] | None]:
    """For apps following a file's preview (comments' passages): whether the workspace has it
    made (ready, failed, or none for its kind; not while there is none yet, it is being made, or
    the workspace's own preview task has not run: :func:`made_in`) and, when it is ready, its
    anchored blocks in order (``previews.blocks``)."""
    if not made_in(workspace_id, sha256):
        return False, None
    found = Preview.objects.filter(blob_id=sha256).values_list("status", "html").first()
    if found is None or found[0] == PreviewStatus.PENDING:
        return False, None
    status, html = found
    return True, blocks_in(html) if status == PreviewStatus.READY else None


def ready_preview_html(sha256: str) -> str | None:
    """The sanitised HTML of the file ``sha256``'s preview as it was made (no marks other apps
    add, no file URLs), or None while it is not ready: for a rendering of the file itself
    outside any page (a final record's certificate, when the file cannot be rendered)."""
    return (
        Preview.objects.filter(blob_id=sha256, status=PreviewStatus.READY)
        .values_list("html", flat=True)
        .first()
    )


def preview_blocks(*, doc_access: DocumentAccess, version: Version) -> list[Block] | None:
    """The anchored blocks of ``version``'s preview (a version of the document the reader
    already has access to), in order, each with its text as a browser's ``textContent`` gives
    it (``previews.blocks``); ``None`` while the preview is not ready (or when it failed)."""
    if version.document_id != doc_access.document.pk:
        raise NotFound()
    if not made_in(doc_access.access.workspace.pk, version.blob_id):
        return None
    # Read from the HTML once per preview as made (its row, when it was made and its length
    # name it), not at every drawing of the page: parsing it is most of the cost.
    made = (
        Preview.objects.filter(blob_id=version.blob_id, status=PreviewStatus.READY)
        .values_list("pk", "made_at", Length("html"))
        .first()
    )
    if made is None:
        return None

    def parse() -> list[Block]:
        html = Preview.objects.filter(pk=made[0]).values_list("html", flat=True).first()
        return blocks_in(html or "")

    found: list[Block] = kept("previews.blocks", made, parse, people=nobody)
    return found


def tracked_revisions(*, doc_access: DocumentAccess, version: Version) -> int | None:
    """How many tracked changes ``version``'s Word file holds, as its preview counted them
    (``Result.revisions``); ``None`` while the preview is not ready, when it failed, was made
    before they were counted, or the file is not a kind that has them."""
    if version.document_id != doc_access.document.pk:
        raise NotFound()
    if not made_in(doc_access.access.workspace.pk, version.blob_id):
        return None
    found: int | None = (
        Preview.objects.filter(blob_id=version.blob_id, status=PreviewStatus.READY)
        .values_list("revisions", flat=True)
        .first()
    )
    return found
