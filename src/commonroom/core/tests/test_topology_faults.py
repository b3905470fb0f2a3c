"""The production topology (``scripts/topology.sh``) under faults, each with "nothing lost"
checked by counting in its database: an app process killed while uploads and comments pass
through nginx, Redis stopped for a while under open websockets, a worker killed in the middle
of a preview, the S3 store not answering for ten seconds (moto's server stopped with SIGSTOP),
and PostgreSQL stopped and started again under comments and page reads.

The topology here is brought up once for this module with ``running_topology`` (from
test_topology.py), in a folder, on ports and with a database of its own, with its own Redis
and its own PostgreSQL server, each on a free port (never the machine's, which may not be
stopped: other tests use them). As root, topology.sh runs that PostgreSQL as the postgres
account, so the folder is one that account can reach (not pytest's). Its S3 client gives up
on a store that does not answer after 3 s an attempt (production: 20 s). Like
test_topology.py it runs in the PostgreSQL run of ``make test`` only (the ``own_database``
mark); nginx, moto, redis-server or Debian's PostgreSQL server missing: skipped loudly, a
failure with CI=true."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
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
    PASSWORD,
    Topology,
    _missing,
    _sign_in,
    _workspace,
    require_topology_tools,
    running_topology,
    wait_for_both_workers_leased,
)
from commonroom.live.tests.servers import free_port

pytestmark = pytest.mark.own_database

UPLOADS = 20
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
COMMENTS = 200
S3_READ_TIMEOUT = 3


def _postgres_bin() -> Path | None:
    """Debian's PostgreSQL server programs (initdb, pg_ctl), the newest installed, if any."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda path: [int(part) for part in path.parts[-3].split(".") if part.isdigit()],
    )
    return found[-1].parent if found else None


def _topology_folder() -> Path:
    """A new folder for the topology that PostgreSQL's own account can reach when the tests run
    as root (topology.sh then runs initdb and pg_ctl as postgres): pytest's own folders are
    closed to other accounts. Others may pass through it, not list it; what is in it stays the
    owner's (the script writes with umask 077), but the server's folder, which is postgres'.
    Under /tmp itself: the temp folder Python would choose may be closed to others (importing
    commonroom.asgi points it into the data folder, as a served process's uploads need)."""
    folder = Path(tempfile.mkdtemp(prefix="commonroom-faults-", dir="/tmp"))
    folder.chmod(0o711)
    return folder


@pytest.fixture(scope="module")
def topology() -> Iterator[Topology]:
    require_topology_tools()
    if shutil.which("redis-server") is None:
        _missing("redis-server is not installed (the faults need a Redis they may stop)")
    if _postgres_bin() is None:
        _missing(
            "Debian's PostgreSQL server (postgresql) is not installed (the faults need a "
            "PostgreSQL they may restart)"
        )
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        _missing("runuser is missing (as root, PostgreSQL runs as the postgres account)")
    # Nothing answers on TOPOLOGY_REDIS nor on TOPOLOGY_PG, so the script starts its own of
    # each on TOPOLOGY_REDIS_PORT and TOPOLOGY_PG_PORT: the machine's are never stopped.
    redis_nowhere, redis_own, pg_nowhere, pg_own = (free_port() for _ in range(4))
    folder = _topology_folder()
    try:
        with running_topology(
            folder,
            TOPOLOGY_REDIS=f"127.0.0.1:{redis_nowhere}",
            TOPOLOGY_REDIS_PORT=str(redis_own),
            TOPOLOGY_PG=f"127.0.0.1:{pg_nowhere}",
            TOPOLOGY_PG_PORT=str(pg_own),
            # The 20 uploads are one person's, all at once; the killed process's upload slots
            # would otherwise stay taken until their lease ends (core/upload_slots.py).
            COMMONROOM_MAX_CONCURRENT_UPLOADS=str(UPLOADS * 2),
            # The workers' housekeeping (a dead worker's task back to the queue) every few
            # seconds, not every two minutes, so that the other worker takes the killed one's
            # preview soon.
            COMMONROOM_HOUSEKEEPING_SECONDS="3",
            # A store that stops answering fails a request after the read timeout, for each
            # attempt: 3 s and 2 attempts here (production: 20 s and 2), so that the S3 outage's
            # 503s come within seconds while 20 uploads at once still fit in the time.
            COMMONROOM_S3_READ_TIMEOUT=str(S3_READ_TIMEOUT),
            COMMONROOM_S3_ATTEMPTS="2",
        ) as topology:
            assert topology.environment["REDIS_URL"] == f"redis://127.0.0.1:{redis_own}/0"
            assert f"@127.0.0.1:{pg_own}/" in topology.environment["DATABASE_URL"]
            yield topology
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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

    versions = topology.rows(
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
        for (body,) in topology.rows(
            "SELECT body FROM comments_comment WHERE body LIKE %s", f"Fault {run} %"
        )
    ]
    assert len(stored_comments) == len(set(stored_comments)), "a comment is there twice"
    assert set(ok_comments) <= set(stored_comments), "a comment answered 201 is not there"
    assert set(stored_comments) <= set(bodies)
    ids = {str(row[0]) for row in topology.rows("SELECT id FROM comments_comment")}
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
        for comment_id, text in topology.rows(
            "SELECT id, body FROM comments_comment WHERE body LIKE %s", f"Outage {run} %"
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
        rows = topology.rows("SELECT status FROM previews_preview WHERE blob_id = %s", digest)
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


def _picture() -> bytes:
    """A small PNG of random pixels (so that its bytes, and its preview, are new)."""
    import io

    from PIL import Image

    made = io.BytesIO()
    Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3)).save(made, "PNG")
    return made.getvalue()


def _browser(topology: Topology, email: str) -> httpx.Client:
    """A client signed in as ``email`` through nginx, as a browser is (its session cookie)."""
    browser = httpx.Client(base_url=topology.url, timeout=60)
    signed_in = _sign_in(browser, email, PASSWORD)
    assert signed_in.status_code == 302, signed_in.text
    return browser


def _timed(call: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.monotonic()
    try:
        result = call(*args, **kwargs)
    except httpx.TransportError as exc:
        result = exc
    return time.monotonic() - started, result


def _slots_held(topology: Topology, person_id: int) -> list[bytes]:
    """The upload slots (core/upload_slots.py) ``person_id`` holds in the topology's Redis."""
    import redis

    client = redis.Redis.from_url(topology.environment["REDIS_URL"])
    try:
        return list(client.scan_iter(match=f"*upload-slot:{person_id}:*"))
    finally:
        client.close()


def test_s3_away_for_ten_seconds_answers_503_saves_nothing_and_reads_again_after(
    topology: Topology,
) -> None:
    """moto's S3 server stopped with SIGSTOP for ten seconds, then SIGCONT. Stopped, not
    killed: moto keeps the bucket in memory, and a store that stops answering is the outage to
    fear (a store that refuses at once is the easy one). The kernel still accepts connections
    on its port, so every call waits for the client's read timeout (3 s here, 2 attempts, set
    by the module's topology) and then fails: uploads answer 503 with the sentence "nothing was
    saved", and leave no document, version, blob row, task or object; downloads and preview
    pictures answer 503 with a sentence. After SIGCONT every file stored before reads back
    byte-identical, the uploads refused are accepted when sent again, and the processes are
    whole: no upload slot left taken, ten uploads in a row succeed."""
    from commonroom.core.exceptions import (
        STORAGE_UNAVAILABLE_MESSAGE,
        UPLOAD_STORE_UNAVAILABLE_MESSAGE,
    )

    token = _token(topology, "priya@example.org", "write")
    ((person_id,),) = topology.rows(
        "SELECT id FROM accounts_user WHERE email = %s", "priya@example.org"
    )
    workspace = _workspace(topology, token)
    auth = {"Authorization": f"Bearer {token}"}
    api = f"{topology.url}/api/v1/workspaces/{workspace}/documents"
    run = uuid.uuid4().hex[:8]

    def upload(name: str, content: bytes, kind: str = "application/octet-stream") -> Any:
        with httpx.Client(timeout=60) as http:
            return http.post(api, headers=auth, files={"file": (name, content, kind)})

    def download(document: str) -> Any:
        with httpx.Client(timeout=60) as http:
            return http.get(f"{api}/{document}/versions/1/content", headers=auth)

    # Stored before the outage: three files and a picture with its preview.
    before = {f"before-{run}-{i}.bin": os.urandom(512 * 1024) + bytes([i]) for i in range(3)}
    documents: dict[str, str] = {}
    for name, content in before.items():
        stored = upload(name, content)
        assert stored.status_code == 201, stored.text
        documents[name] = stored.json()["document"]["id"]
    picture = _picture()
    stored = upload(f"picture-{run}.png", picture, "image/png")
    assert stored.status_code == 201, stored.text
    picture_document = stored.json()["document"]["id"]
    digest = stored.json()["version"]["sha256"]
    browser = _browser(topology, "priya@example.org")
    deadline = time.monotonic() + 60
    while not (
        names := topology.rows(
            "SELECT name FROM previews_previewfile WHERE preview_id = %s", digest
        )
    ):
        assert time.monotonic() < deadline, "the picture's preview was not made in 60 s"
        time.sleep(0.3)
    preview_url = f"/w/{workspace}/d/{picture_document}/v/1/preview/files/{names[0][0]}"
    while (shown := browser.get(preview_url)).status_code != 200:
        assert time.monotonic() < deadline, f"the preview's picture: {shown.status_code}"
        time.sleep(0.3)
    preview_bytes = shown.content

    def read_back() -> None:
        for name, content in before.items():
            sent = download(documents[name])
            assert sent.status_code == 302, sent.text
            fetched = httpx.get(sent.headers["location"], timeout=60)
            assert fetched.status_code == 200 and fetched.content == content, name
        again = browser.get(preview_url)
        assert again.status_code == 200 and again.content == preview_bytes

    read_back()
    threads_before = {name: _threads(topology.pid(name)) for name in ("web1", "web2")}

    # The outage: three uploads, two downloads and the preview's picture at once.
    refused = {f"during-{run}-{i}.bin": os.urandom(256 * 1024) + bytes([i]) for i in range(3)}
    moto = topology.pid("s3")
    os.killpg(moto, signal.SIGSTOP)
    try:
        stopped_at = time.monotonic()
        with ThreadPoolExecutor(max_workers=6) as pool:
            uploads = [
                pool.submit(_timed, upload, name, content) for name, content in refused.items()
            ]
            downloads = [
                pool.submit(_timed, download, documents[name]) for name in list(before)[:2]
            ]
            preview = pool.submit(_timed, browser.get, preview_url)
            upload_answers = [future.result() for future in uploads]
            download_answers = [future.result() for future in downloads]
            preview_answer = preview.result()
        answered_in = time.monotonic() - stopped_at
        time.sleep(max(0.0, 10 - answered_in))
    finally:
        os.killpg(moto, signal.SIGCONT)

    for answers, sentence in (
        (upload_answers, UPLOAD_STORE_UNAVAILABLE_MESSAGE),
        (download_answers, STORAGE_UNAVAILABLE_MESSAGE),
    ):
        for _, answer in answers:
            assert isinstance(answer, httpx.Response), answer
            assert answer.status_code == 503, answer.text
            assert answer.json() == {"code": "storage_unavailable", "detail": sentence}
    answer = preview_answer[1]
    assert isinstance(answer, httpx.Response), answer
    assert answer.status_code == 503
    assert STORAGE_UNAVAILABLE_MESSAGE.replace("'", "&#x27;") in answer.text
    times = [seconds for seconds, _ in (*upload_answers, *download_answers, preview_answer)]
    # Each within the client's two attempts of 3 s and the pause between them (botocore's
    # back-off, up to 2 s), with room for a busy machine: seconds, not botocore's default minute.
    assert max(times) < 2 * S3_READ_TIMEOUT + 2 + 7, times
    print(
        "S3 stopped: 503 after "
        + ", ".join(f"{seconds:.1f}" for seconds in times)
        + " s (3 uploads, 2 downloads, the preview's picture)"
    )

    # Nothing of the refused uploads anywhere.
    digests = [hashlib.sha256(content).hexdigest() for content in refused.values()]
    assert not topology.rows(
        "SELECT id FROM documents_document WHERE name LIKE %s", f"during-{run}-%"
    )
    assert not topology.rows(
        "SELECT id FROM documents_version WHERE filename LIKE %s", f"during-{run}-%"
    )
    assert not topology.rows("SELECT sha256 FROM documents_blob WHERE sha256 = ANY(%s)", digests)
    for sha in digests:
        assert not topology.rows(
            "SELECT id FROM django_tasks_database_dbtaskresult WHERE args_kwargs::text LIKE %s",
            f"%{sha}%",
        )
    assert not _slots_held(topology, person_id), "an upload slot is still taken"

    # The store answers again: what was stored reads back the same, nothing was kept in it of
    # the refused uploads, which are accepted when sent again.
    deadline = time.monotonic() + 30
    while True:
        try:
            topology.s3().head_bucket(Bucket=topology.environment["AWS_STORAGE_BUCKET_NAME"])
            break
        except Exception:
            assert time.monotonic() < deadline, "moto did not answer after SIGCONT"
            time.sleep(0.2)
    read_back()
    from botocore.exceptions import ClientError

    for sha in digests:
        with pytest.raises(ClientError):
            topology.s3().head_object(
                Bucket=topology.environment["AWS_STORAGE_BUCKET_NAME"],
                Key=f"blobs/{sha[:2]}/{sha[2:4]}/{sha}",
            )
    for name, content in refused.items():
        again = upload(name, content)
        assert again.status_code == 201, again.text
    # Whole again: ten uploads in a row, then nothing held.
    for i in range(10):
        done = upload(f"after-{run}-{i}.bin", os.urandom(64 * 1024))
        assert done.status_code == 201, done.text
    assert not _slots_held(topology, person_id)
    threads_after = {name: _threads(topology.pid(name)) for name in ("web1", "web2")}
    print(f"app threads before the outage {threads_before}, after it {threads_after}")
    browser.close()


def _threads(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


def _pg_ctl(topology: Topology, *args: str) -> subprocess.CompletedProcess[str]:
    """pg_ctl on the topology's own PostgreSQL, as its account (postgres when this is root)."""
    programs = _postgres_bin()
    assert programs is not None
    command = [str(programs / "pg_ctl"), "-D", str(topology.directory / "postgres"), *args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


POSTERS = 4
READERS = 2
DOWN_SECONDS = 3
AFTER_SECONDS = 12


class _Follower:
    """A page's live socket on one app process, reopened as live.js does (``after=`` the last
    event it saw) whenever it closes or cannot open, until ``stop``; then opened once more to
    read what is left. What it was sent, how each socket ended, and each refused opening are
    kept for counting."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.events: list[dict[str, Any]] = []
        self.closes: list[int | None] = []
        self.refused: list[str] = []
        self.resets = 0

    @property
    def last(self) -> int:
        return max((event["id"] for event in self.events), default=0)

    async def _read(self, socket: Any, until: Any) -> None:
        while not until():
            try:
                async with asyncio.timeout(0.5):
                    message = json.loads(await socket.recv())
            except TimeoutError:
                continue
            if message["type"] == "event":
                self.events.append(message)
            elif message["type"] == "reset":
                self.resets += 1

    async def follow(self, stop: threading.Event) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake

        while not stop.is_set():
            try:
                async with connect(
                    f"{self.url}?after={self.last}",
                    additional_headers=self.headers,
                    open_timeout=10,
                ) as socket:
                    await self._read(socket, stop.is_set)
            except ConnectionClosed as closed:
                self.closes.append(closed.rcvd.code if closed.rcvd else None)
            except (InvalidHandshake, OSError, TimeoutError) as refused:
                self.refused.append(repr(refused)[:200])
            await asyncio.sleep(0.5)

    async def catch_up(self) -> None:
        """Once more after the outage: what was committed since the last event seen."""
        from websockets.asyncio.client import connect

        async with connect(f"{self.url}?after={self.last}", additional_headers=self.headers) as s:
            quiet_from = time.monotonic()
            seen = len(self.events)

            def quiet() -> bool:
                nonlocal quiet_from, seen
                if len(self.events) != seen:
                    seen, quiet_from = len(self.events), time.monotonic()
                return time.monotonic() - quiet_from > 3

            await self._read(s, quiet)


async def _opened_in_outage(urls: list[str], token: str) -> list[str]:
    """How a socket opening on each of ``urls`` ends, in a few words, and in how long."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    async def one(url: str) -> str:
        began = time.monotonic()
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with connect(url, additional_headers=headers, open_timeout=20) as socket:
                async with asyncio.timeout(20):
                    first = json.loads(await socket.recv())["type"]
                outcome = f"opened, {first} first"
        except InvalidStatus as refused:
            outcome = f"refused {refused.response.status_code}"
        except ConnectionClosed as closed:
            outcome = f"closed {closed.rcvd.code if closed.rcvd else None}"
        except TimeoutError:
            outcome = "TimeoutError: no answer"
        except OSError as exc:
            outcome = f"not reached: {exc!r}"[:120]
        return f"{outcome} in {time.monotonic() - began:.1f} s"

    return list(await asyncio.gather(*(one(url) for url in urls)))


def test_postgresql_restarted_under_comments_and_page_reads_fails_cleanly_and_recovers(
    topology: Topology,
) -> None:
    """The topology's own PostgreSQL stopped with ``pg_ctl stop -m fast`` (every session
    ended at once, as in a restart or a failover) while four threads post comments and two
    read pages through nginx, and started again three seconds later with the options
    topology.sh starts it with. A request the stop cut off answers 503 with a sentence, never
    a 500 page, a 502 or no answer; one that comes while the server is away waits for a
    connection from its process's pool (30 s at most), and is answered once the server is back.
    Counted afterwards: every comment answered 201 is there once, none is there twice, none is
    there that was not sent. Then both app processes serve directly, both workers still run
    (each renews its lease in the database), and a picture's preview is made.

    A live socket on each app process follows the workspace throughout, reopened as a page
    does whenever it closes or cannot open: each socket ends with 1013 "try again later" (or
    not at all), never 1011; afterwards each has had every stored comment's event exactly once,
    in order, and no reset. A socket opened on each while the server is away waits for it and
    opens once it is back (or is refused with 503, or closed 1013): never left hanging."""
    from commonroom.core.exceptions import DATABASE_UNAVAILABLE_MESSAGE

    token = _token(topology, "priya@example.org", "write")
    workspace = _workspace(topology, token)
    document = _first_document(topology, token, workspace)
    auth = {"Authorization": f"Bearer {token}"}
    path = f"/api/v1/workspaces/{workspace}/documents/{document}/comments"
    pages = [f"/w/{workspace}/", f"/w/{workspace}/d/{document}/"]
    run = uuid.uuid4().hex[:8]
    stop = threading.Event()
    lock = threading.Lock()
    # (what, status or None when the connection broke, started (monotonic), seconds, answer)
    comments: list[tuple[str, int | None, float, float, Any]] = []
    reads: list[tuple[str, int | None, float, float, Any]] = []
    logs = {name: topology.directory / "log" / f"{name}.log" for name in ("web1", "web2")}
    log_sizes = {name: log.stat().st_size for name, log in logs.items()}

    def poster(n: int) -> None:
        with httpx.Client(base_url=topology.url, timeout=90) as http:
            i = 0
            while not stop.is_set():
                body = f"Restart {run} {n}-{i:04}"
                i += 1
                started = time.monotonic()
                try:
                    done = http.post(path, headers=auth, json={"body": body})
                    status: int | None = done.status_code
                    answer: Any = (
                        done.json() if "json" in done.headers.get("content-type", "") else done.text
                    )
                except httpx.TransportError as exc:
                    status, answer = None, repr(exc)
                with lock:
                    comments.append((body, status, started, time.monotonic() - started, answer))

    def reader(n: int, browser: httpx.Client) -> None:
        i = 0
        try:
            while not stop.is_set():
                page = pages[(n + i) % len(pages)]
                i += 1
                started = time.monotonic()
                try:
                    shown = browser.get(page)
                    status: int | None = shown.status_code
                    answer: Any = shown.text
                except httpx.TransportError as exc:
                    status, answer = None, repr(exc)
                with lock:
                    reads.append((page, status, started, time.monotonic() - started, answer))
        finally:
            browser.close()

    follower_token = _token(topology, "sam@example.org", "read")
    followers = [
        _Follower(app.replace("http://", "ws://") + f"/ws/w/{workspace}/", follower_token)
        for app in topology.apps
    ]
    stop_following = threading.Event()

    async def follow_all() -> None:
        await asyncio.gather(*(follower.follow(stop_following) for follower in followers))

    following = threading.Thread(target=asyncio.run, args=(follow_all(),))
    following.start()
    threads = [threading.Thread(target=poster, args=(n,)) for n in range(POSTERS)]
    threads += [
        threading.Thread(target=reader, args=(n, _browser(topology, "priya@example.org")))
        for n in range(READERS)
    ]
    for thread in threads:
        thread.start()
    opened_in_outage: list[str] = []
    opening: threading.Thread | None = None
    try:
        time.sleep(2)  # all of them under way
        port = topology.environment["DATABASE_URL"].rsplit(":", 1)[1].split("/")[0]
        stopped_at = time.monotonic()
        stopped = _pg_ctl(topology, "stop", "-m", "fast", "-w")
        assert stopped.returncode == 0, stopped.stderr
        # A page's socket opened while the server is away, on each app process: answered
        # (opened once the server is back, or refused, or closed 1013), never left hanging.
        opening = threading.Thread(
            target=lambda: opened_in_outage.extend(
                asyncio.run(
                    _opened_in_outage([follower.url for follower in followers], follower_token)
                )
            )
        )
        opening.start()
        time.sleep(DOWN_SECONDS)
        folder = topology.directory / "postgres"
        started = _pg_ctl(
            topology,
            "start",
            "-w",
            "-l",
            str(folder / "server.log"),
            "-o",
            f"-p {port} -c listen_addresses=127.0.0.1 -k {folder}",
        )
        assert started.returncode == 0, started.stderr
        back_at = time.monotonic()
        time.sleep(AFTER_SECONDS)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        stop_following.set()
        following.join(timeout=60)
        if opening is not None:
            opening.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request never ended"
    assert not following.is_alive(), "a live socket never ended"
    assert comments and reads

    async def catch_up_all() -> None:
        await asyncio.gather(*(follower.catch_up() for follower in followers))

    asyncio.run(catch_up_all())

    def unavailable(answer: Any) -> bool:
        if isinstance(answer, dict):
            return answer == {
                "code": "database_unavailable",
                "detail": DATABASE_UNAVAILABLE_MESSAGE,
            }
        return DATABASE_UNAVAILABLE_MESSAGE in str(answer)

    for what, status, _, _, answer in comments:
        assert status in {201, 503}, (what, status, answer)
        assert status == 201 or unavailable(answer), answer
    for what, status, _, _, answer in reads:
        assert status in {200, 503}, (what, status, str(answer)[:2000])
        assert status == 200 or unavailable(answer), str(answer)[:2000]
    everything = comments + reads
    slowest = max(seconds for _, _, _, seconds, _ in everything)
    # Asked once the server was back (and its processes had a second to notice): answered.
    late = [(what, status) for what, status, at, _, _ in everything if at > back_at + 1]
    assert late and all(status in {200, 201} for _, status in late), late
    ok_after = [
        at + seconds
        for _, status, at, seconds, _ in everything
        if status in {200, 201} and at + seconds > back_at
    ]
    first_ok = min(ok_after) - back_at
    during = [
        (status, seconds)
        for _, status, at, seconds, _ in everything
        if at < back_at and at + seconds > stopped_at
    ]

    stored = [
        (str(comment_id), body)
        for comment_id, body in topology.rows(
            "SELECT id, body FROM comments_comment WHERE body LIKE %s", f"Restart {run} %"
        )
    ]
    bodies = [body for _, body in stored]
    assert len(bodies) == len(set(bodies)), "a comment is there twice"
    answered = {body: answer for body, status, _, _, answer in comments if status == 201}
    assert set(answered) <= set(bodies), "a comment answered 201 is not there"
    assert set(bodies) <= {body for body, *_ in comments}, "a comment there was never sent"
    assert {answer["id"] for answer in answered.values()} <= {cid for cid, _ in stored}
    refused = [body for body, status, *_ in comments if status == 503]
    print(f"sockets opened while PostgreSQL was away: {opened_in_outage}")
    assert len(opened_in_outage) == len(followers), "a socket's opening never ended"
    assert all(
        outcome.startswith(("opened, hello first", "refused 503", "closed 1013"))
        for outcome in opened_in_outage
    ), opened_in_outage
    for follower in followers:
        ids = [event["id"] for event in follower.events]
        assert ids == sorted(set(ids)), f"{follower.url}: events out of order or twice"
        delivered = [
            event["data"]["comment"]
            for event in follower.events
            if event["kind"] == "comment.created"
            and event["data"]["comment"] in {cid for cid, _ in stored}
        ]
        assert sorted(delivered) == sorted(cid for cid, _ in stored), (
            f"{follower.url}: a comment's event lost or sent twice"
        )
        assert follower.resets == 0, f"{follower.url}: told to reload"
        assert set(follower.closes) <= {1013, None}, f"{follower.url}: {follower.closes}"
        print(
            f"socket on {follower.url}: {len(follower.events)} events, closed"
            f" {follower.closes or 'never'}, {len(follower.refused)} openings refused"
            + (f" ({follower.refused[0]})" if follower.refused else "")
        )
    print(
        f"PostgreSQL stopped for {back_at - stopped_at:.1f} s: {len(comments)} comments"
        f" ({len(answered)} answered 201, {len(refused)} 503, of which"
        f" {len(set(refused) & set(bodies))} written), {len(reads)} page reads"
        f" ({sum(1 for r in reads if r[1] == 503)} 503); in flight across the outage:"
        f" {len(during)}, answered "
        + ", ".join(f"{s} in {t:.1f} s" for s, t in during)
        + f"; slowest answer {slowest:.1f} s; first success {first_ok:.1f} s after the start"
    )

    # Each app process serves, directly; no traceback in their logs since the stop.
    for app in topology.apps:
        direct = httpx.post(
            f"{app}{path}", headers=auth, json={"body": f"Restart {run} direct"}, timeout=30
        )
        assert direct.status_code == 201, direct.text
    for name, log in logs.items():
        with log.open("rb") as lines:
            lines.seek(log_sizes[name])
            written = lines.read().decode(errors="replace")
        assert "Traceback" not in written, f"{name}: {written[-3000:]}"
        for line in written.splitlines():
            if "database unavailable:" in line:
                print(f"{name}: {line}")
    # Both workers run (each holds a live lease: it polls the database again), and a new
    # picture's preview is made.
    wait_for_both_workers_leased(topology, seconds=30)
    made = httpx.post(
        f"{topology.url}/api/v1/workspaces/{workspace}/documents",
        headers=auth,
        files={"file": (f"restart-{run}.png", _picture(), "image/png")},
        timeout=60,
    )
    assert made.status_code == 201, made.text
    digest = made.json()["version"]["sha256"]
    deadline = time.monotonic() + 60
    while topology.rows("SELECT status FROM previews_preview WHERE blob_id = %s", digest) != [
        ("ready",)
    ]:
        assert time.monotonic() < deadline, "no worker made the preview within 60 s of the restart"
        time.sleep(0.3)
