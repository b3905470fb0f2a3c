"""Request bodies through the ASGI application: over-size requests are refused before Django reads
them, and an upload cut off halfway keeps nothing.

The first tests drive the ASGI callables directly; the others run the real application under
uvicorn on 127.0.0.1 and talk to it over a socket, as a browser or script would.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command

from commonroom.core.asgi_limits import ENVELOPE, RequestSizeLimit
from commonroom.core.tests.http_server import Server, open_temp_files, read_response, request_head
from commonroom.documents.models import Version
from commonroom.documents.tests.factories import upload
from commonroom.documents.tests.support import multipart

MB = 1024 * 1024


# --- The guard on its own and in front of Django ---------------------------------------------


class Recorder:
    """An ASGI app that reads the whole body, as Django does, and answers 200."""

    def __init__(self) -> None:
        self.called = False
        self.body = b""
        self.disconnected = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.called = True
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                return  # as Django does: no response to an aborted request
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


# An upload route: the only kind of route that takes bodies up to the upload limit.
UPLOAD_PATH = "/w/00000000-0000-0000-0000-000000000000/upload/"


class AsgiCall:
    """Feeds a body to an ASGI app in chunks and collects what it sends back."""

    def __init__(
        self, chunks: list[bytes], headers: list[tuple[bytes, bytes]], path: str = UPLOAD_PATH
    ):
        self.chunks = list(chunks)
        self.reads = 0
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), *headers],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        self.reads += 1
        if not self.chunks:
            await asyncio.sleep(3600)  # a client that has nothing more to send
        chunk = self.chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def run(self, app: Any) -> AsgiCall:
        asyncio.run(asyncio.wait_for(app(self.scope, self.receive, self.send), timeout=10))
        return self

    @property
    def status(self) -> int | None:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        return starts[0]["status"] if starts else None

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


@pytest.fixture
def small_limit(settings):
    settings.COMMONROOM_MAX_UPLOAD_BYTES = 1000
    return 1000 + ENVELOPE


def test_a_declared_over_size_body_is_refused_before_it_is_read(small_limit):
    inner = Recorder()
    client = AsgiCall([b"x" * 10], [(b"content-length", str(small_limit + 1).encode())])

    client.run(RequestSizeLimit(inner))

    assert client.status == 413
    assert client.reads == 0  # not one byte of the body was read
    assert not inner.called
    assert b"larger than the limit of 1000 bytes" in client.body


def test_the_413_for_the_api_is_json(small_limit):
    client = AsgiCall(
        [b""], [(b"content-length", str(50 * MB).encode())], path="/api/v1/workspaces/x/documents"
    )
    client.run(RequestSizeLimit(Recorder()))
    assert client.status == 413
    assert json.loads(client.body) == {
        "code": "too_large",
        "detail": "That file is larger than the limit of 1000 bytes. Nothing was saved.",
    }


def test_a_body_within_the_limit_passes_through_whole(small_limit):
    inner = Recorder()
    chunks = [os.urandom(64 * 1024) for _ in range(4)]
    client = AsgiCall(chunks, [(b"content-length", str(4 * 64 * 1024).encode())])
    client.run(RequestSizeLimit(inner))
    assert client.status == 200
    assert inner.body == b"".join(chunks)


def test_a_chunked_body_past_the_limit_is_cut_off(small_limit):
    inner = Recorder()
    chunk = b"x" * (64 * 1024)
    client = AsgiCall([chunk] * 100, [(b"transfer-encoding", b"chunked")])  # 6.25 MB, no length

    client.run(RequestSizeLimit(inner))

    assert inner.disconnected  # the app saw the request end as aborted
    assert len(inner.body) <= small_limit
    assert client.reads == small_limit // len(chunk) + 1  # reading stopped at the limit
    assert client.status == 413
    assert b"larger than the limit" in client.body


def test_a_lying_content_length_does_not_let_more_through(small_limit):
    """A client that declares a small body and sends a large one is cut off all the same."""
    inner = Recorder()
    chunk = b"x" * (64 * 1024)
    client = AsgiCall([chunk] * 100, [(b"content-length", b"10")])
    client.run(RequestSizeLimit(inner))
    assert inner.disconnected
    assert client.status == 413


def test_django_behind_the_guard_answers_413_to_an_over_size_chunked_upload(small_limit, store, db):
    from commonroom.asgi import application

    before = store.now()
    client = AsgiCall([b"x" * (64 * 1024)] * 100, [(b"transfer-encoding", b"chunked")])
    client.run(application)
    assert client.status == 413
    assert store.now() == before


# --- The real server ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server()
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def api_token(team) -> str:
    out = io.StringIO()
    call_command(
        "token", "create", team.editor.email, "upload script", "--scope", "write", stdout=out
    )
    return out.getvalue().strip()


@pytest.mark.django_db(transaction=True)
def test_an_upload_cut_off_halfway_keeps_nothing(server, team, api_token, store):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"v1").document
    path = f"/api/v1/workspaces/{team.workspace.pk}/documents/{doc.pk}/versions"
    part, ctype = multipart([("based_on", "1")], [("file", "minutes.txt", b"", "text/plain")])
    preamble = part[: part.index(b"\r\n--", part.index(b"filename="))]  # up to the file's bytes
    before = store.now()
    open_before = open_temp_files()

    # Given a client that announces 10 MB
    sock = server.connect()
    sock.sendall(
        request_head(
            "POST",
            path,
            {
                "Authorization": f"Bearer {api_token}",
                "Content-Type": ctype,
                "Content-Length": str(10 * MB),
            },
        )
    )
    # when it sends 5 MB and then goes away
    sock.sendall(preamble)
    sock.sendall(os.urandom(5 * MB - len(preamble)))
    sock.close()
    server.wait_idle()

    # then no version, no blob, no file and no temporary file is left
    assert store.now() == before
    assert Version.objects.filter(document=doc).count() == 1
    assert open_temp_files() == open_before

    # and the same request sent whole is stored: the path and the token were right
    content = os.urandom(MB)
    body, ctype = multipart([("based_on", "1")], [("file", "minutes.txt", content, "text/plain")])
    sock = server.connect()
    sock.sendall(
        request_head(
            "POST",
            path,
            {
                "Authorization": f"Bearer {api_token}",
                "Content-Type": ctype,
                "Content-Length": str(len(body)),
            },
        )
        + body
    )
    status, answer = read_response(sock)
    sock.close()
    assert status == 201, answer
    assert json.loads(answer)["number"] == 2
    assert store.blob_path(Version.objects.get(document=doc, number=2).blob_id).read_bytes() == (
        content
    )
    server.wait_idle()
    assert store.now().upload_tmp == []


@pytest.mark.django_db(transaction=True)
def test_the_server_refuses_an_over_size_content_length_before_the_body(
    server, team, api_token, store, settings
):
    settings.COMMONROOM_MAX_UPLOAD_BYTES = 1000
    doc = upload(team.editor, team.workspace, "minutes.txt", b"v1").document
    before = store.now()
    sock = server.connect()
    sock.sendall(
        request_head(
            "POST",
            f"/api/v1/workspaces/{team.workspace.pk}/documents/{doc.pk}/versions",
            {
                "Authorization": f"Bearer {api_token}",
                "Content-Type": "multipart/form-data; boundary=x",
                "Content-Length": str(2 * 1024**3),
            },
        )
    )
    # No body is sent at all: the answer comes from the headers alone.
    status, answer = read_response(sock)
    sock.close()
    assert status == 413
    assert json.loads(answer)["code"] == "too_large"
    server.wait_idle()
    assert store.now() == before


@pytest.mark.django_db(transaction=True)
def test_the_server_cuts_off_an_over_size_chunked_upload(server, team, api_token, store, settings):
    settings.COMMONROOM_MAX_UPLOAD_BYTES = 1000
    doc = upload(team.editor, team.workspace, "minutes.txt", b"v1").document
    before = store.now()
    sock = server.connect()
    sock.sendall(
        request_head(
            "POST",
            f"/api/v1/workspaces/{team.workspace.pk}/documents/{doc.pk}/versions",
            {
                "Authorization": f"Bearer {api_token}",
                "Content-Type": "multipart/form-data; boundary=x",
                "Transfer-Encoding": "chunked",
            },
        )
    )
    chunk = b"x" * (256 * 1024)
    sent = 0
    try:
        while sent < 8 * MB:  # far more than the limit: the server stops reading long before
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    status, answer = read_response(sock)
    sock.close()
    assert status == 413
    assert json.loads(answer)["code"] == "too_large"
    server.wait_idle()
    assert store.now() == before


@pytest.mark.django_db(transaction=True)
def test_an_upload_refused_before_its_body_is_read_is_answered_after_the_body(server, team, store):
    """The API refuses a wrong token without reading the body (which now streams to the view
    as it arrives): the answer still waits for the whole body, as when Django read it first,
    so a client still sending reads it rather than a broken connection."""
    body, ctype = multipart([], [("file", "minutes.txt", os.urandom(2 * MB), "text/plain")])
    before = store.now()
    sock = server.connect()
    sock.sendall(
        request_head(
            "POST",
            f"/api/v1/workspaces/{team.workspace.pk}/documents",
            {
                "Authorization": "Bearer cr_not_a_token",
                "Content-Type": ctype,
                "Content-Length": str(len(body)),
            },
        )
        + body[:-1024]
    )
    sock.settimeout(0.5)
    with pytest.raises(TimeoutError):
        sock.recv(1)  # no answer while the body is still coming
    sock.settimeout(10)
    sock.sendall(body[-1024:])
    status, answer = read_response(sock)
    sock.close()
    assert status == 401
    assert json.loads(answer)["code"] == "unauthorized"
    server.wait_idle()
    assert store.now() == before
