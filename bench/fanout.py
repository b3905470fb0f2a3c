"""``python -m bench.fanout`` (run by ``make bench``): how long a comment takes to reach every
open screen of its workspace.

For each socket count in ``BENCH_FANOUT_SOCKETS`` (default 200 and 1,000), sockets are opened to
the real server (``commonroom serve``) as members of one workspace (bearer tokens of
``BENCH_FANOUT_PEOPLE`` people, default 20), then ``BENCH_FANOUT_COMMENTS`` comments (default 20)
are posted one after another through the JSON API. The figure for each (comment, socket) pair is
the time from starting the POST to the socket receiving that comment's event. Two layouts:

- one process, in-memory channel layer (the default install);
- two processes sharing Redis (``REDIS_URL``): half the sockets on each, comments posted through
  the first, so half the deliveries cross processes.

Each layout is first measured with one socket open, on the same server(s) in the same run: the
reference, what a comment costs to post and deliver once (the API, the database, one read of
the log, one frame), against which the fan-out to many sockets is read. Beside the latencies,
the CPU time (user + system) per comment of the server process(es) and of this load generator:
on a shared two-core machine they travel better than wall-clock figures.

The load generator (this process) shares the machine's two cores with the server, so the figures
include its own time to read 1,000 sockets. Nothing here fails on timing.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.config import Config
from bench.machine import load_average, machine
from bench.report import publish
from bench.server import Server, commonroom, server_environment

SOCKETS = [int(n) for n in os.environ.get("BENCH_FANOUT_SOCKETS", "200,1000").split(",") if n]
PEOPLE = int(os.environ.get("BENCH_FANOUT_PEOPLE", "20"))
COMMENTS = int(os.environ.get("BENCH_FANOUT_COMMENTS", "20"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
# The reference run's socket count: one socket, so one delivery per comment.
REFERENCE = 1


def step(message: str) -> None:
    print(f"[fanout] {message}", flush=True)


@dataclass
class Run:
    layout: str
    sockets: int
    latencies_ms: list[float] = field(default_factory=list)
    last_ms: list[float] = field(default_factory=list)  # per comment: until the last socket
    # Per comment that reached every socket: until the last of them had it.
    all_ms: list[float] = field(default_factory=list)
    # Each (comment, socket) latency by the server the socket was opened to (its index in urls).
    by_server: dict[int, list[float]] = field(default_factory=dict)
    missed_sockets: int = 0  # sockets that did not receive every comment
    post_ms: list[float] = field(default_factory=list)
    lost: int = 0
    closed: list[str] = field(default_factory=list)
    server_cpu_ms: float = 0.0  # per comment, every server process together
    client_cpu_ms: float = 0.0  # per comment, this load generator

    @property
    def reference(self) -> bool:
        return self.sockets == REFERENCE

    def pct(self, values: list[float], p: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass(frozen=True)
class World:
    workspace_id: str
    document_id: str
    writer_token: str
    reader_tokens: list[str]


def seed() -> World:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from commonroom.accounts.models import TokenScope, User
    from commonroom.accounts.services import token_create
    from commonroom.documents.services import document_upload
    from commonroom.workspaces.models import Membership, Role
    from commonroom.workspaces.selectors import workspace_access
    from commonroom.workspaces.services import workspace_create

    manager = User.objects.create_user("priya@example.org", secrets.token_urlsafe(12))
    ws = workspace_create(actor=manager, name="Fan-out")
    readers = []
    for i in range(PEOPLE):
        person = User.objects.create_user(f"reader{i}@example.org", secrets.token_urlsafe(12))
        Membership.objects.create(workspace=ws, user=person, role=Role.VIEWER)
        readers.append(token_create(actor=person, name="fanout", scope=TokenScope.READ).secret)
    version = document_upload(
        actor=manager,
        access=workspace_access(user=manager, workspace_id=ws.pk),
        uploaded=SimpleUploadedFile("minutes.txt", b"Minutes\n", content_type="text/plain"),
    )
    writer = token_create(actor=manager, name="fanout", scope=TokenScope.WRITE).secret
    return World(str(ws.pk), str(version.document_id), writer, readers)


async def measure(
    layout: str,
    urls: list[str],
    world: World,
    count: int,
    server_cpu: Callable[[], float],
    *,
    comments: int = COMMENTS,
    opened: Callable[[], None] | None = None,
) -> Run:
    """``count`` sockets opened in turn to each of ``urls`` (socket ``i`` to ``urls[i % n]``),
    then ``comments`` comments posted through ``urls[0]``. ``opened`` is called once every
    socket has said hello, before the first comment."""
    from websockets.asyncio.client import connect

    run = Run(layout, count)
    arrivals: dict[str, dict[int, float]] = {}  # comment -> socket -> when it had it
    closed: list[str] = []
    sockets = []
    for i in range(count):
        base = urls[i % len(urls)].replace("http://", "ws://")
        token = world.reader_tokens[i % len(world.reader_tokens)]
        sockets.append(
            await connect(
                f"{base}/ws/w/{world.workspace_id}/",
                additional_headers={"Authorization": f"Bearer {token}"},
                max_queue=None,
            )
        )
        json.loads(await sockets[-1].recv())  # hello

    async def listen(index: int, sock: object) -> None:
        try:
            async for raw in sock:  # type: ignore[attr-defined]
                message = json.loads(raw)
                if message.get("type") == "event" and message.get("kind") == "comment.created":
                    comment = message["data"]["comment"]
                    arrivals.setdefault(comment, {})[index] = time.perf_counter()
        except Exception as exc:
            closed.append(f"{type(exc).__name__}: {exc}")
        else:
            closed.append(f"closed: {getattr(sock, 'close_code', None)}")

    if opened is not None:
        opened()
    listeners = [asyncio.create_task(listen(i, s)) for i, s in enumerate(sockets)]
    posted: list[str] = []
    api = f"{urls[0]}/api/v1/workspaces/{world.workspace_id}/documents/{world.document_id}/comments"
    server_started, client_started = server_cpu(), time.process_time()
    async with httpx.AsyncClient(
        headers={"Authorization": f"Bearer {world.writer_token}"}, timeout=60
    ) as http:
        for n in range(comments):
            started = time.perf_counter()
            answer = await http.post(api, json={"body": f"Fan-out comment {n}"})
            run.post_ms.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 201:
                raise SystemExit(f"posting a comment answered {answer.status_code}: {answer.text}")
            comment = answer.json()["id"]
            posted.append(comment)
            deadline = time.perf_counter() + 30
            while len(arrivals.get(comment, {})) < count and time.perf_counter() < deadline:
                await asyncio.sleep(0.005)
            by_socket = arrivals.get(comment, {})
            got = list(by_socket.values())
            run.lost += count - len(got)
            run.latencies_ms.extend((t - started) * 1000 for t in got)
            for index, t in by_socket.items():
                run.by_server.setdefault(index % len(urls), []).append((t - started) * 1000)
            if got:
                run.last_ms.append((max(got) - started) * 1000)
            if len(got) >= count:
                run.all_ms.append((max(got) - started) * 1000)
            await asyncio.sleep(0.2)
    run.server_cpu_ms = (server_cpu() - server_started) * 1000 / comments
    run.client_cpu_ms = (time.process_time() - client_started) * 1000 / comments
    run.missed_sockets = sum(
        1 for i in range(count) if any(i not in arrivals.get(c, {}) for c in posted)
    )
    if closed:
        run.closed = sorted(set(closed))
        step(f"  {len(closed)} sockets closed during the run: {run.closed[:3]}")
    for task in listeners:
        task.cancel()
    for sock in sockets:
        await sock.close()
    return run


def render(runs: list[Run], notes: list[str]) -> str:
    info = machine()
    lines = [
        "## Live fan-out: posting a comment to its arrival on every open socket",
        "",
        f"{info.date}, {info.cpus} CPUs ({info.cpu_model}); load average at the end "
        f"{load_average()}. "
        f"{COMMENTS} comments posted one at a time through the JSON API; sockets opened as "
        f"{PEOPLE} members with bearer tokens. Reproduce: `make bench` (or "
        "`python -m bench.fanout`; `BENCH_FANOUT_SOCKETS=200,1000`).",
        "",
        "| Layout | Sockets | p50 | p99 | max | Last socket, p50 | POST p50 "
        "| Server CPU per comment | Load generator CPU per comment | Lost |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        sockets = f"{r.sockets:,} (reference)" if r.reference else f"{r.sockets:,}"
        if not r.latencies_ms:
            lines.append(f"| {r.layout} | {sockets} | - | - | - | - | - | - | - | {r.lost} |")
            continue
        lines.append(
            f"| {r.layout} | {sockets} | {r.pct(r.latencies_ms, 50):,.0f} ms "
            f"| {r.pct(r.latencies_ms, 99):,.0f} ms | {max(r.latencies_ms):,.0f} ms "
            f"| {statistics.median(r.last_ms):,.0f} ms | {statistics.median(r.post_ms):,.0f} ms "
            f"| {r.server_cpu_ms:,.1f} ms | {r.client_cpu_ms:,.1f} ms | {r.lost} |"
        )
    lines.append("")
    for r in runs:
        ref = next((x for x in runs if x.layout == r.layout and x.reference), None)
        if r.reference or ref is None or not r.latencies_ms or not ref.latencies_ms:
            continue
        lines.append(
            f"- {r.layout}, {r.sockets:,} sockets: p99 {r.pct(r.latencies_ms, 99):,.0f} ms "
            f"against the reference's {ref.pct(ref.latencies_ms, 99):,.0f} ms (one socket, "
            f"same run); server CPU {r.server_cpu_ms:,.1f} ms a comment against "
            f"{ref.server_cpu_ms:,.1f} ms."
        )
    lines += ["", *notes, ""] if notes else [""]
    return "\n".join(lines)


def main() -> None:
    config = Config.from_env()
    config.base_dir.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="fanout-", dir=config.base_dir))
    runs: list[Run] = []
    notes: list[str] = []
    try:
        env = server_environment(config, data_dir, "")
        for name in list(os.environ):
            if name not in env:
                del os.environ[name]
        os.environ.update(env)
        step("migrating")
        commonroom(env, "migrate", "--noinput", "-v", "0")
        import django

        django.setup()
        world = seed()
        from django.db import connections

        connections.close_all()
        with Server(env, data_dir / "one.log") as server:
            for count in [REFERENCE, *SOCKETS]:
                step(f"in memory, one process, {count} sockets")
                runs.append(
                    asyncio.run(
                        measure(
                            "In memory, 1 process", [server.url], world, count, server.cpu_seconds
                        )
                    )
                )
        try:
            import redis

            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        except Exception as exc:
            notes.append(f"Redis at {REDIS_URL} did not answer ({exc}): two-process runs skipped.")
        else:
            redis_env = {
                **env,
                "REDIS_URL": REDIS_URL,
                "COMMONROOM_CHANNEL_PREFIX": f"bench-{secrets.token_hex(4)}",
            }
            with (
                Server(redis_env, data_dir / "a.log") as one,
                Server(redis_env, data_dir / "b.log") as two,
            ):
                for count in [REFERENCE, *SOCKETS]:
                    step(f"Redis, two processes, {count} sockets")
                    runs.append(
                        asyncio.run(
                            measure(
                                "Redis, 2 processes",
                                [one.url, two.url],
                                world,
                                count,
                                lambda: one.cpu_seconds() + two.cpu_seconds(),
                            )
                        )
                    )
    finally:
        keep = os.environ.get("BENCH_FANOUT_LOGS")  # a folder to keep the servers' logs in
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            for log in data_dir.glob("*.log"):
                shutil.copy(log, Path(keep) / log.name)
        shutil.rmtree(data_dir, ignore_errors=True)
    text = render(runs, notes)
    publish(text, "fanout", config.output, step)


if __name__ == "__main__":
    main()
