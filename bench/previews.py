"""``python -m bench.previews`` (run by ``make bench``): how long a preview takes (issue 4).

Two files are made in a temporary folder: a .docx of about 50 pages (python-docx: headings,
paragraphs of ordinary words, a few tables and bullet lists, about 25,000 words; when LibreOffice
is installed its page count is checked by converting it to PDF and the word count adjusted until
LibreOffice lays it out on 50 pages) and a 200-page PDF with real text on every page (LibreOffice's
PDF of a generated 200-page .docx, one page per section; without LibreOffice a plain PDF written
here, Helvetica text on each page).

Our preview is timed the way the app makes it: ``previews.sandbox.run_converter`` (a limited child
process) for ``docx`` and ``pdf``, and for ``pdf-page-<n>`` (a PDF page drawn when a reader first
asks for it) on pages 1, 100 and 200. Each figure is the median of ``BENCH_PREVIEW_RUNS`` runs
(default 3). Beside it, in the same run, where ``soffice`` is on the PATH: ``soffice --headless
--convert-to html`` (and ``pdf``) of the same .docx, a fresh profile
(``-env:UserInstallation``) per run; for the PDF, LibreOffice's own import is tried and what
happened is said; ``pdftoppm`` (poppler) draws the same pages where it is installed. The ratio
(ours ÷ the reference) is the figure that travels. Nothing here fails on timing.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.config import REPO, Config
from bench.libreoffice import Timed, soffice_convert, soffice_path, soffice_times, soffice_version
from bench.machine import load_average, machine
from bench.report import TIMES, ratio, secs, write_section

RUNS = max(1, int(os.environ.get("BENCH_PREVIEW_RUNS", "") or 3))
DOCX_PAGES = 50
DOCX_WORDS = 25_000
PDF_PAGES = 200
PDF_WORDS_PER_PAGE = 270
PAGES_DRAWN = (1, 100, 200)

_WORDS = """
the of and to in a is that for it as was with be by on not he this are or his from at which
but have an they you were her she there all one their we been has when who will more no if out
so said what up its about into than them can only other new some could time these two may then
do first any my now such like our over man me even most made after also did many before must
through back years where much your way well down should because each just those people how too
little state good very make world still own see men work long get here between both life being
under never day same another know while last might us great old year off come since against go
came right used take three patient patients ward clinic nurse consultant registrar discharge
admission referral pathway service services care team teams trust board meeting minutes agenda
action actions review report audit governance policy procedure guideline protocol budget finance
staffing rota shift handover theatre outpatient emergency elective waiting list target winter
pressure capacity bed beds infection control hygiene vaccination community district hospital
primary secondary integrated safeguarding incident complaint feedback family carer medication
pharmacy prescription antibiotic oxygen monitoring assessment escalation training induction
appraisal quality safety risk register improvement plan quarter annual data dashboard evidence
outcome outcomes measure measures agreed noted approved proposed recommended further update
updated progress delivery capital estates equipment digital records system systems access
information clinical operational strategic financial workforce recruitment retention vacancy
agency locum overtime sickness absence wellbeing support lead leads director manager chair
committee group partners commissioners regional national standard standards compliance inspection
"""
WORDS = list(dict.fromkeys(_WORDS.split()))
TABLE_HEADINGS = ["Measure", "This quarter", "Last quarter", "Target"]


def step(message: str) -> None:
    print(f"[previews] {message}", flush=True)


# -- the files ---------------------------------------------------------------------------------


class Writer:
    """Sentences of ordinary words, counted."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words = 0

    def sentence(self, low: int = 8, high: int = 22) -> str:
        n = self.rng.randint(low, high)
        picked = self.rng.choices(WORDS, k=n)
        if n > 10 and self.rng.random() < 0.4:
            picked[self.rng.randint(3, n - 4)] += ","
        self.words += n
        return " ".join(picked).capitalize() + "."

    def paragraph(self, low: int = 3, high: int = 6) -> str:
        return " ".join(self.sentence() for _ in range(self.rng.randint(low, high)))

    def title(self) -> str:
        n = self.rng.randint(2, 6)
        self.words += n
        return " ".join(self.rng.choices(WORDS, k=n)).capitalize()


def make_docx(path: Path, words: int, seed: int = 4) -> int:
    """A flowing document of about ``words`` words; returns the number written."""
    from docx import Document

    w = Writer(seed)
    doc = Document()
    doc.add_heading("Quarterly operational and clinical governance report", 0)
    section = 0
    while w.words < words:
        section += 1
        doc.add_heading(f"{section}. {w.title()}", 1)
        for _ in range(w.rng.randint(2, 4)):
            if w.words >= words:
                break
            doc.add_heading(w.title(), 2)
            for _ in range(w.rng.randint(2, 4)):
                doc.add_paragraph(w.paragraph())
                if w.words >= words:
                    break
            if w.rng.random() < 0.3:
                for _ in range(w.rng.randint(3, 6)):
                    doc.add_paragraph(w.sentence(5, 14), style="List Bullet")
        if section % 8 == 0:
            table = doc.add_table(rows=1, cols=len(TABLE_HEADINGS))
            table.style = "Table Grid"
            for cell, heading in zip(table.rows[0].cells, TABLE_HEADINGS, strict=True):
                cell.text = heading
            for _ in range(8):
                cells = table.add_row().cells
                cells[0].text = w.title()
                for cell in cells[1:]:
                    cell.text = f"{w.rng.randint(0, 999):,}"
                    w.words += 1
    doc.save(str(path))
    return w.words


def make_paged_docx(path: Path, pages: int, seed: int = 200) -> int:
    """``pages`` sections, each ending with a page break and short enough for one page."""
    from docx import Document
    from docx.enum.text import WD_BREAK

    w = Writer(seed)
    doc = Document()
    for page in range(1, pages + 1):
        doc.add_heading(f"Section {page}: {w.title()}", 1)
        start = w.words
        while w.words - start < PDF_WORDS_PER_PAGE - 60:
            doc.add_paragraph(w.paragraph(2, 4))
        for _ in range(3):
            doc.add_paragraph(w.sentence(5, 12), style="List Bullet")
        if page < pages:
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    doc.save(str(path))
    return w.words


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_plain_pdf(path: Path, pages: int, seed: int = 200) -> int:
    """A valid PDF written by hand: ``pages`` A4 pages of Helvetica text (used when LibreOffice
    is not installed)."""
    w = Writer(seed)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, filled in below
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    kids = []
    for page in range(1, pages + 1):
        lines = [f"Section {page}: {w.title()}"]
        text = " ".join(w.paragraph(2, 4) for _ in range(4))
        line = ""
        for word in text.split():
            if len(line) + len(word) > 90:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.append(line)
        ops = ["BT", "/F1 10 Tf", "14 TL", "56 790 Td"]
        ops += [f"({_pdf_escape(text_line)}) '" for text_line in lines[:52]]
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % content
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    path.write_bytes(bytes(out))
    return w.words


def pdf_pages(path: Path) -> int:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(path)
    try:
        return len(document)
    finally:
        document.close()


def ours(fmt: str, source: Path, work: Path) -> tuple[Timed, int | None, str]:
    """``run_converter(fmt, ...)`` ``RUNS`` times: the times, the page count, notes."""
    from commonroom.previews.sandbox import run_converter

    timed = Timed([])
    pages: int | None = None
    notes = ""
    for n in range(RUNS):
        folder = Path(tempfile.mkdtemp(prefix=f"{fmt}-", dir=work))
        outdir = folder / "out"
        outdir.mkdir()
        started = time.perf_counter()
        outcome = run_converter(fmt, source, outdir)
        seconds = time.perf_counter() - started
        shutil.rmtree(folder, ignore_errors=True)
        step(f"  ours {fmt} of {source.name}, run {n + 1}: {seconds:.3f} s")
        if not outcome.ok or outcome.result is None:
            return Timed(timed.seconds, outcome.message), None, ""
        timed.seconds.append(seconds)
        pages = outcome.result.page_count
        notes = " ".join(outcome.result.notes)
    return timed, pages, notes


def pdftoppm_times(pdftoppm: str, source: Path, page: int, work: Path) -> Timed:
    timed = Timed([])
    for _ in range(RUNS):
        outdir = Path(tempfile.mkdtemp(prefix="ppm-", dir=work))
        started = time.perf_counter()
        result = subprocess.run(
            [
                pdftoppm,
                "-png",
                "-f",
                str(page),
                "-l",
                str(page),
                "-scale-to-x",
                "1200",
                "-scale-to-y",
                "-1",
                str(source),
                str(outdir / "page"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        timed.seconds.append(time.perf_counter() - started)
        shutil.rmtree(outdir, ignore_errors=True)
        if result.returncode != 0:
            return Timed(timed.seconds, f"exit {result.returncode}: {result.stderr.strip()[:200]}")
    return timed


# -- the table ---------------------------------------------------------------------------------


@dataclass
class Row:
    what: str
    ours: float | None
    reference: float | None
    reference_label: str  # shown when there is no reference figure, or to name it

    def line(self) -> str:
        reference = secs(self.reference) if self.reference is not None else "-"
        if self.reference_label:
            reference = (
                f"{reference} ({self.reference_label})"
                if self.reference is not None
                else self.reference_label
            )
        return (
            f"| {self.what} | {secs(self.ours)} | {reference} | "
            f"{ratio(self.ours, self.reference)} |"
        )


def main() -> None:
    from django.conf import settings

    if not settings.configured:  # the app's defaults: 60 s, 1,024 MiB per preview
        settings.configure(DATABASES={})
    config = Config.from_env()
    config.base_dir.mkdir(parents=True, exist_ok=True)
    info = machine()
    work = Path(tempfile.mkdtemp(prefix="previews-", dir=config.base_dir))
    rows: list[Row] = []
    notes: list[str] = []
    soffice = soffice_path(step)
    pdftoppm = shutil.which("pdftoppm")
    try:
        lo = soffice_version(soffice) if soffice else ""
        step(f"LibreOffice: {lo or 'not installed'}; pdftoppm: {pdftoppm or 'not installed'}")

        # The 50-page .docx, its words adjusted until LibreOffice lays it out on 50 pages.
        docx = work / "report-50-pages.docx"
        words, target, docx_pages, first_pages = 0, DOCX_WORDS, None, 0
        for _ in range(4):
            words = make_docx(docx, target)
            if not soffice:
                break
            _, made, error = soffice_convert(soffice, docx, "pdf", work)
            if made is None:
                notes.append(f"LibreOffice could not lay out the .docx to count its pages: {error}")
                break
            docx_pages = pdf_pages(made)
            first_pages = first_pages or docx_pages
            step(f"  .docx of {words:,} words: {docx_pages} pages in LibreOffice")
            if docx_pages == DOCX_PAGES:
                break
            target = round(target * (DOCX_PAGES - 0.3) / docx_pages)
        size = docx.stat().st_size
        docx_what = (
            f"{docx_pages}-page .docx" if docx_pages else f".docx meant for {DOCX_PAGES} pages"
        )
        described = [
            f"The .docx: {words:,} words (headings, paragraphs, bullet lists, a table every eight "
            f"sections), {size / 1024:,.0f} KiB"
            + (
                f", {docx_pages} pages as LibreOffice lays it out"
                + (
                    f" (LibreOffice put {DOCX_WORDS:,} words of it on {first_pages} pages, "
                    "so the words were cut until it made 50)."
                    if first_pages and first_pages != docx_pages
                    else "."
                )
                if docx_pages
                else " (its page count is unchecked: LibreOffice is not installed)."
            )
        ]

        # The 200-page PDF.
        pdf = work / "minutes-200-pages.pdf"
        if soffice:
            source = work / "minutes-200-pages.docx"
            pdf_words = make_paged_docx(source, PDF_PAGES)
            _, made, error = soffice_convert(soffice, source, "pdf", work)
            if made is not None:
                shutil.move(made, pdf)
                origin = f"LibreOffice's PDF of a generated {PDF_PAGES}-section .docx"
            else:
                notes.append(f"LibreOffice could not make the PDF ({error}); written by hand.")
        if not pdf.exists():
            pdf_words = make_plain_pdf(pdf, PDF_PAGES)
            origin = "written by hand here (Helvetica text on each page)"
        real_pdf_pages = pdf_pages(pdf)
        described.append(
            f"The PDF: {real_pdf_pages} pages, {pdf_words:,} words, "
            f"{pdf.stat().st_size / 1024:,.0f} KiB, {origin}."
        )

        step("ours: the sandbox alone (a one-line .txt)")
        tiny = work / "one-line.txt"
        tiny.write_text("One line.\n")
        ours_tiny, _, _ = ours("txt", tiny, work)
        step(f"ours: docx ({docx_what})")
        ours_docx, _, _ = ours("docx", docx, work)
        if ours_docx.error:
            notes.append(f"Our .docx preview failed: {ours_docx.error}")
        step("ours: pdf")
        ours_pdf, _, pdf_notes = ours("pdf", pdf, work)
        if ours_pdf.error:
            notes.append(f"Our PDF preview failed: {ours_pdf.error}")
        if pdf_notes:
            notes.append(f"Our PDF preview's notes: {pdf_notes}")
        pages = [p for p in PAGES_DRAWN if p <= real_pdf_pages]
        drawn: dict[int, Timed] = {}
        for page in pages:
            step(f"ours: pdf page {page}")
            drawn[page], _, _ = ours(f"pdf-page-{page}", pdf, work)

        lo_html = lo_pdf = lo_from_pdf = None
        if soffice:
            step("LibreOffice: docx -> html")
            lo_html = soffice_times(soffice, docx, "html", work, runs=RUNS, say=step)
            step("LibreOffice: docx -> pdf")
            lo_pdf = soffice_times(soffice, docx, "pdf", work, runs=RUNS, say=step)
            step("LibreOffice: its own PDF import, once")
            seconds, _, error = soffice_convert(soffice, pdf, "html", work)
            lo_from_pdf = error or f"opened it in {seconds:.1f} s"
        ppm: dict[int, Timed] = {}
        if pdftoppm:
            for page in pages:
                step(f"pdftoppm: page {page}")
                ppm[page] = pdftoppm_times(pdftoppm, pdf, page, work)

        absent = "not installed"
        rows.append(
            Row(
                "The sandbox alone: a one-line .txt (a child process started, limited, answered)",
                ours_tiny.median,
                None,
                "-",
            )
        )
        rows.append(
            Row(
                f"{docx_what} → HTML",
                ours_docx.median,
                lo_html.median if lo_html else None,
                (lo_html.error if lo_html and lo_html.error else "")
                if soffice
                else "LibreOffice " + absent,
            )
        )
        if lo_pdf is not None:
            rows.append(
                Row(
                    f"{docx_what}: ours → HTML; LibreOffice → PDF",
                    ours_docx.median,
                    lo_pdf.median,
                    lo_pdf.error,
                )
            )
        pdf_reference = "LibreOffice " + absent
        if lo_from_pdf is not None:
            pdf_reference = (
                "LibreOffice's PDF import is not installed here (Writer only, no Draw): "
                f"`--convert-to html` of the PDF gave {lo_from_pdf}"
            )
        rows.append(
            Row(
                f"{real_pdf_pages}-page PDF → page list and searchable text (nothing drawn)",
                ours_pdf.median,
                None,
                pdf_reference,
            )
        )
        per_page: list[float] = []
        for page in pages:
            mine = drawn[page]
            per_page += mine.seconds if not mine.error else []
            theirs = ppm.get(page)
            rows.append(
                Row(
                    f"PDF page {page} drawn, 1,200 px wide PNG",
                    mine.median,
                    theirs.median if theirs else None,
                    ("pdftoppm" if not theirs.error else f"pdftoppm: {theirs.error}")
                    if theirs
                    else f"pdftoppm (poppler-utils) {absent}",
                )
            )
            if mine.error:
                notes.append(f"Drawing page {page} failed: {mine.error}")
        page_median = statistics.median(per_page) if per_page else None
        ppm_all = [s for t in ppm.values() if not t.error for s in t.seconds]
        ppm_median = statistics.median(ppm_all) if ppm_all else None
        rows.append(
            Row(
                f"All {real_pdf_pages} pages drawn: **estimate**, median page {TIMES} "
                f"{real_pdf_pages} (pages are drawn one at a time, when first asked for)",
                page_median * real_pdf_pages if page_median is not None else None,
                ppm_median * real_pdf_pages if ppm_median is not None else None,
                "pdftoppm, same estimate" if ppm_median is not None else "-",
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lines = [
        "## Previews (issue 4): a 50-page .docx and a 200-page PDF beside LibreOffice",
        "",
        f"{info.date}, {info.describe()}, Python {info.python}; commit `{info.commit}`; load "
        f"average at the start {info.load_start}, at the end {load_average()}. "
        f"LibreOffice: {lo or 'not installed'}; pdftoppm: "
        f"{'installed' if pdftoppm else 'not installed'}. Reproduce: `make bench` "
        "(or `python -m bench.previews`).",
        "",
        *described,
        "",
        "Ours is timed the way the app makes a preview: `previews.sandbox.run_converter` (a new "
        "Python child process with its memory, CPU and file limits, the app's defaults), from "
        "start to its checked answer. LibreOffice is `soffice --headless --convert-to …` with a "
        "fresh profile (`-env:UserInstallation`) each run, so its start-up and first-run "
        f"profile are in its figure, as they are for a converter started per file. Each figure "
        f"is the median of {RUNS} run{'s' if RUNS > 1 else ''}. The ratio is ours ÷ the "
        "reference (below 1: ours is quicker).",
        "",
        "| What | Ours | Reference | Ratio |",
        "|---|---:|---|---:|",
        *(row.line() for row in rows),
        "",
    ]
    if notes:
        lines += [*(f"- {note}" for note in notes), ""]
    text = "\n".join(lines)
    print()
    print(text)
    if config.output is not None:
        write_section(config.output, "previews", text)
        out = config.output
        step(f"figures written to {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")


if __name__ == "__main__":
    main()
