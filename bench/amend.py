"""``python -m bench.amend`` (run by ``make bench``): accepting suggestions in a 50-page .docx.

A .docx of about 50 pages is made with python-docx (headings, paragraphs with bold runs,
bulleted and numbered lists, a table every few sections); where LibreOffice is installed its
page count is checked by laying it out as a PDF, and the words adjusted until it makes 50.

For each database (the embedded SQLite, and PostgreSQL when ``BENCH_POSTGRES_URL`` or the
project's test server answers), a child process with a throw-away data directory uploads it
``BENCH_AMEND_RUNS`` times (default 3) as a new document, through the app's services (its
preview made as the worker makes it, not timed), and each time:

1. makes one suggestion (replace a few words of a paragraph) and accepts it
   (``suggestions.services.suggestions_accept``): timed from the call to its return, when the
   new version is committed (file changed through ``office.wordedit``, read back and checked,
   stamped, stored and fsynced, the version, the suggestion's thread resolved, audit rows and
   every follower of the document hook, in one transaction);
2. the new version's preview is made (not timed), ten suggestions are made on ten paragraphs
   spread through it (some across a bold run), and the ten are accepted at once, timed the same
   way.

Every accepted version is read back (python-docx) to check that it says what was accepted.

Beside it, in the same run: LibreOffice opening and re-saving the same file
(``soffice --headless --convert-to docx``), ``BENCH_AMEND_RUNS`` times, with a fresh profile
each time (start-up and first-run profile included, as for a converter started per file) and
with one profile kept and warmed first. The ratio (ours ÷ LibreOffice's) is the figure; the
goal is below 0.2. Nothing here fails on timing. ``BENCH_AMEND_PROFILE=1`` prints where the
last accept of ten spends its time (cProfile; not written to the figures).
"""

from __future__ import annotations

import contextlib
import cProfile
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.config import DEFAULT_PG, REPO, Config, redact
from bench.libreoffice import soffice_convert, soffice_path, soffice_times, soffice_version
from bench.machine import load_average, machine
from bench.previews import Writer, pdf_pages
from bench.report import ratio, secs, write_section
from bench.server import child_figures, postgres_answers

RUNS = max(1, int(os.environ.get("BENCH_AMEND_RUNS", "") or 3))
# Set: the last accept of ten is profiled and its costliest calls printed (not written out).
PROFILE = bool(os.environ.get("BENCH_AMEND_PROFILE", ""))
PAGES = 50
WORDS = 24_000
TEN = 10
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MODULE = "bench.amend"


def step(message: str) -> None:
    print(f"[amend] {message}", flush=True)


# --- The file ---------------------------------------------------------------------------------


def make_docx(path: Path, words: int, seed: int = 50) -> int:
    """A report of about ``words`` words: headings, paragraphs in which a few words are bold,
    bulleted and numbered lists, a table every sixth section. Returns the words written."""
    from docx import Document

    w = Writer(seed)
    doc = Document()
    doc.add_heading("Annual report of the integrated care board", 0)
    section = 0
    while w.words < words:
        section += 1
        doc.add_heading(f"{section}. {w.title()}", 1)
        for _ in range(w.rng.randint(2, 4)):
            if w.words >= words:
                break
            doc.add_heading(w.title(), 2)
            for _ in range(w.rng.randint(2, 4)):
                paragraph = doc.add_paragraph()
                for n in range(w.rng.randint(3, 6)):
                    run = paragraph.add_run(w.sentence() + " ")
                    run.bold = n == 1 and w.rng.random() < 0.6
            if w.rng.random() < 0.35:
                style = "List Bullet" if w.rng.random() < 0.5 else "List Number"
                for _ in range(w.rng.randint(3, 6)):
                    doc.add_paragraph(w.sentence(5, 14), style=style)
        if section % 6 == 0:
            table = doc.add_table(rows=1, cols=4)
            table.style = "Table Grid"
            for cell, heading in zip(
                table.rows[0].cells, ["Measure", "This year", "Last year", "Target"], strict=True
            ):
                cell.text = heading
            for _ in range(6):
                cells = table.add_row().cells
                cells[0].text = w.title()
                for cell in cells[1:]:
                    cell.text = f"{w.rng.randint(0, 999):,}"
                    w.words += 1
    doc.save(str(path))
    return w.words


def docx_text(data: bytes) -> str:
    """Every paragraph's text of a .docx (body and table cells), one a line."""
    import io

    from docx import Document

    doc = Document(io.BytesIO(data))
    lines = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            lines += [cell.text for cell in row.cells]
    return "\n".join(lines)


# --- The child: the app's services, in a throw-away data directory ------------------------------


def _passages(blocks: list[Any], count: int, skip: set[str]) -> list[tuple[Any, int, int, str]]:
    """``count`` passages in paragraphs spread through the preview (none in ``skip``): the
    block, the UTF-16 range of a few words in its text, and those words. Every third one runs
    from the end of one sentence into the next, across a run boundary (and, where the second
    sentence is bold, into the bold run)."""
    from commonroom.previews.blocks import utf16_length
    from commonroom.suggestions.passages import usable_text

    usable = [
        b
        for b in blocks
        if not b.aside and not b.nested and b.id not in skip and len(usable_text(b)) > 300
    ]
    stride = max(1, len(usable) // count)
    found: list[tuple[Any, int, int, str]] = []
    for n, block in enumerate(usable[::stride][:count]):
        text = usable_text(block)
        if n % 3 == 0 and ". " in text[40:]:
            at = text.index(". ", 40)
            a, b = at - 5, at + 12  # the end of a sentence, the start of the next
        else:
            a = text.index(" ", 20) + 1
            b = text.index(" ", a + 12)
        passage = text[a:b]
        found.append((block, utf16_length(text[:a]), utf16_length(text[:b]), passage))
    return found


def child(source: Path, out: Path) -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.storage import default_storage
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection

    from commonroom.documents.selectors import document_access
    from commonroom.documents.services import document_upload
    from commonroom.previews.selectors import preview_outcome
    from commonroom.previews.services import preview_make
    from commonroom.suggestions.services import suggestion_create, suggestions_accept
    from commonroom.workspaces.selectors import workspace_access
    from commonroom.workspaces.services import workspace_create

    data = source.read_bytes()
    person = get_user_model().objects.create_user("priya@example.org", "bench-amend-" + "p" * 12)
    ws = workspace_create(actor=person, name="Board papers")

    def access(document_id: Any) -> Any:
        return document_access(user=person, workspace_id=ws.pk, document_id=document_id)

    def ready_blocks(version: Any) -> list[Any]:
        started = time.perf_counter()
        preview_make(sha=version.blob_id)
        made, blocks = preview_outcome(version.blob_id)
        if not made or blocks is None:
            raise SystemExit(f"the preview of version {version.number} could not be made")
        step(f"  preview of version {version.number}: {time.perf_counter() - started:.1f} s")
        return blocks

    def suggest(doc: Any, version: Any, place: tuple[Any, int, int, str], n: int) -> Any:
        block, start, end, passage = place
        return suggestion_create(
            actor=person,
            doc_access=access(doc.pk),
            version_number=version.number,
            block_id=block.id,
            start=start,
            end=end,
            kind="replace",
            text=f"amended as number {n} asked",
            quote=passage,
        )

    def accept(doc: Any, suggestions: list[Any], profile: bool = False) -> tuple[float, Any]:
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        version = suggestions_accept(
            actor=person, doc_access=access(doc.pk), suggestion_ids=[s.pk for s in suggestions]
        )
        seconds = time.perf_counter() - started
        if profiler is not None:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        with default_storage.open(version.blob.storage_name, "rb") as f:
            text = docx_text(f.read())  # what was accepted is what the file says
        for s in suggestions:
            if s.new_text not in text:
                raise SystemExit(f"version {version.number} lacks {s.new_text!r}")
        return seconds, version

    one: list[float] = []
    ten: list[float] = []
    sizes: list[int] = []
    for run in range(RUNS):
        uploaded = SimpleUploadedFile(f"annual-report-{run + 1}.docx", data, content_type=DOCX)
        first = document_upload(
            actor=person,
            access=workspace_access(user=person, workspace_id=ws.pk),
            uploaded=uploaded,
        )
        doc = first.document
        blocks = ready_blocks(first)
        (place,) = _passages(blocks, 1, set())
        seconds, second = accept(doc, [suggest(doc, first, place, 0)])
        one.append(seconds)
        step(f"run {run + 1}: one suggestion accepted in {seconds:.3f} s")
        blocks = ready_blocks(second)
        places = _passages(blocks, TEN, {place[0].id})
        made = [suggest(doc, second, p, n + 1) for n, p in enumerate(places)]
        seconds, third = accept(doc, made, profile=PROFILE and run == RUNS - 1)
        ten.append(seconds)
        sizes.append(third.size)
        step(f"run {run + 1}: ten suggestions accepted at once in {seconds:.3f} s")
    out.write_text(
        json.dumps(
            {
                "database": connection.vendor,
                "one": one,
                "ten": ten,
                "blocks": len(blocks),
                "size": sizes[-1],
            }
        )
    )


# --- The parent ---------------------------------------------------------------------------------


def main() -> None:
    from django.conf import settings

    from bench.run import postgres_database

    if not settings.configured:  # postgres_database closes Django's connections: none here
        settings.configure(DATABASES={})
    config = Config.from_env()
    config.base_dir.mkdir(parents=True, exist_ok=True)
    info = machine()
    work = Path(tempfile.mkdtemp(prefix="amend-work-", dir=config.base_dir))
    notes: list[str] = []
    results: list[dict[str, Any]] = []
    soffice = soffice_path(step)
    lo = soffice_version(soffice) if soffice else ""
    fresh = kept = None
    try:
        step(f"LibreOffice: {lo or 'not installed'}")
        source = work / "annual-report.docx"
        words, target, pages, first_pages = 0, WORDS, None, 0
        for _ in range(4):
            words = make_docx(source, target)
            if not soffice:
                break
            _, made, error = soffice_convert(soffice, source, "pdf", work)
            if made is None:
                notes.append(f"LibreOffice could not lay out the .docx to count its pages: {error}")
                break
            pages = pdf_pages(made)
            first_pages = first_pages or pages
            step(f"  .docx of {words:,} words: {pages} pages in LibreOffice")
            if pages == PAGES:
                break
            target = round(target * (PAGES - 0.3) / pages)
        step("SQLite")
        results.append({"label": "SQLite", **child_figures(config, MODULE, [str(source)], "")})
        pg_url = config.postgres_url or DEFAULT_PG
        if postgres_answers(pg_url):
            step(f"PostgreSQL at {redact(pg_url)}")
            with contextlib.ExitStack() as stack:
                database_url = stack.enter_context(postgres_database(pg_url))
                figures = child_figures(config, MODULE, [str(source)], database_url)
                results.append({"label": "PostgreSQL", **figures})
        else:
            notes.append(f"PostgreSQL at {redact(pg_url)} did not answer: its run was skipped.")
        if soffice:
            step("LibreOffice: open and re-save, a fresh profile each time")
            fresh = soffice_times(soffice, source, "docx", work, runs=RUNS, say=step)
            step("LibreOffice: open and re-save, one profile kept")
            kept = soffice_times(soffice, source, "docx", work, runs=RUNS, kept=True, say=step)
            for timed, how in ((fresh, "fresh"), (kept, "kept")):
                if timed.error:
                    notes.append(f"LibreOffice's re-save ({how} profile) failed: {timed.error}")
        size = source.stat().st_size
    finally:
        shutil.rmtree(work, ignore_errors=True)

    described = (
        f"The .docx: {words:,} words (headings, paragraphs with bold runs, bulleted and "
        f"numbered lists, a table every sixth section), {size / 1024:,.0f} KiB"
        + (
            f", {pages} pages as LibreOffice lays it out"
            + (
                f" (it put {WORDS:,} words on {first_pages} pages, so the words were adjusted)."
                if first_pages and first_pages != pages
                else "."
            )
            if pages
            else " (its page count is unchecked: LibreOffice is not installed)."
        )
    )
    reference = {
        "fresh": fresh.median if fresh else None,
        "kept": kept.median if kept else None,
    }
    lines = [
        "## Amending a 50-page .docx: accepting suggestions beside LibreOffice re-saving it",
        "",
        f"{info.date}, {info.describe()}, Python {info.python}; commit `{info.commit}`; load "
        f"average at the start {info.load_start}, at the end {load_average()}. "
        f"LibreOffice: {lo or 'not installed'}. Reproduce: `make bench` (or "
        "`python -m bench.amend`; `BENCH_AMEND_RUNS`).",
        "",
        described,
        "",
        "Ours: `suggestions.services.suggestions_accept`, called in a process of its own with "
        "a throw-away data directory, timed from the call to its return: the new version "
        "committed (the latest file changed through `office.wordedit` and read back, stamped, "
        "stored and fsynced; the version, the suggestions' state, their threads resolved, "
        "audit rows and every follower of the document hook in one transaction). Ten at once "
        "are ten paragraphs spread through the document, some passages crossing into a bold "
        "run. Each accepted "
        "file is read back to check it says what was accepted. LibreOffice: `soffice "
        "--headless --convert-to docx` of the same file (open and re-save), with a fresh "
        "profile each time, and with one profile kept (warmed by a first run, not counted). "
        f"Each figure is the median of {RUNS} run{'s' if RUNS > 1 else ''}. The ratio is ours "
        "÷ LibreOffice's (the goal: below 0.2).",
        "",
        "| Accepting | Database | Ours | LibreOffice re-save, kept profile | Ratio | "
        "LibreOffice re-save, fresh profile | Ratio |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for key, what in (("one", "One suggestion"), ("ten", "Ten at once")):
            ours = statistics.median(result[key]) if result[key] else None
            lines.append(
                f"| {what} | {result['label']} | {secs(ours)} | {secs(reference['kept'])} | "
                f"{ratio(ours, reference['kept'])} | {secs(reference['fresh'])} | "
                f"{ratio(ours, reference['fresh'])} |"
            )
    lines.append("")
    for result in results:
        lines.append(
            f"- {result['label']}: each run, one: "
            + ", ".join(secs(s) for s in result["one"])
            + "; ten: "
            + ", ".join(secs(s) for s in result["ten"])
            + f" (the preview has {result['blocks']:,} blocks; the last accepted file "
            f"{result['size'] / 1024:,.0f} KiB)."
        )
    lines += [*(f"- {note}" for note in notes), ""]
    text = "\n".join(lines)
    print()
    print(text)
    if config.output is not None:
        write_section(config.output, "amend", text)
        out = config.output
        step(f"figures written to {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
