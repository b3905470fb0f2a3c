"""``python -m bench.search`` (run by ``make bench``): search over 50,000 documents.

For each database (the embedded SQLite, and PostgreSQL when ``BENCH_POSTGRES_URL`` or the
project's test server ``postgres://postgres@127.0.0.1:5432/postgres`` answers), a child process
makes a throw-away data directory (and database), seeds ``BENCH_SEARCH_DOCS`` documents (default
50,000) in 10 workspaces, the searcher a member of 5, each with its search entry (a name and
about 120 words drawn, Zipf-like, from a 3,000-word vocabulary), then runs
``BENCH_SEARCH_QUERIES`` queries (default 200: one or two words, whole or as typed so far)
twice: through ``search.selectors.search`` (what a page or the API does: ranked page of 20,
capped count, snippets, the rows for display) and as the engine's ranked query alone (the same
SQL the selector runs for its page, ``backend().raw_sql``), each timed in wall-clock and CPU
milliseconds. The ratio of the two is the cost of everything around the engine. Nothing here
fails on timing.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.config import Config
from bench.machine import load_average, machine
from bench.report import TIMES, write_section
from bench.server import each_database

DOCS = int(os.environ.get("BENCH_SEARCH_DOCS", "50000"))
QUERIES = int(os.environ.get("BENCH_SEARCH_QUERIES", "200"))
WORKSPACES = 10
MEMBER_OF = 5
BODY_WORDS = 120

_CLINICAL_TEXT = """
admission discharge ward theatre clinic outpatient referral triage sepsis antibiotic
prescription pharmacy medication infusion cannula catheter oxygen ventilator bed capacity
handover rota shift nurse consultant registrar physiotherapy radiology pathology haematology
cardiology oncology paediatrics maternity midwife neonatal surgery anaesthetic recovery
safeguarding incident audit governance policy procedure guideline protocol budget finance
procurement staffing agency locum training induction appraisal revalidation complaint
feedback patient family carer discharge letter summary minutes agenda action meeting board
quarterly annual report dashboard target waiting list elective emergency urgent winter
pressure escalation infection control isolation mask glove hand hygiene vaccination flu
covid outbreak community district hospital trust integrated care primary secondary tertiary
"""
CLINICAL = _CLINICAL_TEXT.split()


def step(message: str) -> None:
    print(f"[search] {message}", flush=True)


def vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
    words = list(dict.fromkeys(CLINICAL))
    while len(words) < size:
        w = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if w not in words:
            words.append(w)
    return words


def zipf_weights(n: int) -> list[float]:
    return [1.0 / (rank + 1) for rank in range(n)]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- The child: one database ------------------------------------------------------------------


def seed(rng: random.Random, words: list[str]) -> Any:
    from django.db import connection, transaction
    from django.utils import timezone

    from commonroom.accounts.models import User
    from commonroom.documents.models import Document
    from commonroom.search.models import Kind, SearchEntry
    from commonroom.workspaces.models import Membership, Role, Workspace

    weights = zipf_weights(len(words))
    searcher = User.objects.create_user("searcher@example.org", uuid.uuid4().hex)
    authors = [
        User.objects.create_user(
            f"author{i}@example.org", uuid.uuid4().hex, full_name=f"Author {i}"
        )
        for i in range(20)
    ]
    spaces = [
        Workspace.objects.create(name=f"Workspace {i}", created_by=authors[0])
        for i in range(WORKSPACES)
    ]
    for ws in spaces[:MEMBER_OF]:
        Membership.objects.create(workspace=ws, user=searcher, role=Role.VIEWER)
    now = timezone.now()
    batch = 2000
    with transaction.atomic():
        for start in range(0, DOCS, batch):
            docs, entries = [], []
            for i in range(start, min(DOCS, start + batch)):
                ws = spaces[i % WORKSPACES]
                author = authors[i % len(authors)]
                title = " ".join(rng.choices(words, weights, k=rng.randint(2, 5))).capitalize()
                name = f"{title} {i}.docx"
                doc = Document(workspace=ws, name=name, created_by=author, current_version_number=1)
                docs.append(doc)
                body = " ".join(rng.choices(words, weights, k=BODY_WORDS))
                entries.append(
                    SearchEntry(
                        kind=Kind.DOCUMENT,
                        object_id=str(doc.pk),
                        workspace=ws,
                        document=doc,
                        title=name,
                        body=body,
                        author=author,
                        created_at=now,
                        updated_at=now,
                    )
                )
            Document.objects.bulk_create(docs)
            SearchEntry.objects.bulk_create(entries)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Plain words (letters and spaces), so this is what services._vector writes.
                cursor.execute(
                    "UPDATE search_searchentry SET vector = "
                    "setweight(to_tsvector('simple', title), 'A') || "
                    "setweight(to_tsvector('simple', body), 'B')"
                )
    with connection.cursor() as cursor:
        # On PostgreSQL, VACUUM as well, as autovacuum soon would after such a load: it moves the
        # GIN indexes' pending entries (up to 4 MB, read by every search until then) into them.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return searcher


def queries(rng: random.Random, words: list[str]) -> list[str]:
    """Half common words, half rarer; a third as typed so far (the first 3 to 5 letters)."""
    out = []
    for i in range(QUERIES):
        pool = words[:200] if i % 2 else words[200:]
        chosen = rng.sample(pool, 2 if i % 4 == 0 else 1)
        if i % 3 == 0:
            chosen[-1] = chosen[-1][: rng.randint(3, 5)]
        out.append(" ".join(chosen))
    return out


def cpu_clock() -> Callable[[], float] | None:
    """CPU seconds spent so far on this connection's queries, in nanosecond steps: this thread's
    (which runs SQLite itself), plus on PostgreSQL the server process serving the connection
    (its ``/proc/<pid>/schedstat``, readable when the server runs on this machine); None when it
    is not. On a shared machine the wall-clock figures carry the other processes' load, the CPU
    figures much less of it."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return time.thread_time
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    stat = Path(f"/proc/{pid}/schedstat")
    try:
        stat.read_text()
    except OSError:
        return None

    def clock() -> float:
        return time.thread_time() + int(stat.read_text().split()[0]) / 1e9

    return clock


def measure(searcher: Any, qs: list[str]) -> dict[str, Any]:
    """Each query through the selector and as the engine's ranked query alone, timed alike
    (wall clock and CPU, milliseconds), the two taking turns at going first so that neither
    always finds the other's pages in the cache."""
    from django.db import connection

    from commonroom.search.backends import Filters, backend, words
    from commonroom.search.selectors import search

    engine = backend()
    cpu = cpu_clock()

    def selector(q: str) -> int:
        return search(user=searcher, q=q, limit=20).total_estimate

    def raw(q: str) -> int:
        sql, params = engine.raw_sql(words(q), Filters(user_id=searcher.pk), 20, 0)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return len(cursor.fetchall())

    def timed(run: Callable[[str], int], q: str) -> tuple[float, float, int]:
        c = cpu() if cpu else 0.0
        t = time.perf_counter()
        found = run(q)
        wall = (time.perf_counter() - t) * 1000
        return wall, ((cpu() - c) * 1000 if cpu else 0.0), found

    for q in qs[:10]:  # warm the caches
        selector(q)
        raw(q)
    times: dict[str, list[float]] = {k: [] for k in ("full", "raw", "full_cpu", "raw_cpu")}
    hits = []
    for i, q in enumerate(qs):
        order = ("full", "raw") if i % 2 == 0 else ("raw", "full")
        for name in order:
            wall, spent, found = timed(selector if name == "full" else raw, q)
            times[name].append(wall)
            times[f"{name}_cpu"].append(spent)
            if name == "full":
                hits.append(found)
    figures: dict[str, Any] = {
        "vendor": connection.vendor,
        "median_matches": statistics.median(hits),
        "queries": len(qs),
        "cpu": cpu is not None,
    }
    for name, values in times.items():
        figures[f"{name}_p50"] = pct(values, 50)
        figures[f"{name}_p99"] = pct(values, 99)
    return figures


def child(out: Path) -> None:
    import django

    django.setup()
    rng = random.Random(20240601)
    words = vocabulary(rng)
    t = time.perf_counter()
    step(f"seeding {DOCS:,} documents")
    searcher = seed(rng, words)
    seeded = time.perf_counter() - t
    step(f"seeded in {seeded:.0f} s; {QUERIES} queries")
    figures = measure(searcher, queries(rng, words))
    figures["seed_s"] = seeded
    out.write_text(json.dumps(figures))


# --- The parent: each database in its own process ---------------------------------------------


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}{TIMES}" if b else "—"


def render(rows: list[dict[str, Any]], notes: list[str], info: Any) -> str:
    lines = [
        "## Search",
        "",
        f"{DOCS:,} documents (a name and ~{BODY_WORDS} words each) in {WORKSPACES} workspaces, "
        f"the searcher a member of {MEMBER_OF}; {QUERIES} queries of one or two words, a third "
        "of them typed only in part. *Selector*: `search.selectors.search` (ranked page of 20, "
        "count capped at 1,001, snippets, the rows shown). *Engine*: the engine's ranked query "
        "alone, the same SQL the selector runs for its page (`backend().raw_sql`), through the "
        "same connection; the two take turns at going first. Budget: selector p99 < 50 ms and "
        f"at most 1.5{TIMES} the engine. *CPU*: this process's CPU time per query, plus on "
        "PostgreSQL the server process's (from `/proc/<pid>/schedstat`): on a shared machine "
        "the wall-clock figures carry the other processes' load, these much less of it. "
        "Nothing fails on timing.",
        "",
        f"Machine: {info.describe()}; commit {info.commit}; {info.date}; "
        f"load {info.load_start} → {load_average()}.",
        "",
        "| Database | | Selector p50 | Selector p99 | Engine p50 | Engine p99 | Ratio p50 "
        "| Ratio p99 | Median matches | Seeding |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        kinds = [("wall", "")] + ([("CPU", "_cpu")] if r.get("cpu") else [])
        for label, suffix in kinds:
            f50, f99 = r[f"full{suffix}_p50"], r[f"full{suffix}_p99"]
            r50, r99 = r[f"raw{suffix}_p50"], r[f"raw{suffix}_p99"]
            lines.append(
                f"| {r['label'] if not suffix else ''} | {label} | {f50:.1f} ms | {f99:.1f} ms | "
                f"{r50:.1f} ms | {r99:.1f} ms | {_ratio(f50, r50)} | {_ratio(f99, r99)} | "
                + (f"{r['median_matches']:,.0f} | {r['seed_s']:.0f} s |" if not suffix else " | |")
            )
    lines += [
        "",
        *(f"- {n}" for n in notes),
        "",
        "Reproduce: `.venv/bin/python -m bench.search`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    from django.conf import settings

    if not settings.configured:  # postgres_database closes Django's connections: none here
        settings.configure(DATABASES={})
    config = Config.from_env()
    config.base_dir.mkdir(parents=True, exist_ok=True)
    info = machine()
    rows, notes = each_database(
        config, "bench.search", labels=("SQLite FTS5", "PostgreSQL (GIN, tsvector)")
    )
    text = render(rows, notes, info)
    print()
    print(text)
    if config.output is not None:
        write_section(config.output, "search", text)
        step(f"figures written to {config.output}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]))
    else:
        main()
