"""``python -m bench.topology_throughput`` (run by ``make bench``): the production topology's
throughput (issue 17): a comment's fan-out to 1,000 live sockets spread over the two app
processes through Redis, and a 1 GiB upload through nginx to S3 beside ``dd`` on the same disk.

The topology is :mod:`bench.topology`'s (``scripts/topology.sh up`` in a throw-away folder, a
throw-away PostgreSQL database, a Redis key prefix of its own, moto's S3), seeded by a child
process with the topology's environment as :mod:`bench.fanout` seeds its server: a workspace,
one document, ``BENCH_FANOUT_PEOPLE`` readers (default 20) with read tokens, the manager with a
write token.

1. Fan-out: ``BENCH_TOPOLOGY_SOCKETS`` sockets (default 1,000) opened straight to the two app
   processes' own ports, one to each in turn, so that half are on each by construction; each
   process's own count (``commonroom_live_sockets`` on its /metrics) is read once all are open
   and reported beside it. Then ``BENCH_TOPOLOGY_COMMENTS`` comments (default 20) are posted
   one at a time through the first process's port: its own sockets have each from it, the
   second's through Redis. Per comment, the time from starting the POST until every socket had
   it (p50, p95, max), the sockets that missed any, and each side's deliveries apart
   (:func:`bench.fanout.measure` does the measuring).
2. Upload: a file of ``BENCH_TOPOLOGY_UPLOAD_MB`` MiB (default 1,024) streamed as a multipart
   body (one 1 MiB block repeated, never the whole file in memory: :mod:`bench.upload`) to the
   documents API through nginx, ``BENCH_TOPOLOGY_UPLOAD_ROUNDS`` times (default 2) between
   ``dd`` runs of the same size on the disk the app processes spool to (``dd``, upload, ``dd``,
   ...), each upload set against the ``dd`` runs either side of it (:class:`bench.report.
   UploadRound`). The SHA-256 the API answers is checked against what was sent, and the object
   is then read back from S3 and hashed again. The app process that stored it is told by its
   /metrics (``commonroom_upload_bytes_total``); each topology process's CPU time is read
   around the upload.

Everything started is stopped and the database dropped at the end, also on error.
``BENCH_OUTPUT`` as for the other modules (``-``: print only). Nothing here fails on timing;
the run stops only when an answer is wrong (an upload that arrived altered).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.config import DEFAULT_PG, MIB, REPO, Config
from bench.fanout import PEOPLE, Run, World, measure
from bench.machine import filesystem_of, free_bytes, load_average, machine
from bench.report import UploadRound, publish
from bench.server import _cpu_seconds
from bench.topology import (
    APP_PROCESSES,
    Topology,
    cpu_seconds,
    raise_open_files,
    read_metric,
    reset_peaks,
    status_kib,
    topology,
    unavailable,
)
from bench.upload import (
    DdResult,
    UploadResult,
    dd_available,
    dd_write,
    expected_sha256,
    multipart_body,
    stored_version,
    timed_upload,
)


def _int(name: str, default: int) -> int:
    return max(1, int(os.environ.get(name, "").strip() or default))


SOCKETS = _int("BENCH_TOPOLOGY_SOCKETS", 1000)
COMMENTS = _int("BENCH_TOPOLOGY_COMMENTS", 20)
UPLOAD_MB = _int("BENCH_TOPOLOGY_UPLOAD_MB", 1024)
UPLOAD_ROUNDS = _int("BENCH_TOPOLOGY_UPLOAD_ROUNDS", 2)
# moto answers CompleteMultipartUpload only once it has put the object together (19 s for 1 GiB
# at a load average of 10 here), where S3 answers at once and keeps the connection alive with
# whitespace while it works: under the app's own read timeout (COMMONROOM_S3_READ_TIMEOUT, 20 s)
# a 1 GiB upload to moto failed (503). The app processes get this many seconds instead, nginx's
# wait for an answer (deploy/nginx/commonroom-locations.conf).
S3_READ_TIMEOUT = _int("BENCH_TOPOLOGY_S3_READ_TIMEOUT", 300)
KEY = "topology-throughput"


def step(message: str) -> None:
    print(f"[topology-throughput] {message}", flush=True)


# --- Seeding (a child process with the topology's environment) --------------------------------


def seed(out: Path) -> None:
    import django

    django.setup()
    from bench.fanout import seed as seed_world

    out.write_text(json.dumps(asdict(seed_world())))


# --- Fan-out --------------------------------------------------------------------------------


@dataclass
class Fanout:
    run: Run
    # How many live sockets each app process counted once all were open (its /metrics); None
    # when it could not be read.
    counted: dict[str, float | None] = field(default_factory=dict)


def fan_out(up: Topology, world: World) -> Fanout:
    figures = Fanout(Run("", 0))

    def opened() -> None:
        for name, url in zip(APP_PROCESSES, up.app_urls, strict=True):
            figures.counted[name] = read_metric(url, "commonroom_live_sockets")

    def app_cpu() -> float:
        return sum(s for name, s in cpu_seconds(up.run_dir).items() if name in APP_PROCESSES)

    figures.run = asyncio.run(
        measure(
            "Topology, 2 processes, Redis",
            list(up.app_urls),
            world,
            SOCKETS,
            app_cpu,
            comments=COMMENTS,
            opened=opened,
        )
    )
    return figures


# --- Upload ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """One upload through nginx: its figures (those of the app process that took it), which
    process that was, the object read back from S3, and each topology process's CPU time."""

    result: UploadResult
    process: str
    read_back_sha256: str
    read_back_seconds: float
    cpu: dict[str, float]


@dataclass
class Uploads:
    disk: str = ""
    skipped: str = ""
    warmup: Stored | None = None
    dd_runs: list[DdResult] = field(default_factory=list)
    stored: list[Stored] = field(default_factory=list)
    failed: str = ""  # the upload that failed, and how: the rounds after it were not run

    @property
    def rounds(self) -> list[UploadRound]:
        return [
            UploadRound(self.dd_runs[i], s.result, self.dd_runs[i + 1])
            for i, s in enumerate(self.stored)
            if i + 1 < len(self.dd_runs)
        ]


def mib_per_s(size_bytes: int, seconds: float) -> float:
    return size_bytes / MIB / seconds if seconds > 0 else 0.0


def s3_client(up: Topology) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=up.s3_url,
        region_name=up.env.get("AWS_S3_REGION_NAME"),
        aws_access_key_id=up.env.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=up.env.get("AWS_SECRET_ACCESS_KEY"),
    )


def read_back(up: Topology, sha256: str) -> tuple[str, float]:
    """The SHA-256 of the object S3 holds under the blob's name, read a MiB at a time, and how
    long the reading took; the object is deleted afterwards (moto holds it in memory)."""
    client = s3_client(up)
    # The blob's name in the bucket, as documents.models.blob_storage_name makes it (this
    # process has no Django settings to import it with).
    key = f"blobs/{sha256[:2]}/{sha256[2:4]}/{sha256}"
    bucket = up.env["AWS_STORAGE_BUCKET_NAME"]
    digest = hashlib.sha256()
    started = time.perf_counter()
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    for chunk in body.iter_chunks(MIB):
        digest.update(chunk)
    seconds = time.perf_counter() - started
    client.delete_object(Bucket=bucket, Key=key)
    return digest.hexdigest(), seconds


def upload_through_nginx(up: Topology, world: World, block: bytes, count: int) -> Stored:
    """POST a file of ``count`` times ``block`` to the documents API through nginx, timed from
    the first byte sent to the ``201`` answer (the app has received it, hashed it and copied it
    to S3), then checked twice: the SHA-256 the API answers, and the object read back."""
    expected = expected_sha256(block, count)
    size = len(block) * count
    sent: list[float] = []
    content_type, length, body = multipart_body(
        block, count, f"topology-upload-{size // MIB}MiB.bin", "benchmark upload via nginx", sent
    )
    pids = {name: up.pid(name) or 0 for name in APP_PROCESSES}
    stored_before = {
        name: read_metric(url, "commonroom_upload_bytes_total") or 0.0
        for name, url in zip(APP_PROCESSES, up.app_urls, strict=True)
    }
    os.sync()  # earlier writes are not charged to this upload
    reset_peaks(up.run_dir)
    rss_before = {name: status_kib(pid, "VmRSS") for name, pid in pids.items()}
    cpu_before = cpu_seconds(up.run_dir)
    loop_before = {n: _cpu_seconds(f"/proc/{p}/task/{p}/stat") for n, p in pids.items()}
    with httpx.Client(timeout=httpx.Timeout(None, connect=10)) as client:
        response, started, seconds, client_cpu = timed_upload(
            client,
            f"{up.url}/api/v1/workspaces/{world.workspace_id}/documents",
            world.writer_token,
            body,
            content_type,
            length,
        )
    cpu_after = cpu_seconds(up.run_dir)
    loop_after = {n: _cpu_seconds(f"/proc/{p}/task/{p}/stat") for n, p in pids.items()}
    stored_version(response, expected, size)
    grown = {
        name: (read_metric(url, "commonroom_upload_bytes_total") or 0.0) - stored_before[name]
        for name, url in zip(APP_PROCESSES, up.app_urls, strict=True)
    }
    took = [name for name, n in grown.items() if n >= size]
    process = took[0] if len(took) == 1 else max(grown, key=lambda name: grown[name])
    pid = pids[process]
    read_sha256, read_seconds = read_back(up, expected)
    if read_sha256 != expected:
        raise SystemExit(f"S3 holds other bytes: {read_sha256}; sent {expected}")
    return Stored(
        result=UploadResult(
            size_bytes=size,
            seconds=seconds,
            sent_seconds=(sent[0] - started) if sent else seconds,
            server_cpu_seconds=cpu_after.get(process, 0.0) - cpu_before.get(process, 0.0),
            server_loop_cpu_seconds=loop_after[process] - loop_before[process],
            client_cpu_seconds=client_cpu,
            sha256=expected,
            rss_before_kib=rss_before[process],
            peak_kib=status_kib(pid, "VmHWM"),
            rss_after_kib=status_kib(pid, "VmRSS"),
        ),
        process=process if len(took) == 1 else f"{process}?",
        read_back_sha256=read_sha256,
        read_back_seconds=read_seconds,
        cpu={name: cpu_after.get(name, 0.0) - s for name, s in cpu_before.items()},
    )


def memory_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def uploads(config: Config, up: Topology, world: World) -> Uploads:
    figures = Uploads(disk=filesystem_of(up.folder))
    size = UPLOAD_MB * MIB
    # The app spools the body to its data directory (one file at a time), dd writes as much
    # there; moto keeps each object (and for a moment its parts too) in memory.
    if free_bytes(up.folder) < size + 256 * MIB:
        figures.skipped = f"{free_bytes(up.folder) / MIB:,.0f} MiB free on the data disk"
    elif memory_available() < 3 * size + 1024 * MIB:
        figures.skipped = f"{memory_available() / MIB:,.0f} MiB of memory available for moto"
    elif not dd_available():
        figures.skipped = "dd is not installed"
    if figures.skipped:
        step(f"upload skipped: {figures.skipped}")
        return figures
    block = os.urandom(MIB)
    warmup = max(1, min(64, UPLOAD_MB // 16))
    step(f"warm-up upload of {warmup} MiB through nginx")
    try:
        figures.warmup = upload_through_nginx(up, world, block, warmup)
    except SystemExit as exc:
        figures.failed = f"the warm-up upload: {exc}"
        step(figures.failed)
        return figures
    step(f"dd of {UPLOAD_MB} MiB (1 of {UPLOAD_ROUNDS + 1})")
    figures.dd_runs.append(dd_write(up.folder, UPLOAD_MB))
    for n in range(1, UPLOAD_ROUNDS + 1):
        step(f"upload of {UPLOAD_MB} MiB through nginx to S3 ({n} of {UPLOAD_ROUNDS})")
        try:
            stored = upload_through_nginx(up, world, os.urandom(MIB), UPLOAD_MB)  # other bytes
        except SystemExit as exc:
            # Said in the report with the rounds before it, rather than losing the run's
            # figures: an answer that is not a 201 (the store too slow to answer, say) or bytes
            # that arrived altered.
            figures.failed = f"upload {n} of {UPLOAD_ROUNDS}: {exc}"
            step(figures.failed)
            break
        figures.stored.append(stored)
        r = stored.result
        step(
            f"  {r.seconds:.2f} s, {mib_per_s(r.size_bytes, r.seconds):,.0f} MiB/s, body sent in "
            f"{r.sent_seconds:.2f} s, stored by {stored.process}, read back in "
            f"{stored.read_back_seconds:.2f} s"
        )
        step(f"dd of {UPLOAD_MB} MiB ({n + 1} of {UPLOAD_ROUNDS + 1})")
        figures.dd_runs.append(dd_write(up.folder, UPLOAD_MB))
        pair = figures.rounds[-1]
        step(
            f"  dd {mib_per_s(UPLOAD_MB * MIB, pair.dd_after.seconds):,.0f} MiB/s; "
            f"this upload / its dd: {pair.ratio:.2f}"
        )
    return figures


# --- The report -----------------------------------------------------------------------------


def ms(values: list[float], p: float | None = None) -> str:
    """A percentile (None: the largest) of ``values`` in milliseconds; ``-`` for none."""
    if not values:
        return "-"
    value = max(values) if p is None else Run("", 0).pct(values, p)
    return f"{value:,.0f} ms"


def spread(values: list[float]) -> str:
    return f"{ms(values, 50)} / {ms(values, 95)} / {ms(values)}"


def counted(value: float | None) -> str:
    return "not read" if value is None else f"{value:,.0f}"


def render_fanout(f: Fanout | None) -> list[str]:
    lines = ["### Fan-out of a comment to every open socket", ""]
    if f is None:
        return [*lines, "Not measured in this run.", ""]
    r = f.run
    per_side = [r.sockets // 2 + r.sockets % 2, r.sockets // 2]
    names = " / ".join(APP_PROCESSES)
    counts = " / ".join(counted(f.counted.get(name)) for name in APP_PROCESSES)
    lines += [
        f"{r.sockets:,} sockets, opened straight to the two app processes' own ports, one to "
        f"each in turn ({per_side[0]:,} to web1, {per_side[1]:,} to web2), as "
        f"{PEOPLE} members with read tokens; each process's own count of its open sockets, "
        "read from its /metrics once all were open, is given beside it. Straight to the ports "
        "rather than through nginx, so that where each socket is, and so which deliveries "
        "cross processes, is known rather than left to nginx's round robin. Then "
        f"{len(r.post_ms)} comments, one at a time, 0.2 s apart, posted to the JSON API "
        "through web1's port: web1's sockets have each from web1 itself, web2's through "
        "Redis (the channel layer). A comment's time is from starting its POST until the "
        "last socket had it.",
        "",
        "| Figure | Value |",
        "|---|---|",
        f"| Sockets on web1 / web2: opened / each process's count | {per_side[0]:,} / "
        f"{per_side[1]:,}: {counts} ({names}) |",
        f"| **Until every socket had the comment**, p50 / p95 / max | **{spread(r.all_ms)}** "
        f"({len(r.all_ms)} of {len(r.post_ms)} comments reached every socket within 30 s) |",
        f"| **Sockets that missed a comment** (goal 0) | **{r.missed_sockets:,}** "
        f"({r.lost:,} deliveries missing in all) |",
        f"| Each delivery to web1's sockets (the posting process), p50 / p95 / max "
        f"| {spread(r.by_server.get(0, []))} |",
        f"| Each delivery to web2's sockets (through Redis), p50 / p95 / max "
        f"| {spread(r.by_server.get(1, []))} |",
        f"| The POST's answer, p50 / p95 / max | {spread(r.post_ms)} |",
        f"| CPU per comment: the two app processes / this load generator "
        f"| {r.server_cpu_ms:,.1f} ms / {r.client_cpu_ms:,.1f} ms |",
        f"| Sockets closed during the run | {len(r.closed):,} |",
        "",
    ]
    lines += [f"- Closed: {c}" for c in r.closed[:5]]
    return lines + ([""] if r.closed else [])


def render_uploads(u: Uploads | None) -> list[str]:
    lines = [f"### Upload of a {UPLOAD_MB:,} MiB file through nginx to S3", ""]
    if u is None:
        return [*lines, "Not measured in this run.", ""]
    rounds = u.rounds
    if u.skipped or not rounds or u.warmup is None:
        why = u.skipped or u.failed or "no upload between two dd runs"
        return [*lines, f"Not measured: {why}.", ""]
    processes = sorted({name for s in u.stored for name in s.cpu})
    lines += [
        "`POST /api/v1/workspaces/{id}/documents` to nginx's address, multipart, streamed by "
        "the client (one random 1 MiB block repeated, other bytes each round) with a "
        "`Content-Length` and a write token, timed from the first byte sent to the `201`. "
        "The path: nginx passes the body on as it arrives (`proxy_request_buffering off` in "
        "deploy/nginx/commonroom-locations.conf: nothing in nginx's temporary folder) to one "
        "of the two app processes (its round robin; the one that stored it told by its "
        "/metrics); the app reads the body as it arrives (`core.asgi_body`), hashes it and "
        "writes it into a scratch file in its data directory; after the last byte it sends "
        "that file to S3 (moto's server, which keeps objects in memory) as a multipart upload "
        "of 8 MiB parts, one at a time in the request's thread (boto3's `TransferConfig("
        "use_threads=False)`, `settings.s3_blob_storage`), then answers. moto answers the "
        "last call (CompleteMultipartUpload) only once it has put the object together, where "
        "S3 answers at once and keeps the connection alive while it works, so the app "
        f"processes wait up to {S3_READ_TIMEOUT} s for the store's answer here "
        "(`COMMONROOM_S3_READ_TIMEOUT`; 20 s by default, under which a 1 GiB upload to moto "
        "failed with a 503). So the figure is "
        'receiving plus one copy to S3, one after the other; the column "body sent / after '
        'the last byte" splits the two. The SHA-256 the API answers is checked against what '
        "was sent, and the object is read back from S3 and hashed again (not timed in the "
        "upload). MiB/s throughout. The reference is `dd if=/dev/zero bs=1M conv=fsync` "
        f"writing as much to the disk the app spools to ({u.disk}); uploads alternate with "
        "`dd` runs, each set against the mean of the two either side of it.",
        "",
        "| Round | `dd` before | Upload | `dd` after | Upload / mean of its `dd` "
        "| Body sent / after the last byte | Stored by | App process: CPU (event loop + "
        "other threads), peak RSS | CPU of " + ", ".join(f"`{p}`" for p in processes) + " "
        "| Client CPU | Read back from S3 |",
        "|---:|---:|---:|---:|---:|---|---|---|---|---:|---:|",
    ]
    for n, (x, s) in enumerate(zip(rounds, u.stored, strict=False), 1):
        r = s.result
        cpu = ", ".join(f"{s.cpu.get(p, 0.0):,.2f} s" for p in processes)
        lines.append(
            f"| {n} | {mib_per_s(x.dd_before.size_bytes, x.dd_before.seconds):,.0f} MiB/s "
            f"| **{mib_per_s(r.size_bytes, r.seconds):,.0f} MiB/s** ({r.seconds:,.1f} s) "
            f"| {mib_per_s(x.dd_after.size_bytes, x.dd_after.seconds):,.0f} MiB/s "
            f"| **{x.ratio:.2f}** | {r.sent_seconds:,.1f} s / {r.seconds - r.sent_seconds:,.1f} s "
            f"| {s.process} | {r.server_cpu_seconds:,.2f} s ({r.server_loop_cpu_seconds:,.2f} + "
            f"{r.server_cpu_seconds - r.server_loop_cpu_seconds:,.2f} s), "
            f"{r.peak_kib / 1024:,.0f} MiB ({r.rss_before_kib / 1024:,.0f} before) "
            f"| {cpu} | {r.client_cpu_seconds:,.2f} s "
            f"| {mib_per_s(r.size_bytes, s.read_back_seconds):,.0f} MiB/s, SHA-256 same |"
        )
    w = u.warmup.result
    ratios = [x.ratio for x in rounds]
    dd = [mib_per_s(d.size_bytes, d.seconds) for d in u.dd_runs]
    speeds = [mib_per_s(s.result.size_bytes, s.result.seconds) for s in u.stored]
    lines += [
        "",
        f"- Upload / `dd`, median of {len(rounds)} round{'' if len(rounds) == 1 else 's'}: "
        f"**{statistics.median(ratios):.2f}** ({min(ratios):.2f} to {max(ratios):.2f}); "
        f"upload median {statistics.median(speeds):,.0f} MiB/s, "
        f"`dd` {min(dd):,.0f} to {max(dd):,.0f} MiB/s.",
        f"- Warm-up upload of {w.size_bytes // MIB:,} MiB first (not counted): {w.seconds:.2f} s, "
        f"stored by {u.warmup.process}.",
    ]
    if u.failed:
        lines.append(f"- **Failed**, {u.failed}")
    return [*lines, ""]


def render(fanout: Fanout | None, upload: Uploads | None, notes: list[str], load_start: str) -> str:
    info = machine()
    lines = [
        "## The topology's throughput (issue 17): fan-out to 1,000 sockets over two "
        "processes, and a 1 GiB upload through nginx to S3",
        "",
        f"{info.date}, {info.describe()}, commit `{info.commit}`; load average (1/5/15 min) "
        f"at the start {load_start}, at the end {load_average()}. A shared machine: other "
        "people's tests ran on it at the same time, so the figures move from run to run; the "
        "ratios within one run travel better. The topology is `scripts/topology.sh` (nginx, "
        "two app processes, two workers, moto's S3, the machine's PostgreSQL and Redis) in a "
        "throw-away folder, with a throw-away database. Reproduce: `make bench` (or "
        "`python -m bench.topology_throughput`; `BENCH_TOPOLOGY_SOCKETS`, "
        "`BENCH_TOPOLOGY_COMMENTS`, `BENCH_TOPOLOGY_UPLOAD_MB`, "
        "`BENCH_TOPOLOGY_UPLOAD_ROUNDS`, `BENCH_TOPOLOGY_S3_READ_TIMEOUT`; "
        "`BENCH_TOPOLOGY_LOGS`: a folder to keep the topology's logs in).",
        "",
        *render_fanout(fanout),
        *render_uploads(upload),
    ]
    lines += [*notes, ""] if notes else []
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--seed":
        seed(Path(sys.argv[2]))
        return
    config = Config.from_env()
    config.base_dir.mkdir(parents=True, exist_ok=True)
    load_start = load_average()
    # Each socket is a descriptor here and one in an app process (they inherit this limit).
    limit = raise_open_files(SOCKETS + 1024)
    base = Path(tempfile.mkdtemp(prefix="topology-throughput-", dir=config.base_dir))
    notes: list[str] = []
    fanout: Fanout | None = None
    upload: Uploads | None = None
    pg_url = config.postgres_url or DEFAULT_PG
    try:
        why_not = unavailable(pg_url)
        if why_not:
            notes.append(why_not)
        elif limit < SOCKETS + 256:
            notes.append(f"Open files limited to {limit:,} here: {SOCKETS:,} sockets not tried.")
        else:
            step("topology up")
            settings = {"COMMONROOM_S3_READ_TIMEOUT": str(S3_READ_TIMEOUT)}
            with topology(base, pg_url, "throughputbench", settings) as up:
                step(f"seeding (database {up.database})")
                world_path = base / "world.json"
                subprocess.run(
                    [sys.executable, "-m", "bench.topology_throughput", "--seed", str(world_path)],
                    env=up.env,
                    cwd=REPO,
                    check=True,
                )
                world = World(**json.loads(world_path.read_text()))
                step(f"fan-out: {SOCKETS:,} sockets, {COMMENTS} comments")
                fanout = fan_out(up, world)
                r = fanout.run
                step(
                    f"  every socket: p50 {ms(r.all_ms, 50)}, p95 {ms(r.all_ms, 95)}, "
                    f"max {ms(r.all_ms)}; sockets that missed one: {r.missed_sockets}; "
                    f"counted {fanout.counted}"
                )
                upload = uploads(config, up, world)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    text = render(fanout, upload, notes, load_start)
    publish(text, KEY, config.output, step)


if __name__ == "__main__":
    main()
