"""The production topology (``scripts/topology.sh``) under faults, each with "nothing lost"
checked by counting in its database: an app process killed while uploads and comments pass
through nginx, Redis stopped for a while under open websockets, a worker killed in the middle
of a preview.

The topology here is brought up once for this module with ``running_topology`` (from
test_topology.py), in a folder, on ports and with a database of its own, and with its own Redis
on a free port (never the machine's, which may not be stopped). Like test_topology.py it runs in
the PostgreSQL run of ``make test`` only (the ``own_database`` mark); nginx, moto or
redis-server missing: skipped loudly, a failure with CI=true."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync

from commonroom.core.tests.test_topology import (
    Topology,
    _missing,
    _workspace,
    require_topology_tools,
    running_topology,
)
from commonroom.live.tests.servers import free_port

pytestmark = pytest.mark.own_database

UPLOADS = 20
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
COMMENTS = 200


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    require_topology_tools()
    if shutil.which("redis-server") is None:
        _missing("redis-server is not installed (the faults need a Redis they may stop)")
    # Nothing answers on TOPOLOGY_REDIS, so the script starts its own on TOPOLOGY_REDIS_PORT.
    nowhere, own = free_port(), free_port()
    with running_topology(
        tmp_path_factory.mktemp("faults"),
        TOPOLOGY_REDIS=f"127.0.0.1:{nowhere}",
        TOPOLOGY_REDIS_PORT=str(own),
        # The 20 uploads are one person's, all at once; the killed process's upload slots
        # would otherwise stay taken until their lease ends (core/upload_slots.py).
        COMMONROOM_MAX_CONCURRENT_UPLOADS=str(UPLOADS * 2),
        # The workers' housekeeping (a dead worker's task back to the queue) every few seconds,
        # not every two minutes, so that the other worker takes the killed one's preview soon.
        COMMONROOM_HOUSEKEEPING_SECONDS="3",
    ) as topology:
        assert topology.environment["REDIS_URL"] == f"redis://127.0.0.1:{own}/0"
        yield topology


def _rows(topology: Topology, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of a query run on the topology's own database (what its processes wrote)."""
    import psycopg

    with psycopg.connect(topology.environment["DATABASE_URL"]) as db:
        return list(db.execute(query, params).fetchall())


def _token(topology: Topology, email: str, scope: str) -> str:
    return topology.command("token", "create", email, f"faults-{scope}", "--scope", scope).strip()


def _first_document(topology: Topology, token: str, workspace: str) -> str:
    listed = httpx.get(
        f"{topology.url}/api/v1/workspaces/{workspace}/documents",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert listed.status_code == 200, listed.text
    return str(listed.json()["items"][0]["id"])


def _wait_until_serving(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} did not serve within {seconds} s"
        time.sleep(0.1)


def test_an_app_process_killed_under_uploads_and_comments_loses_and_doubles_nothing(
    topology: Topology,
) -> None:
    """kill -9 of app process one while 20 uploads and 200 comments pass through nginx. nginx
    sends the next requests to the other process; a POST that process one had begun may fail
    (502: nginx does not resend a request that is not idempotent), and may still have been
    written. Counted afterwards: every write answered 2xx is there once, nothing is there twice,
    and nothing is there that was not sent."""
    token = _token(topology, "priya@example.org", "write")
    workspace = _workspace(topology, token)
    document = _first_document(topology, token, workspace)
    auth = {"Authorization": f"Bearer {token}"}
    run = uuid.uuid4().hex[:8]
    contents = {
        f"fault-{run}-{i:02}.bin": os.urandom(2 * 1024 * 1024) + bytes([i]) for i in range(UPLOADS)
    }
    bodies = [f"Fault {run} comment {i:03}" for i in range(COMMENTS)]
    answered = threading.Semaphore(0)

    def posted(key: str, path: str, **body: Any) -> tuple[str, int | None, dict[str, Any]]:
        """``key`` with the status of a POST of ``body`` to ``path`` through nginx (None when
        the connection broke) and its answer when it was a success."""
        try:
            with httpx.Client(timeout=60) as http:
                done = http.post(f"{topology.url}{path}", headers=auth, **body)
            return key, done.status_code, done.json() if done.status_code < 300 else {}
        except httpx.TransportError:
            return key, None, {}
        finally:
            answered.release()

    def upload(filename: str) -> tuple[str, int | None, dict[str, Any]]:
        file = (filename, contents[filename], "application/octet-stream")
        return posted(filename, f"/api/v1/workspaces/{workspace}/documents", files={"file": file})

    def comment(body: str) -> tuple[str, int | None, dict[str, Any]]:
        path = f"/api/v1/workspaces/{workspace}/documents/{document}/comments"
        return posted(body, path, json={"body": body})

    victim = topology.pid("web1")
    with ThreadPoolExecutor(max_workers=12) as pool:
        # Interleaved, one upload to ten comments, so that uploads are in flight at the kill.
        uploads, comments = [], []
        names = iter(contents)
        for i, body in enumerate(bodies):
            if i % (COMMENTS // UPLOADS) == 0:
                uploads.append(pool.submit(upload, next(names)))
            comments.append(pool.submit(comment, body))
        # Killed once some writes have been answered (it serves), so that others are in flight.
        for _ in range(20):
            assert answered.acquire(timeout=60), "no answers before the kill"
        os.killpg(victim, signal.SIGKILL)
        upload_answers = [future.result() for future in uploads]
        comment_answers = [future.result() for future in comments]

    statuses = [status for _, status, _ in upload_answers + comment_answers]
    assert set(statuses) <= {201, 502, None}, statuses
    ok_uploads = {name: answer for name, status, answer in upload_answers if status == 201}
    ok_comments = {body: answer for body, status, answer in comment_answers if status == 201}
    # Most of the writes went through: the other process took over.
    assert len(ok_uploads) + len(ok_comments) >= (UPLOADS + COMMENTS) // 2, statuses

    versions = _rows(
        topology,
        "SELECT filename, blob_id, id FROM documents_version WHERE filename LIKE %s",
        f"fault-{run}-%",
    )
    stored_names = [name for name, _, _ in versions]
    assert len(stored_names) == len(set(stored_names)), "an upload is there twice"
    for name, digest, _ in versions:
        assert digest == hashlib.sha256(contents[name]).hexdigest(), name
    for name, answer in ok_uploads.items():
        assert name in stored_names, f"{name} was answered 201 and is not there"
        assert answer["version"]["sha256"] == hashlib.sha256(contents[name]).hexdigest()
    stored_comments = [
        body
        for (body,) in _rows(
            topology, "SELECT body FROM comments_comment WHERE body LIKE %s", f"Fault {run} %"
        )
    ]
    assert len(stored_comments) == len(set(stored_comments)), "a comment is there twice"
    assert set(ok_comments) <= set(stored_comments), "a comment answered 201 is not there"
    assert set(stored_comments) <= set(bodies)
    ids = {str(row[0]) for row in _rows(topology, "SELECT id FROM comments_comment")}
    assert {answer["id"] for answer in ok_comments.values()} <= ids
    # Written although the answer was lost with the process (a 502): allowed, never twice.
    unanswered = (len(stored_names) - len(ok_uploads)) + (len(stored_comments) - len(ok_comments))
    print(
        f"after kill -9: {len(ok_uploads)}/{UPLOADS} uploads and {len(ok_comments)}/{COMMENTS}"
        f" comments answered 201; {statuses.count(502)} answered 502,"
        f" {statuses.count(None)} cut off; {unanswered} written with their answer lost"
    )

    # `up` starts again what is not running: process one serves, directly and behind nginx.
    restarted = topology.script("up", TOPOLOGY_DEMO="0")
    assert restarted.returncode == 0, restarted.stderr
    assert topology.pid("web1") != victim
    _wait_until_serving(topology.apps[0], 30)
    listed = httpx.get(f"{topology.apps[0]}/api/v1/workspaces/{workspace}/documents", headers=auth)
    assert listed.status_code == 200, listed.text


def _answers(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_redis_stopped_for_ten_seconds_loses_and_doubles_no_live_event(topology: Topology) -> None:
    """A socket opened through nginx before the topology's Redis stops; comments posted before,
    during and after the ten seconds it is away. The socket is closed (1013, try again later) or
    left quiet; reconnected with ``after=<last id seen>`` as live.js does, it has every
    comment's event exactly once, in id order."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    writer = _token(topology, "tom@example.org", "write")
    reader = _token(topology, "sam@example.org", "read")
    workspace = _workspace(topology, writer)
    document = _first_document(topology, writer, workspace)
    run = uuid.uuid4().hex[:8]
    redis_port = int(topology.environment["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
    socket_url = topology.url.replace("http://", "ws://") + f"/ws/w/{workspace}/"
    headers = {"Authorization": f"Bearer {reader}"}
    seen: list[dict[str, Any]] = []  # every event the sockets delivered, in order
    statuses: list[int] = []

    async def post(http: httpx.AsyncClient, body: str) -> None:
        try:
            done = await http.post(
                f"{topology.url}/api/v1/workspaces/{workspace}/documents/{document}/comments",
                json={"body": f"Outage {run} {body}"},
                headers={"Authorization": f"Bearer {writer}"},
            )
            statuses.append(done.status_code)
        except httpx.TransportError:
            statuses.append(0)

    async def listen(socket: Any, until: float) -> None:
        """Events into ``seen`` until the socket closes or ``until`` (monotonic) passes."""
        try:
            while (left := until - time.monotonic()) > 0:
                async with asyncio.timeout(left):
                    message = json.loads(await socket.recv())
                assert message["type"] != "reset", "the outage was short: nothing to reset"
                if message["type"] == "event":
                    seen.append(message)
        except (ConnectionClosed, TimeoutError):
            pass

    def last_id() -> int:
        return max((event["id"] for event in seen), default=0)

    async def body() -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            async with connect(socket_url, additional_headers=headers) as socket:
                assert json.loads(await socket.recv())["type"] == "hello"
                await socket.send(json.dumps({"type": "ping"}))
                assert json.loads(await socket.recv())["type"] == "pong"
                for i in range(3):
                    await post(http, f"before {i}")
                await listen(socket, time.monotonic() + 2)
                os.killpg(topology.pid("redis"), signal.SIGTERM)
                while _answers(redis_port):
                    await asyncio.sleep(0.1)
                outage_ends = time.monotonic() + 10
                for i in range(5):
                    await post(http, f"during {i}")
                await listen(socket, outage_ends)
            # `up` starts Redis again (and leaves the rest as it is).
            started = await asyncio.to_thread(topology.script, "up", TOPOLOGY_DEMO="0")
            assert started.returncode == 0, started.stderr
            for i in range(3):
                await post(http, f"after {i}")
            # Reconnected as live.js does: the events after the last one seen, then live ones.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    async with connect(
                        f"{socket_url}?after={last_id()}", additional_headers=headers
                    ) as socket:
                        assert json.loads(await socket.recv())["type"] == "hello"
                        await post(http, "live")
                        await listen(socket, time.monotonic() + 3)
                        break
                except (ConnectionClosed, InvalidStatus, OSError):
                    await asyncio.sleep(0.5)

    async_to_sync(body)()
    comments = {
        str(comment_id): text
        for comment_id, text in _rows(
            topology, "SELECT id, body FROM comments_comment WHERE body LIKE %s", f"Outage {run} %"
        )
    }
    # Before and after the outage every comment is written; during it, Redis is not needed.
    assert statuses.count(201) == len(statuses) == 12, statuses
    assert len(comments) == 12
    delivered = [event["data"]["comment"] for event in seen if event["kind"] == "comment.created"]
    assert sorted(delivered) == sorted(comments), "an event lost or sent twice"
    ids = [event["id"] for event in seen]
    assert ids == sorted(set(ids)), "events out of order or twice"


CONVERTER = b"commonroom.previews.convert"


def _long_docx(paragraphs: int) -> bytes:
    """A Word file of many paragraphs, whose preview takes a few seconds to make."""
    import io
    import zipfile

    import docx

    made = io.BytesIO()
    docx.Document().save(made)
    one = "<w:p><w:r><w:t>{}</w:t></w:r></w:p>"
    body = "".join(
        one.format(f"Paragraph {i} of the long minutes, with some words to read. " * 3)
        for i in range(paragraphs)
    )
    out = io.BytesIO()
    with zipfile.ZipFile(made) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "word/document.xml":
                text = data.decode()
                start = text.index("<w:body>") + len("<w:body>")
                data = (text[:start] + body + text[start:]).encode()
            copy.writestr(item, data)
    return out.getvalue()


def _parent_of(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def _converting_worker(topology: Topology) -> str | None:
    """The worker (``worker1``/``worker2``) one of whose descendants is converting, if any. The
    converter leads a session of its own (core/sandbox.py), so it is found by its parents; it
    dies with its parent (PR_SET_PDEATHSIG)."""
    workers = {topology.pid(name): name for name in ("worker1", "worker2")}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if CONVERTER not in command:
            continue
        pid = int(entry.name)
        while pid > 1:
            if pid in workers:
                return workers[pid]
            pid = _parent_of(pid)
    return None


def test_a_worker_killed_in_the_middle_of_a_preview_leaves_it_to_the_other(
    topology: Topology,
) -> None:
    """kill -9 of the worker making a preview (its session: the converter too). The other
    worker, at its next housekeeping, finds the task's worker dead (the process table on this
    machine) and gives the task back to the queue; the preview ends ready, never left pending.
    The killed worker then starts again with topology.sh up."""
    token = _token(topology, "priya@example.org", "write")
    workspace = _workspace(topology, token)
    content = _long_docx(15_000)
    uploaded = httpx.post(
        f"{topology.url}/api/v1/workspaces/{workspace}/documents",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": (f"minutes-{uuid.uuid4().hex[:8]}.docx", content, DOCX)},
        timeout=60,
    )
    assert uploaded.status_code == 201, uploaded.text
    digest = uploaded.json()["version"]["sha256"]

    def status() -> str:
        rows = _rows(topology, "SELECT status FROM previews_preview WHERE blob_id = %s", digest)
        return str(rows[0][0]) if rows else "none"

    deadline = time.monotonic() + 30
    while (busy := _converting_worker(topology)) is None:
        assert status() in {"none", "pending"}, "the preview was made before it could be cut"
        assert time.monotonic() < deadline, "no worker took the preview within 30 s"
        time.sleep(0.02)
    victim = topology.pid(busy)
    os.killpg(victim, signal.SIGKILL)
    assert status() == "pending"

    deadline = time.monotonic() + 45
    while status() == "pending":
        assert time.monotonic() < deadline, "the preview was left pending for 45 s"
        time.sleep(0.2)
    assert status() == "ready"
    other = "worker2" if busy == "worker1" else "worker1"
    log = (topology.directory / "log" / f"{other}.log").read_text()
    # Its housekeeping gave the task back (core/services.py, _give_back), and it made it.
    assert "make_preview) given back: its worker" in log, "the other worker did not take it"

    restarted = topology.script("up", TOPOLOGY_DEMO="0")
    assert restarted.returncode == 0, restarted.stderr
    assert topology.pid(busy) != victim
    os.kill(topology.pid(busy), 0)  # running again
