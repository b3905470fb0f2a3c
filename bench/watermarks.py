"""``python -m bench.watermarks`` (run by ``make bench``): what a reader's watermark costs
(issue 15), with and without it, in the same run.

The files are those of ``bench.previews``: a .docx of 17,500 words (the words LibreOffice lays
out on 50 pages there) and a 200-page PDF of Helvetica text written by hand.

- The first page of the PDF: drawn as the app draws it when first asked for
  (``previews.sandbox.run_converter("pdf-page-1")``, a confined child), then, for a reader who
  may not download, with their watermark drawn in (``previews.watermark.watermark_bytes``, in
  the server's process). Also the watermark alone: what a second reader's first view of an
  already drawn page costs (later views of the same reader and day come from the cache).
- The 50-page .docx: the preview converted as the app does (``run_converter("docx")``: the
  same with or without a watermark, as the overlay is added when the page is shown), then
  the page shown in Chromium (the preview's HTML with the app's style sheets, ``set_content``
  until two frames are painted) and printed (``page.pdf()``, A4), with and without the
  overlay and its printed layer (``templates/previews/_watermark.html``,
  ``_print_watermark.html``). Without Chromium that part is skipped.

Each figure is the median of ``BENCH_PREVIEW_RUNS`` runs (default 3); the ratio is with ÷
without. Nothing here fails on timing.
"""

from __future__ import annotations

import datetime
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.config import REPO, Config
from bench.machine import load_average, machine
from bench.previews import RUNS, make_docx, make_plain_pdf
from bench.report import ratio, secs, write_section

DOCX_WORDS = 17_500
PDF_PAGES = 200
CHROMIUM = "/usr/bin/chromium"
STATIC = REPO / "src" / "commonroom" / "static"
TEMPLATES = REPO / "src" / "commonroom" / "templates"


def step(message: str) -> None:
    print(f"[watermarks] {message}", flush=True)


def median_of(what: str, run: Callable[[], object]) -> float:
    times = []
    for n in range(RUNS):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
        step(f"  {what}, run {n + 1}: {times[-1]:.3f} s")
    return statistics.median(times)


def convert(fmt: str, source: Path, work: Path) -> tuple[float, list[Path], str]:
    """``run_converter`` once: seconds, the files it made, its HTML."""
    from commonroom.previews.sandbox import run_converter

    outdir = Path(tempfile.mkdtemp(prefix=f"{fmt}-", dir=work))
    started = time.perf_counter()
    outcome = run_converter(fmt, source, outdir)
    seconds = time.perf_counter() - started
    if not outcome.ok or outcome.result is None:
        raise RuntimeError(f"{fmt} of {source.name} failed: {outcome.message}")
    return seconds, sorted(outdir.rglob("*.png")), outcome.result.html


def page_html(preview: str, overlay: str) -> str:
    css = "\n".join(
        (STATIC / name).read_text()
        for name in (
            "vendor/nhsuk-frontend/nhsuk-frontend.min.css",
            "commonroom/app.css",
            "commonroom/watermarks.css",
        )
    )
    body = f'<div class="cr-preview__body">{preview}</div>'
    if overlay:
        body = f'<div class="cr-watermarked">{body}{overlay}</div>'
    return (
        f"<!DOCTYPE html><html lang='en-GB'><head><meta charset='utf-8'><style>{css}</style>"
        f"</head><body><main class='nhsuk-width-container'><div class='cr-preview'>{body}"
        "</div></main></body></html>"
    )


def overlay_html(line: str) -> str:
    from django.template import Context, Engine

    from commonroom.core.watermark import Watermark

    engine = Engine(dirs=[str(TEMPLATES)])
    mark = Watermark("Aisha Khan", "aisha.khan@guest.example.com", datetime.date(2026, 12, 5))
    context = Context(
        {
            "watermark": mark,
            "document": {"pk": "bench"},
            "tile_width": len(mark.line) * 9 + 220,
            "stagger": 200,
        }
    )
    return "".join(
        engine.get_template(f"previews/{name}.html").render(context)
        for name in ("_watermark", "_print_watermark")
    )


def main() -> None:
    from django.conf import settings

    if not settings.configured:
        settings.configure(DATABASES={}, USE_TZ=True, TIME_ZONE="Europe/London")
    import django

    django.setup()
    from commonroom.core.watermark import Watermark
    from commonroom.previews.watermark import watermark_bytes

    config = Config.from_env()
    config.base_dir.mkdir(parents=True, exist_ok=True)
    info = machine()
    work = Path(tempfile.mkdtemp(prefix="watermarks-", dir=config.base_dir))
    rows: list[str] = []
    notes: list[str] = []
    mark = Watermark("Aisha Khan", "aisha.khan@guest.example.com", datetime.date(2026, 12, 5))
    try:
        pdf = work / "minutes-200-pages.pdf"
        make_plain_pdf(pdf, PDF_PAGES)
        docx = work / "report-50-pages.docx"
        words = make_docx(docx, DOCX_WORDS)

        step("PDF page 1, drawn")
        drawn: list[float] = []
        marked: list[float] = []
        alone: list[float] = []
        for n in range(RUNS):
            seconds, pngs, _ = convert("pdf-page-1", pdf, work)
            data = pngs[0].read_bytes()
            started = time.perf_counter()
            watermark_bytes(data, "image/png", mark)
            extra = time.perf_counter() - started
            drawn.append(seconds)
            marked.append(seconds + extra)
            alone.append(extra)
            step(f"  run {n + 1}: drawn {seconds:.3f} s, watermark {extra:.3f} s")
        page_size = len(data)
        marked_size = len(watermark_bytes(data, "image/png", mark)[0])
        without, with_ = statistics.median(drawn), statistics.median(marked)
        rows.append(
            f"| PDF page 1 of {PDF_PAGES}, first view: drawn (1,200 px PNG) | {secs(without)} "
            f"| {secs(with_)} | {ratio(with_, without)} |"
        )
        read_once = median_of("page read from disk", lambda: pngs[0].read_bytes())
        mark_only = statistics.median(alone)
        rows.append(
            "| PDF page 1 already drawn, another reader's first view: the stored page read; "
            "the watermark drawn into it (then cached for that reader and day) "
            f"| {secs(read_once)} | {secs(mark_only)} | - |"
        )
        notes.append(
            f"The page's PNG: {page_size / 1024:,.0f} KiB as drawn, "
            f"{marked_size / 1024:,.0f} KiB watermarked (256 colours, as drawn)."
        )

        step("docx preview, converted")
        converted, _, html = convert("docx", docx, work)
        times = [converted] + [convert("docx", docx, work)[0] for _ in range(RUNS - 1)]
        conversion = statistics.median(times)
        rows.append(
            f"| {words:,}-word (50-page) .docx → HTML preview (the same either way) "
            f"| {secs(conversion)} | {secs(conversion)} | {ratio(conversion, conversion)} |"
        )
        overlay = overlay_html(mark.line)
        if Path(CHROMIUM).exists():
            from playwright.sync_api import sync_playwright

            plain_page, marked_page = page_html(html, ""), page_html(html, overlay)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
                )
                page = browser.new_page(viewport={"width": 1280, "height": 900})

                def show(content: str) -> Callable[[], object]:
                    def run() -> object:
                        page.set_content(content, wait_until="load")
                        return page.evaluate(
                            "() => new Promise(r => requestAnimationFrame("
                            "() => requestAnimationFrame(r)))"
                        )

                    return run

                def printed(content: str) -> Callable[[], object]:
                    page.set_content(content, wait_until="load")
                    return lambda: page.pdf(format="A4")

                shown = median_of("shown", show(plain_page))
                shown_marked = median_of("shown, watermarked", show(marked_page))
                sheets = median_of("printed", printed(plain_page))
                sheets_marked = median_of("printed, watermarked", printed(marked_page))
                browser.close()
            rows.append(
                "| The .docx preview shown in Chromium at 1,280 px (laid out and painted) "
                f"| {secs(shown)} | {secs(shown_marked)} | {ratio(shown_marked, shown)} |"
            )
            rows.append(
                "| The .docx preview printed by Chromium (`page.pdf()`, A4) "
                f"| {secs(sheets)} | {secs(sheets_marked)} | {ratio(sheets_marked, sheets)} |"
            )
        else:
            notes.append(f"Chromium ({CHROMIUM}) is not installed: the browser rows are missing.")
        notes.append(
            f"The .docx preview's HTML: {len(html.encode()) / 1024:,.0f} KiB; the overlay adds "
            f"{len(overlay.encode()):,} bytes (one SVG pattern, whatever the length, and the "
            "printed layer). Printed, the pattern is replaced by a fixed layer of the words, "
            "repeated on each sheet: printing the pattern itself took about 8 times as long "
            "(Chromium writes its every word out on every sheet, about 70 KiB a sheet)."
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lines = [
        "## Watermarks (issue 15): previews with and without the reader's watermark",
        "",
        f"{info.date}, {info.describe()}, Python {info.python}; commit `{info.commit}`; load "
        f"average at the start {info.load_start}, at the end {load_average()}. Reproduce: "
        "`make bench` (or `python -m bench.watermarks`).",
        "",
        "A PDF page's watermark is drawn by the server into the page's picture, per reader and "
        "day (then cached); an HTML preview's is an SVG pattern laid over it by the page. Each "
        f"figure is the median of {RUNS} run{'s' if RUNS > 1 else ''}; the ratio is with ÷ "
        "without.",
        "",
        "| What | Without | With the watermark | Ratio |",
        "|---|---:|---:|---:|",
        *rows,
        "",
        *(f"- {note}" for note in notes),
        "",
    ]
    text = "\n".join(lines)
    print()
    print(text)
    if config.output is not None:
        write_section(config.output, "watermarks", text)
        out = config.output
        step(f"figures written to {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")


if __name__ == "__main__":
    main()
