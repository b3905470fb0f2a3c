"""WebDAV PUTs under the request-body guard every upload meets (``core.asgi_limits``, decision
24): the real application under uvicorn, spoken to over sockets as Word, a script or an attacker
would.

- A PUT's size is decided after its Basic credentials are checked and before a byte of it is
  read: its person may send a whole file, anyone else a form's worth (413 from the headers).
- A PUT of which nothing arrives for ``COMMONROOM_BODY_STALL_SECONDS`` is dropped (408), and
  nothing of it is left: no spooled body, no scratch file, no placeholder, no slot.
- WebDAV's PUTs hold the person's upload slots, the same slots as their uploads in the browser
  and over the API: one more, by any of them, is 429.
"""

from __future__ import annotations

import base64
import os
import sys
import time
from typing import Any

import httpx
import pytest

from commonroom.core.tests.http_server import Server, read_response, request_head
from commonroom.core.tests.test_upload_bodies import (
    TOO_MANY,
    api_upload,
    closed_by_server,
    send_all,
    slots_held,
    spooled,
    upload_temp_files,
)
from commonroom.documents.models import Document
from commonroom.webdav.models import ScratchFile
from commonroom.webdav.tests.client import token_for
from commonroom.workspaces.tests.factories import upload_document

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

MB = 1024 * 1024
WS = "/dav/Weekly%20budget%20meeting"


def basic(user: Any, secret: str | None = None, scope: str = "write") -> dict[str, str]:
    secret = secret if secret is not None else token_for(user, scope)
    pair = base64.b64encode(f"{user.email}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def announce_put(server: Server, path: str, headers: dict[str, str], length: int) -> int:
    """Send only the head of a PUT announcing ``length`` bytes; the answer's status (which must
    then come from the headers alone; the server closes the connection after it)."""
    sock = server.connect()
    sock.sendall(request_head("PUT", path, {**headers, "Content-Length": str(length)}))
    status, _ = read_response(sock)
    assert closed_by_server(sock)
    sock.close()
    return status


class HeldPut:
    """A PUT of ``size`` bytes whose last ``withheld`` bytes are not sent until :meth:`finish`
    (or never: :meth:`close` goes away, or it just waits)."""

    def __init__(
        self, server: Server, path: str, headers: dict[str, str], *, size: int, withheld: int
    ) -> None:
        body = os.urandom(size)
        self.rest = body[-withheld:]
        self.sock = server.connect()
        self.sock.sendall(
            request_head("PUT", path, {**headers, "Content-Length": str(size)}) + body[:-withheld]
        )

    def finish(self) -> tuple[int, bytes]:
        self.sock.sendall(self.rest)
        answer = read_response(self.sock)
        self.sock.close()
        return answer

    def close(self) -> None:
        self.sock.close()


def wait_for(condition: Any, what: str, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


# --- Who may send a whole file ---------------------------------------------------------------


def test_an_anonymous_large_put_is_refused_before_a_byte_is_spooled(
    server: Server, team: Any, large_files: int, settings: Any
) -> None:
    before = spooled()
    sock = server.connect()
    sock.sendall(request_head("PUT", WS + "/board-pack.bin", {"Content-Length": str(40 * MB)}))
    # No body is sent at all: the answer comes from the headers alone.
    status, answer = read_response(sock)
    assert status == 413
    assert answer.decode() == (
        "Sign in (or send an API token) to upload a file this large. Nothing was saved."
    )
    assert closed_by_server(sock)
    sock.close()
    server.wait_idle()
    assert spooled() == before
    assert upload_temp_files(settings) == []


def test_a_wrong_or_read_only_app_password_earns_no_large_body(
    server: Server, team: Any, large_files: int, settings: Any
) -> None:
    path = WS + "/board-pack.bin"
    wrong = basic(team.editor, secret="cr_12345678_wrong")
    assert announce_put(server, path, wrong, large_files + 1) == 413
    someone_elses = basic(team.editor, secret=token_for(team.manager))
    assert announce_put(server, path, someone_elses, large_files + 1) == 413
    assert announce_put(server, path, basic(team.editor, scope="read"), large_files + 1) == 413
    server.wait_idle()
    assert upload_temp_files(settings) == []
    assert not ScratchFile.objects.exists()


def test_its_person_puts_a_file_over_the_form_limit(
    server: Server, team: Any, large_files: int
) -> None:
    content = os.urandom(large_files + 2 * MB)
    response = httpx.put(
        f"http://127.0.0.1:{server.port}{WS}/board-pack.bin",
        content=content,
        headers=basic(team.editor),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    version = Document.objects.get(name="board-pack.bin").versions.get()
    assert version.size == len(content)
    server.wait_idle()
    assert slots_held(team.editor) == []


def test_a_chunked_put_from_anyone_is_cut_off_at_the_form_limit(
    server: Server, team: Any, large_files: int, settings: Any
) -> None:
    sock = server.connect()
    sock.sendall(
        request_head(
            "PUT", WS + "/board-pack.bin", {**basic(team.viewer), "Transfer-Encoding": "chunked"}
        )
    )
    chunk = b"x" * (256 * 1024)
    sent = 0
    while sent < 4 * large_files:  # far past the form limit: the server stops reading there
        send_all(sock, b"%x\r\n%s\r\n" % (len(chunk), chunk))
        sent += len(chunk)
    status, _answer = read_response(sock)
    sock.close()
    # A viewer may not write at all: refused (403) before the body, or cut off (413) in it.
    assert status in (403, 413)
    server.wait_idle()
    assert upload_temp_files(settings) == []
    assert not Document.objects.exists()


# --- A body that stops arriving ---------------------------------------------------------------


@pytest.mark.parametrize("target", ["new name", "existing document"])
def test_a_stalled_put_is_dropped_and_its_scratch_removed(
    server: Server, team: Any, large_files: int, settings: Any, target: str
) -> None:
    settings.COMMONROOM_BODY_STALL_SECONDS = 1
    if target == "existing document":
        doc = upload_document(team.workspace, team.manager, name="minutes.docx", content=b"v1")
    before = spooled()
    started = time.monotonic()

    # Given a PUT that sends 3 MB of the 10 MB it announced (so its body is on disk)
    put = HeldPut(server, WS + "/minutes.docx", basic(team.editor), size=10 * MB, withheld=7 * MB)
    wait_for(
        lambda: sum(spooled().values()) - sum(before.values()) >= 3 * MB,
        "the body was never spooled",
    )
    assert slots_held(team.editor) != []

    # when it then sends nothing more, the server answers and closes within about a second
    status, answer = read_response(put.sock)
    assert status == 408
    assert answer.decode() == (
        "Nothing of the request arrived for 1 second, so it was dropped. "
        "Nothing was saved; try again."
    )
    assert closed_by_server(put.sock)
    assert time.monotonic() - started < 5
    put.close()

    # and nothing of it is left: no spooled body, no scratch file, no placeholder, no slot
    server.wait_idle()
    assert spooled() == before
    assert upload_temp_files(settings) == []
    assert not ScratchFile.objects.exists()
    assert slots_held(team.editor) == []
    if target == "existing document":
        assert doc.versions.count() == 1
    else:
        assert not Document.objects.exists()


# --- Uploads in progress at once ---------------------------------------------------------------


def test_webdav_puts_hold_the_same_upload_slots_as_every_upload(
    server: Server, team: Any, large_files: int, settings: Any
) -> None:
    settings.COMMONROOM_MAX_CONCURRENT_UPLOADS = 2
    write = token_for(team.editor)
    auth = basic(team.editor, secret=write)

    # Given two PUTs in progress (each holding back the end of its body)
    first = HeldPut(server, WS + "/one.bin", auth, size=2 * MB, withheld=1000)
    second = HeldPut(server, WS + "/two.bin", auth, size=2 * MB, withheld=1000)
    wait_for(lambda: len(slots_held(team.editor)) == 2, "the PUTs did not start")

    # when a third starts, over WebDAV or the API, it is refused before its body is read
    third = httpx.put(
        f"http://127.0.0.1:{server.port}{WS}/three.bin", content=b"a third", headers=auth
    )
    assert third.status_code == 429
    assert third.text == TOO_MANY.format(n=2)
    assert api_upload(server, team.workspace, write, b"over the API").status_code == 429
    # (someone else is not held back by the editor's)
    hers = httpx.put(
        f"http://127.0.0.1:{server.port}{WS}/hers.bin", content=b"hers", headers=basic(team.manager)
    )
    assert hers.status_code == 201

    # then the first client goes away: its slot comes back, and another PUT is taken
    first.close()
    wait_for(lambda: len(slots_held(team.editor)) <= 1, "the slot was not given back")
    again = httpx.put(
        f"http://127.0.0.1:{server.port}{WS}/three.bin", content=b"a third", headers=auth
    )
    assert again.status_code == 201

    # and the second, finished, is stored and gives its slot back too
    status, answer = second.finish()
    assert status == 201, answer
    server.wait_idle()
    assert slots_held(team.editor) == []
    assert sorted(Document.objects.values_list("name", flat=True)) == [
        "hers.bin",
        "three.bin",
        "two.bin",
    ]
