"""The figures as Markdown: printed, and written into docs/benchmarks.md.

Each benchmark owns one section of the file, between ``<!-- bench:KEY -->`` and
``<!-- /bench:KEY -->``; a run rewrites only its own section, so benchmarks added later (and the
same benchmark on another database) keep theirs.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.config import MIB, REPO, Config
from bench.machine import Machine
from bench.pages import LoadResult, QueryCount
from bench.upload import DdResult, UploadResult

TIMES = "\N{MULTIPLICATION SIGN}"
# Issue 16's budget for a 1 GiB upload: at least this fraction of dd's speed on the same disk,
# and the server's peak resident memory under this many MiB.
BUDGET_DD_RATIO = 0.8
BUDGET_PEAK_MIB = 100

HEADER = """\
# Benchmarks

Figures from `make bench` (`.venv/bin/python -m bench.run`), measured against the real server
(`commonroom serve`: uvicorn, ASGI, one process) on loopback, with its own temporary data
directory on the same disk as the checkout. They are measurements, not tests: nothing fails on
timing. Each section is rewritten by the run that produced it and names the machine, the commit
and the command that reproduces it. On a shared or busy machine figures vary from run to run (the
load average at the start and end of each run is recorded); the ratios measured within one run
(upload against `dd` on the same disk) travel better than absolute figures.
"""


@dataclass(frozen=True)
class Budget:
    """What a page must answer within (issue 16): p50 and p99 with one connection, and, where
    set, at most ``times_reference`` times the sign-in page's p50 in the same run."""

    p50_ms: float
    p99_ms: float
    times_reference: float | None = None

    def describe(self) -> str:
        words = f"p50 < {self.p50_ms:g} ms, p99 < {self.p99_ms:g} ms"
        if self.times_reference is not None:
            words += f", < {self.times_reference:g}{TIMES} sign-in"
        return words

    def met(self, load: LoadResult, reference_p50_ms: float | None) -> bool:
        within = load.p50_ms < self.p50_ms and load.p99_ms < self.p99_ms and not load.errors
        if self.times_reference is not None:
            within = (
                within
                and bool(reference_p50_ms)
                and (load.p50_ms < self.times_reference * (reference_p50_ms or 0))
            )
        return within


@dataclass
class PageFigures:
    name: str
    path: str
    size_bytes: int
    queries: QueryCount
    small_queries: QueryCount
    small_label: str
    cpu_ms: float = 0.0
    loads: list[LoadResult] = field(default_factory=list)
    budget: Budget | None = None

    def load_with(self, connections: int) -> LoadResult | None:
        return next((load for load in self.loads if load.connections == connections), None)


@dataclass(frozen=True)
class UploadRound:
    """One upload with the ``dd`` runs just before and just after it: its ratio is set against
    their mean, so a disk that sped up or slowed down between rounds moves both sides."""

    dd_before: DdResult
    upload: UploadResult
    dd_after: DdResult

    @property
    def dd_mb_per_s(self) -> float:
        return (self.dd_before.mb_per_s + self.dd_after.mb_per_s) / 2

    @property
    def ratio(self) -> float:
        return self.upload.mb_per_s / self.dd_mb_per_s


@dataclass
class Results:
    config: Config
    machine: Machine
    database: str
    data_disk: str
    free_before: int
    seed_seconds: float
    documents: int
    versions: int
    members: int = 0
    heavy: str = ""
    upload_skipped: str = ""
    warmup: UploadResult | None = None
    uploads: list[UploadResult] = field(default_factory=list)
    dd_runs: list[DdResult] = field(default_factory=list)  # one before each upload, one after
    rss_idle_kib: int = 0
    pages: list[PageFigures] = field(default_factory=list)
    rss_after_pages_kib: int = 0
    generator: str = ""
    load_end: str = ""
    total_seconds: float = 0.0

    @property
    def rounds(self) -> list[UploadRound]:
        """Each upload between the ``dd`` runs either side of it."""
        return [
            UploadRound(self.dd_runs[i], u, self.dd_runs[i + 1])
            for i, u in enumerate(self.uploads)
            if i + 1 < len(self.dd_runs)
        ]

    @property
    def ratio(self) -> float:
        """The median of the rounds' ratios: the figure set against the budget."""
        rounds = self.rounds
        return statistics.median(r.ratio for r in rounds) if rounds else 0.0

    @property
    def key(self) -> str:
        return "foundation-" + self.database.split()[0].lower()


def mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def gib(n: int) -> str:
    return f"{n / 1024**3:,.1f} GiB"


def ms(value: float) -> str:
    return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"


def secs(value: float | None) -> str:
    """Seconds as a table shows them (milliseconds under one second); ``-`` for none."""
    if value is None:
        return "-"
    return f"{value * 1000:,.0f} ms" if value < 1 else f"{value:,.2f} s"


def ratio(a: float | None, b: float | None) -> str:
    """``a`` ÷ ``b`` in bold, the figure that travels; ``-`` when either is missing."""
    if a is None or b is None or b <= 0:
        return "-"
    return f"**{a / b:,.2f}{TIMES}**"


def latency(load: LoadResult, value: float) -> str:
    return ms(value) if load.requests else "none answered"


def render(r: Results) -> str:
    c, m = r.config, r.machine
    lines = [
        f"## Foundation (issue 2): upload and pages, {r.database}",
        "",
        "| Run | |",
        "|---|---|",
        f"| Date | {m.date} |",
        f"| Machine | {m.describe()}, Python {m.python} |",
        f"| Load average (1/5/15 min) | start {m.load_start}; end {r.load_end} |",
        f"| Commit | `{m.commit}` |",
        f"| Database | {r.database} |",
        f"| Data directory disk | {r.data_disk}; {gib(r.free_before)} free before the run |",
        f"| Command | `{c.command()}` |",
        f"| Duration of the run | {r.total_seconds:,.0f} s |",
        "",
    ]
    lines += _upload_lines(r)
    lines += _page_lines(r)
    return "\n".join(lines).rstrip() + "\n"


def _upload_lines(r: Results) -> list[str]:
    c = r.config
    lines = [f"### Upload of a {c.upload_mb:,} MiB file", ""]
    rounds = r.rounds
    if not rounds or r.warmup is None:
        return [*lines, f"Not measured: {r.upload_skipped or 'no upload between two dd runs'}", ""]
    w = r.warmup
    ratios = [x.ratio for x in rounds]
    dd = [d.mb_per_s for d in r.dd_runs]
    cpu_per_gib = [u.server_cpu_seconds / (u.size_bytes / 1024**3) for u in r.uploads]
    peak = max(r.uploads, key=lambda u: u.peak_kib)
    median = r.ratio
    met = median >= BUDGET_DD_RATIO
    lines += [
        "`POST /api/v1/workspaces/{id}/documents`, multipart, streamed by the client with a "
        "`Content-Length`, with a write token; timed from the first byte sent to the `201` "
        "answer (the server has hashed, stored and fsynced the blob and committed the version); "
        "the SHA-256 and size the server reports are checked against what was sent. "
        "MB = 10^6 bytes. The reference is `dd if=/dev/zero bs=1M conv=fsync` writing as much "
        "to the same disk (a new file, fsynced, removed after): "
        f"{len(rounds)} uploads alternate with {len(r.dd_runs)} `dd` runs "
        "(`dd`, upload, `dd`, ..., `dd`; everything synced before each), and each upload is "
        "set against the mean of the two `dd` runs either side of it, since this disk's speed "
        "moves between runs a minute apart. The ratio is the median of the rounds'; a ratio "
        "above 1 means the disk was faster for the upload than for `dd` either side of it. "
        "The upload also needs CPU where `dd` needs little: the server's event loop receives "
        "the body, another thread parses, hashes (SHA-256) and writes it, and the client, on "
        "the same machine, sends it; the CPU columns show what each took.",
        "",
        "| Round | `dd` before | Upload | `dd` after | Upload / mean of its `dd` | Server CPU "
        "(event loop + other threads) | Client CPU | Body sent / server busy after | Peak RSS |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for n, x in enumerate(rounds, 1):
        u = x.upload
        lines.append(
            f"| {n} | {x.dd_before.mb_per_s:,.0f} MB/s | {u.mb_per_s:,.0f} MB/s "
            f"({u.seconds:,.2f} s) | {x.dd_after.mb_per_s:,.0f} MB/s | {x.ratio:.2f} "
            f"| {u.server_cpu_seconds:,.2f} s ({u.server_loop_cpu_seconds:,.2f} + "
            f"{u.server_cpu_seconds - u.server_loop_cpu_seconds:,.2f} s) "
            f"| {u.client_cpu_seconds:,.2f} s | {u.sent_seconds:,.2f} s / "
            f"{u.seconds - u.sent_seconds:,.2f} s | {u.peak_kib / 1024:,.1f} MiB |"
        )
    spread = f"{min(ratios):.2f} to {max(ratios):.2f}"
    lines += [
        "",
        "| Figure | Value |",
        "|---|---|",
        f"| **Ratio upload / dd**, median of {len(rounds)} rounds (budget ≥ {BUDGET_DD_RATIO}) "
        f"| **{median:.2f}** ({'met' if met else 'not met'}; rounds {spread}) |",
        f"| Upload throughput, median | {statistics.median(u.mb_per_s for u in r.uploads):,.0f} "
        "MB/s |",
        f"| `dd` throughput, all {len(dd)} runs | {min(dd):,.0f} to {max(dd):,.0f} MB/s "
        f"(median {statistics.median(dd):,.0f}) |",
        f"| Server CPU time per GiB | {min(cpu_per_gib):,.2f} to {max(cpu_per_gib):,.2f} s |",
        f"| Server resident memory before the uploads | {r.rss_idle_kib / 1024:,.1f} MiB |",
        f"| Server peak resident memory, {w.size_bytes // MIB:,} MiB upload | {mib(w.peak_kib)} |",
        f"| Server peak resident memory, {peak.size_bytes // MIB:,} MiB uploads "
        f"(budget < {BUDGET_PEAK_MIB} MiB) | **{peak.peak_kib / 1024:,.1f} MiB** "
        f"({'met' if peak.peak_kib < BUDGET_PEAK_MIB * 1024 else 'not met'}; "
        f"{(peak.peak_kib - r.rss_idle_kib) / 1024:+,.0f} MiB over the resting server) |",
        f"| Peak memory growth from {w.size_bytes // MIB:,} MiB to {peak.size_bytes // MIB:,} "
        f"MiB | {(peak.peak_kib - w.peak_kib) / 1024:+,.0f} MiB |",
        f"| Warm-up upload of {w.size_bytes // MIB:,} MiB | {w.seconds:.2f} s, "
        f"{w.mb_per_s:,.0f} MB/s |",
        "| How the body reaches the disk | read as it arrives (`core.asgi_body`), hashed and "
        "written once into the upload's scratch file in the data directory, `fsync`ed and "
        "linked into place: no spooled copy |",
        "",
    ]
    return lines


def _page_lines(r: Results) -> list[str]:
    c = r.config
    if not c.pages:
        return ["### Pages", "", "Not measured in this run (`BENCH_PAGES=0`).", ""]
    lines = [
        f"### Pages with {r.documents:,} documents {TIMES} {c.versions} versions",
        "",
        f"{r.documents - 1:,} documents at the top of one workspace of {r.members:,} members, "
        f"and one more for the document page ({r.heavy}); {r.versions:,} versions in all, seeded "
        f"in {r.seed_seconds:.1f} s (the workspace page lists them 100 to a page, so the figure "
        "is for its first page). The sign-in page, fetched by someone not signed in, is the "
        "reference: what any page costs on this server. "
        f"Load: {r.generator} on loopback, for {c.seconds:g} s per "
        "row or, for a slow page, long enough for four answers per connection; "
        "signed in as the workspace's manager with the session cookie from the real sign-in "
        "form; every page is checked for a 200 with its content before and after the load. SQL "
        "queries are counted in-process (Django test client, `CaptureQueriesContext`) on the "
        "same data; the document page records a view in the audit trail once per person, "
        "version and ten minutes, so its queries include a look at whether it was. Server "
        "CPU / request is the server process's user + system time over "
        "sequential requests (at least 5, or 3 s) divided by their number: it moves far less "
        "than latency when other work shares the machine.",
        "",
    ]
    reference = next((p for p in r.pages if p.budget is None), None)
    reference_load = reference.load_with(1) if reference else None
    reference_p50 = reference_load.p50_ms if reference_load and reference_load.requests else None
    budgeted = [p for p in r.pages if p.budget is not None]
    if budgeted:
        lines += [
            "| Page, one connection | p50 | p99 | p50 / sign-in p50 | Budget (issue 16) | Met |",
            "|---|---:|---:|---:|---|---|",
        ]
        if reference_load is not None and reference is not None:
            lines.append(
                f"| {reference.name} (reference) | {ms(reference_load.p50_ms)} | "
                f"{ms(reference_load.p99_ms)} | 1 | - | - |"
            )
        for p in budgeted:
            load = p.load_with(1)
            if load is None or p.budget is None:
                continue
            met = "yes" if p.budget.met(load, reference_p50) else "**no**"
            lines.append(
                f"| {p.name} | **{ms(load.p50_ms)}** | **{ms(load.p99_ms)}** | "
                f"{ratio(load.p50_ms, reference_p50)} | {p.budget.describe()} | {met} |"
            )
        lines.append("")
    lines += [
        "| Page | SQL queries | SQL queries, small case | Server CPU / request | HTML |",
        "|---|---:|---|---:|---:|",
    ]
    for p in r.pages:
        lines.append(
            f"| {p.name} `{p.path}` | **{p.queries.queries}** | {p.small_queries.queries} "
            f"({p.small_label}) | {ms(p.cpu_ms)} | {p.size_bytes / 1024:,.0f} KiB |"
        )
    lines.append("")
    for p in r.pages:
        tables = ", ".join(f"{table} {n}" for table, n in p.queries.by_table.items())
        lines.append(f"- {p.name}, queries by table: {tables or 'none'}.")
    lines += [
        "",
        "| Page | Connections | Duration | Requests | Requests/s | p50 | p99 | Errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in r.pages:
        for load in p.loads:
            lines.append(
                f"| {p.name} | {load.connections} | {load.seconds:,.0f} s | {load.requests:,} | "
                f"**{load.per_second:,.1f}** | {latency(load, load.p50_ms)} | "
                f"{latency(load, load.p99_ms)} | {load.errors} |"
            )
    lines += [
        "",
        f"Server resident memory after the page load: {mib(r.rss_after_pages_kib)}.",
        "",
    ]
    return lines


def write_section(path: Path, key: str, text: str) -> None:
    start, end = f"<!-- bench:{key} -->", f"<!-- /bench:{key} -->"
    block = f"{start}\n{text}{end}\n"
    current = path.read_text() if path.exists() else HEADER
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _: block, current)
    else:
        updated = current.rstrip() + "\n\n" + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(updated)


def publish(text: str, key: str, output: Path | None, step: Callable[[str], None]) -> None:
    """A benchmark's section printed, and written into ``output`` (docs/benchmarks.md, unless
    ``BENCH_OUTPUT=-``) between its markers, saying where."""
    print()
    print(text)
    if output is not None:
        write_section(output, key, text)
        shown = output.relative_to(REPO) if output.is_relative_to(REPO) else output
        step(f"figures written to {shown}")
