"""``python -m bench.run`` (``make bench``): the foundation benchmark, written to
docs/benchmarks.md and printed.

1. Upload: a file of ``BENCH_UPLOAD_MB`` MiB (default 1,024) streamed to the JSON API of the real
   server, timed, with the server's peak memory, beside ``dd`` writing as much to the same disk:
   ``BENCH_UPLOAD_ROUNDS`` uploads (default 3) alternating with ``dd`` runs, each upload set
   against the ``dd`` runs either side of it.
2. Pages: the workspace page with ``BENCH_DOCS`` documents (default 10,000) of
   ``BENCH_VERSIONS`` versions (default 5) and 300 members, and the page of a document with 50
   versions, 200 comments in 40 threads and a preview (:mod:`bench.seed`): requests/s, p50 and
   p99 from a loopback load generator, SQL queries per page, and the same figures for the
   sign-in page in the same run, the reference each page's budget is also set against.

Quick run while developing: ``BENCH_UPLOAD_MB=64 BENCH_DOCS=1000 python -m bench.run``; the
upload alone: ``BENCH_PAGES=0 python -m bench.run`` (one document seeded, no pages). Other
settings are listed in :mod:`bench.config`. Nothing here fails on timing; the run stops only when
the server answers wrongly (an upload that arrives altered, a page that is not a 200).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from bench import pages, upload
from bench.config import MIB, REPO, Config
from bench.machine import (
    Machine,
    filesystem_of,
    free_bytes,
    load_average,
    machine,
)
from bench.report import Budget, PageFigures, Results, render, write_section
from bench.server import Server, commonroom, server_environment

if TYPE_CHECKING:
    from bench.seed import Seeded


def step(message: str) -> None:
    print(f"[bench] {message}", flush=True)


@dataclass(frozen=True)
class PageSpec:
    name: str
    path: str
    must_contain: str
    small_path: str
    small_must_contain: str
    small_label: str
    signed_in: bool = True
    budget: Budget | None = None


@contextlib.contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A throw-away database on the PostgreSQL server at ``server_url``; its URL."""
    import psycopg

    name = "commonroom_bench_" + secrets.token_hex(4)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # the name is made here, not taken from input
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path="/" + name))
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    started = time.perf_counter()
    config = Config.from_env()
    info = machine()
    config.base_dir.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-", dir=config.base_dir))
    step(f"data directory {data_dir} on {filesystem_of(data_dir)}")
    try:
        with contextlib.ExitStack() as stack:
            database_url = ""
            if config.postgres_url:
                database_url = stack.enter_context(postgres_database(config.postgres_url))
            results = run(config, info, data_dir, database_url)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    results.load_end = load_average()
    results.total_seconds = time.perf_counter() - started
    text = render(results)
    print()
    print(text)
    if config.output is not None:
        write_section(config.output, results.key, text)
        out = config.output
        step(f"figures written to {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")


def run(config: Config, info: Machine, data_dir: Path, database_url: str) -> Results:
    env = server_environment(config, data_dir, database_url)
    # This process seeds the data and counts queries with the same settings as the server.
    for name in list(os.environ):
        if name not in env:
            del os.environ[name]
    os.environ.update(env)
    password = secrets.token_urlsafe(16)

    step("migrating")
    commonroom(env, "migrate", "--noinput", "-v", "0")

    import django

    django.setup()
    from django.db import connection, connections

    from bench import seed

    if connection.vendor == "sqlite":
        import sqlite3

        database = f"SQLite {sqlite3.sqlite_version} (WAL)"
    elif connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            database = f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
    else:
        database = connection.vendor
    docs = config.docs if config.pages else 1
    step(f"seeding {docs:,} documents x {config.versions} versions ({database})")
    t0 = time.perf_counter()
    seeded = seed.seed(docs=docs, versions=config.versions, password=password)
    seed_seconds = time.perf_counter() - t0

    results = Results(
        config=config,
        machine=info,
        database=database,
        data_disk=filesystem_of(data_dir),
        free_before=free_bytes(data_dir),
        seed_seconds=seed_seconds,
        documents=seeded.documents,
        versions=seeded.versions,
    )

    specs = page_specs(config, seeded) if config.pages else []
    if specs:
        results.members = seeded.members
        results.heavy = (
            f"{seeded.heavy_versions} versions, {seeded.heavy_comments} comments in "
            f"{seeded.heavy_threads} threads, its latest version's preview {seeded.heavy_preview}"
        )
        count_page_queries(results, seeded, specs)
    connections.close_all()

    with Server(env, data_dir / "server.log") as server:
        step(f"server pid {server.pid} on {server.url}")
        results.rss_idle_kib = server.rss_kib()
        upload_benchmark(config, results, server, seeded, data_dir)
        if config.pages:
            page_benchmark(config, results, server, seeded, specs)
        results.rss_after_pages_kib = server.rss_kib()
    return results


def page_specs(config: Config, seeded: Seeded) -> list[PageSpec]:
    ws, doc = seeded.workspace_id, seeded.document_id
    specs = [
        # The reference: what any page costs on this server (middleware, a small template).
        PageSpec(
            "Sign-in page",
            "/accounts/login/",
            "csrfmiddlewaretoken",
            "/accounts/login/",
            "csrfmiddlewaretoken",
            "the same page",
            signed_in=False,
        ),
        PageSpec(
            "Workspace page",
            f"/w/{ws}/",
            seeded.listed_document_name,
            f"/w/{seeded.demo_workspace_id}/",
            "minutes",
            "1 document",
            budget=Budget(p50_ms=15, p99_ms=60, times_reference=2.5),
        ),
        PageSpec(
            "Document page",
            f"/w/{ws}/d/{doc}/",
            f"Version {seeded.heavy_versions}",
            f"/w/{seeded.demo_workspace_id}/d/{seeded.demo_document_id}/",
            "Version 2",
            "2 versions",
            budget=Budget(p50_ms=15, p99_ms=60),
        ),
    ]
    return specs


def count_page_queries(results: Results, seeded: Seeded, specs: list[PageSpec]) -> None:
    step("counting SQL queries per page")
    ws, doc = seeded.workspace_id, seeded.document_id
    for spec in specs:
        figures = PageFigures(
            name=spec.name,
            path=spec.path.replace(ws, "{id}").replace(doc, "{doc}"),
            size_bytes=0,
            queries=pages.count_queries(
                email=seeded.manager_email if spec.signed_in else None,
                path=spec.path,
                must_contain=spec.must_contain,
            ),
            small_queries=pages.count_queries(
                email=seeded.manager_email if spec.signed_in else None,
                path=spec.small_path,
                must_contain=spec.small_must_contain,
            ),
            small_label=spec.small_label,
            budget=spec.budget,
        )
        results.pages.append(figures)
        q = figures.queries
        step(f"  {spec.name}: {q.queries} queries ({q.sql_ms:.0f} ms of SQL) {q.by_table}")


def upload_benchmark(
    config: Config, results: Results, server: Server, seeded: Seeded, data_dir: Path
) -> None:
    size = config.upload_mb * MIB
    # The body is written once, into the file that becomes the blob (core.asgi_body); dd's
    # file is removed before the upload starts.
    need = size + 256 * MIB
    if results.free_before < need:
        results.upload_skipped = (
            f"{results.free_before / MIB:,.0f} MiB free on the data disk, "
            f"{need / MIB:,.0f} MiB needed"
        )
        step(f"upload skipped: {results.upload_skipped}")
        return
    if not upload.dd_available():
        results.upload_skipped = "dd is not installed"
        step("upload skipped: dd is not installed")
        return
    block = os.urandom(MIB)

    def remove_blob(sha: str) -> None:
        (data_dir / "files" / "blobs" / sha[:2] / sha[2:4] / sha).unlink(missing_ok=True)

    step(f"warm-up upload of {config.warmup_upload_mb} MiB")
    results.warmup = upload.upload(
        server=server,
        token=seeded.token,
        workspace_id=seeded.demo_workspace_id,
        block=block,
        count=config.warmup_upload_mb,
    )
    remove_blob(results.warmup.sha256)
    # dd, upload, dd, upload, ..., dd: this disk's speed moves by half from one minute to the
    # next, so each upload is set against the dd runs either side of it (report.UploadRound).
    rounds = config.upload_rounds
    step(f"dd of {config.upload_mb} MiB (1 of {rounds + 1})")
    results.dd_runs.append(upload.dd_write(data_dir, config.upload_mb))
    for n in range(1, rounds + 1):
        step(f"upload of {config.upload_mb} MiB ({n} of {rounds})")
        result = upload.upload(
            server=server,
            token=seeded.token,
            workspace_id=seeded.demo_workspace_id,
            block=block[::-1] if n == 1 else os.urandom(MIB),  # other bytes each time
            count=config.upload_mb,
        )
        remove_blob(result.sha256)
        results.uploads.append(result)
        step(
            f"  {result.seconds:.2f} s, {result.mb_per_s:,.0f} MB/s, "
            f"body sent in {result.sent_seconds:.2f} s, "
            f"server CPU {result.server_cpu_seconds:.2f} s, "
            f"peak RSS {result.peak_kib / 1024:,.0f} MiB"
        )
        step(f"dd of {config.upload_mb} MiB ({n + 1} of {rounds + 1})")
        results.dd_runs.append(upload.dd_write(data_dir, config.upload_mb))
        pair = results.rounds[-1]
        step(f"  dd {pair.dd_after.mb_per_s:,.0f} MB/s; this upload / its dd: {pair.ratio:.2f}")


def page_benchmark(
    config: Config, results: Results, server: Server, seeded: Seeded, specs: list[PageSpec]
) -> None:
    generator = config.loadgen
    wrk = pages.wrk_version()
    if generator == "auto":
        generator = "wrk" if wrk else "python"
    if generator == "wrk" and not wrk:
        raise SystemExit("BENCH_LOADGEN=wrk but wrk is not installed (apt-get install wrk)")
    results.generator = (
        f"{wrk}, one thread"
        if generator == "wrk"
        else "a Python asyncio + httpx client (wrk not installed)"
    )
    signed_in = pages.sign_in(server.url, seeded.manager_email, seeded.password)
    for figures, spec in zip(results.pages, specs, strict=True):
        url = server.url + spec.path
        cookies = signed_in if spec.signed_in else {}
        figures.size_bytes = pages.fetch(url, cookies, spec.must_contain)
        pages.fetch(url, cookies, spec.must_contain)  # warm up
        alone = pages.sequential(server.cpu_seconds, url, cookies, spec.must_contain)
        figures.cpu_ms = alone.cpu_ms
        step(
            f"{spec.name}: {alone.cpu_ms:,.0f} ms of server CPU and {alone.wall_ms:,.0f} ms "
            f"per request, one at a time ({alone.requests} requests)"
        )
        for connections in config.connections:
            # Long enough for every connection to see a few answers, however slow the page.
            seconds = max(config.seconds, min(180.0, 4 * connections * alone.wall_ms / 1000))
            step(f"{spec.name}: {connections} connection(s) for {seconds:.0f} s")
            result = pages.load(generator, url, cookies, connections, seconds)
            pages.fetch(url, cookies, spec.must_contain)  # still signed in, still the real page
            figures.loads.append(result)
            step(
                f"  {result.per_second:,.1f} req/s, p50 {result.p50_ms:,.1f} ms, "
                f"p99 {result.p99_ms:,.1f} ms, {result.requests} requests, {result.errors} errors"
            )


if __name__ == "__main__":
    main()
