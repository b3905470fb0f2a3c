"""``python -m bench.certificate`` (run by ``make bench``): the signed certificate PDF of a
50-page .docx, beside LibreOffice's own conversion of the same file.

The .docx is ``bench.amend``'s (python-docx: headings, paragraphs with bold runs, lists, a
table every sixth section; its words adjusted until LibreOffice lays it out on 50 pages). In
the same run, ``BENCH_CERTIFICATE_RUNS`` times each (default 3):

- LibreOffice alone: ``soffice --headless --convert-to pdf`` with a fresh profile, unconfined;
- ours: ``certificates.signing.certificate_pdf`` (LibreOffice in its confined child with a
  fresh profile, the certificate page drawn, the two joined, the facts embedded, signed), in
  this process with a throw-away data directory (its signing identity made before timing).

The overhead (ours minus LibreOffice's) is the cost of the confinement, the certificate page
and the signature. Each certificate made is checked with ``signing.verify``. Nothing here
fails on timing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.amend import PAGES, WORDS, make_docx
from bench.config import REPO, Config
from bench.machine import load_average, machine
from bench.previews import pdf_pages, soffice_convert, soffice_path, soffice_version
from bench.report import write_section

RUNS = max(1, int(os.environ.get("BENCH_CERTIFICATE_RUNS", "") or 3))


def step(message: str) -> None:
    print(f"[certificate] {message}", flush=True)


def secs(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:,.0f} ms" if value < 1 else f"{value:,.2f} s"


def main() -> None:
    config = Config.from_env()
    config.base_dir.mkdir(parents=True, exist_ok=True)
    info = machine()
    work = Path(tempfile.mkdtemp(prefix="certificate-work-", dir=config.base_dir))
    os.environ["COMMONROOM_DATA_DIR"] = str(work / "data")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonroom.settings")
    for name in ("COMMONROOM_RECORDS_SIGNING_KEY", "COMMONROOM_RECORDS_SIGNING_CERT"):
        os.environ.pop(name, None)
    import django

    django.setup()
    from commonroom.certificates import signing
    from commonroom.certificates.page import CertificateFacts, Decision, HistoryLine, rule_words

    soffice = soffice_path()
    if not soffice:
        step("LibreOffice is not installed: nothing to measure")
        return
    lo = soffice_version(soffice)
    notes: list[str] = []
    ours: list[float] = []
    theirs: list[float] = []
    try:
        source = work / "annual-report.docx"
        target, pages, words = WORDS, 0, 0
        for _ in range(4):
            words = make_docx(source, target)
            _, made, error = soffice_convert(soffice, source, "pdf", work)
            if made is None:
                step(f"LibreOffice could not convert the .docx: {error}")
                return
            pages = pdf_pages(made)
            step(f"  .docx of {words:,} words: {pages} pages in LibreOffice")
            if pages == PAGES:
                break
            target = round(target * (PAGES - 0.3) / pages)
        data = source.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        now = dt.datetime.now(dt.UTC)
        facts = CertificateFacts(
            workspace="Integrated care board",
            document_id="0b9a7c1e-55d4-4d8e-9d49-1f1c2f7a3e10",
            document_name="Annual report",
            version_number=4,
            file_name=source.name,
            size=len(data),
            sha256=sha,
            sealed_at=now,
            rule=rule_words(3, 3),
            decisions=[
                Decision(name, f"{n}@example.org", "approved", now, version_sha256=sha)
                for n, name in enumerate(("Zoë Ó Briain", "李雷", "Priya Shah"))
            ],
            history=[HistoryLine(now, "Approval asked of 3 people"), HistoryLine(now, "Sealed")],
        )
        signing.identity()  # made once, before timing
        cert_pages = 0
        for run in range(RUNS):
            started = time.perf_counter()
            _, made, error = soffice_convert(soffice, source, "pdf", work)
            theirs.append(time.perf_counter() - started)
            if made is None:
                notes.append(f"LibreOffice's run {run + 1} failed: {error}")
            started = time.perf_counter()
            pdf = signing.certificate_pdf(facts, data=data)
            ours.append(time.perf_counter() - started)
            result = signing.verify(pdf)
            if not result.ok:
                notes.append(f"Certificate {run + 1} did not verify: {result.problems}")
            out = work / "certificate.pdf"
            out.write_bytes(pdf)
            cert_pages = pdf_pages(out) - pages
            step(f"  run {run + 1}: LibreOffice {secs(theirs[-1])}, certificate {secs(ours[-1])}")
        size = len(data)
        pdf_size = len(pdf)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    median_ours, median_theirs = statistics.median(ours), statistics.median(theirs)
    lines = [
        "## The signed certificate PDF of a 50-page .docx, beside LibreOffice's conversion",
        "",
        f"{info.date}, {info.describe()}, Python {info.python}; commit `{info.commit}`; load "
        f"average at the start {info.load_start}, at the end {load_average()}. "
        f"LibreOffice: {lo}. Reproduce: `make bench` (or `python -m bench.certificate`; "
        "`BENCH_CERTIFICATE_RUNS`).",
        "",
        f"The .docx: `bench.amend`'s, {words:,} words, {size / 1024:,.0f} KiB, {pages} pages "
        f"as LibreOffice lays it out; the certificate PDF: {pages} + {cert_pages} pages, "
        f"{pdf_size / 1024:,.0f} KiB.",
        "",
        "LibreOffice: `soffice --headless --convert-to pdf` with a fresh profile, unconfined. "
        "Ours: `certificates.signing.certificate_pdf`, the same conversion in its confined "
        "child (Landlock, the local-socket seccomp filter, limits) with a fresh profile, then "
        "the certificate page drawn (fpdf2), the two joined with the record's facts (pypdf) "
        "and signed (pyHanko, PAdES B-B, EC P-256); every certificate was checked with "
        f"`signing.verify`. Medians of {RUNS} run{'s' if RUNS > 1 else ''}, side by side in "
        "one run. The overhead (ours minus LibreOffice's) is the figure.",
        "",
        "| LibreOffice's conversion | The certificate PDF | Overhead |",
        "|---:|---:|---:|",
        f"| {secs(median_theirs)} | {secs(median_ours)} | "
        f"**{secs(median_ours - median_theirs)}** |",
        "",
        "- Each run, LibreOffice: "
        + ", ".join(secs(s) for s in theirs)
        + "; certificate: "
        + ", ".join(secs(s) for s in ours)
        + ".",
        *(f"- {note}" for note in notes),
        "",
    ]
    text = "\n".join(lines)
    print()
    print(text)
    if config.output is not None:
        write_section(config.output, "certificate", text)
        out_path = config.output
        shown = out_path.relative_to(REPO) if out_path.is_relative_to(REPO) else out_path
        step(f"figures written to {shown}")


if __name__ == "__main__":
    main()
    sys.exit(0)
