"""Large bodies only for people signed in, and never held for long or many at once: the real
application under uvicorn, spoken to over sockets as a browser, a script or an attacker would.

- Without a valid API token or session, an upload route takes no more than a form: a larger
  ``Content-Length`` is refused 413 from the headers alone, a chunked body is cut off there.
- A write token (on the API) or a signed-in session (on the pages) takes a whole file; a
  revoked token, an ended session or a session still owing its second factor does not.
- A body of which nothing arrives for ``COMMONROOM_BODY_STALL_SECONDS`` is dropped, its spooled
  file with it.
- One person has at most ``COMMONROOM_MAX_CONCURRENT_UPLOADS`` uploads in progress; one more is
  429, and each slot comes back when its upload ends, however it ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from commonroom.core.asgi_limits import form_limit
from commonroom.core.tests.http_server import Server, read_response, request_head
from commonroom.core.upload_slots import slot_key
from commonroom.documents.tests.conftest import Store
from commonroom.documents.tests.support import files_under, multipart

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # The guard in front of the application and its slots in the cache: not the database.
    pytest.mark.one_run("sqlite"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

MB = 1024 * 1024
TOO_MANY = "You already have {n} uploads in progress; wait for one to finish."


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server()
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def store(settings: Any) -> Store:
    """Documents, versions, blobs and files stored now (to compare with after)."""
    return Store(settings)


@pytest.fixture
def large_files(settings: Any) -> int:
    """Files up to 64 MB allowed, far over the form limit (which is returned)."""
    settings.COMMONROOM_MAX_UPLOAD_BYTES = 64 * MB
    assert form_limit() < 4 * MB
    return form_limit()


def write_token(user: Any) -> str:
    from commonroom.accounts.services import token_create

    return token_create(actor=user, name="upload script", scope="write").secret


def session_cookie(user: Any) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return str(client.cookies["sessionid"].value)


def documents_path(workspace: Any) -> str:
    return f"/api/v1/workspaces/{workspace.pk}/documents"


def spooled() -> dict[str, int]:
    """This process's open files that have no name (request bodies spooled by Django, uploads'
    scratch files), with their sizes in bytes."""
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            size = os.stat(f"/proc/self/fd/{fd}").st_size
        except OSError:
            continue
        if target.endswith("(deleted)"):
            found[f"{fd}:{target}"] = size
    return found


def upload_temp_files(settings: Any) -> list[str]:
    return files_under(settings.FILE_UPLOAD_TEMP_DIR)


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed the connection (reading finds its end, or a reset)."""
    sock.settimeout(10)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def send_all(sock: socket.socket, data: bytes) -> None:
    """Send ``data``; a server that stopped reading and closed may refuse the rest."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)


def announce(server: Server, path: str, headers: dict[str, str], length: int) -> tuple[int, bytes]:
    """Send only the head of an upload announcing ``length`` bytes, and read the answer (which
    must then come from the headers alone)."""
    sock = server.connect()
    sock.sendall(
        request_head(
            "POST",
            path,
            {
                **headers,
                "Content-Type": "multipart/form-data; boundary=x",
                "Content-Length": str(length),
            },
        )
    )
    answer = read_response(sock)
    assert closed_by_server(sock)
    sock.close()
    return answer


class HeldUpload:
    """An upload of ``size`` bytes whose last ``withheld`` bytes are not sent until
    :meth:`finish` (or never: :meth:`close` goes away, or it just waits)."""

    def __init__(
        self, server: Server, path: str, headers: dict[str, str], *, size: int, withheld: int
    ) -> None:
        body, ctype = multipart(
            [], [("file", "board-pack.bin", os.urandom(size), "application/octet-stream")]
        )
        self.rest = body[-withheld:]
        self.sock = server.connect()
        self.sock.sendall(
            request_head(
                "POST", path, {**headers, "Content-Type": ctype, "Content-Length": str(len(body))}
            )
            + body[:-withheld]
        )

    def finish(self) -> tuple[int, bytes]:
        self.sock.sendall(self.rest)
        answer = read_response(self.sock)
        self.sock.close()
        return answer

    def close(self) -> None:
        self.sock.close()


def api_upload(server: Server, workspace: Any, token: str, content: bytes) -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{server.port}{documents_path(workspace)}",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": ("board-pack.bin", content, "application/octet-stream")},
        timeout=30,
    )


def slots_held(person: Any) -> list[str]:
    from django.core.cache import cache

    from commonroom.core.upload_slots import slots_allowed

    return [
        slot_key(person.pk, n)
        for n in range(slots_allowed())
        if cache.get(slot_key(person.pk, n)) is not None
    ]


# --- Who may send a large body ----------------------------------------------------------------


@pytest.mark.parametrize("route", ["api", "page"])
def test_an_anonymous_over_size_content_length_is_refused_before_a_byte_is_read(
    server, team, large_files, settings, route
):
    before = spooled()
    path = documents_path(team.workspace) if route == "api" else f"/w/{team.workspace.pk}/upload/"
    sock = server.connect()
    sock.sendall(
        request_head(
            "POST",
            path,
            {"Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(2 * 1024**3)},
        )
    )
    # No body is sent at all: the answer comes from the headers alone.
    status, answer = read_response(sock)
    assert status == 413
    expected = "Sign in (or send an API token) to upload a file this large. Nothing was saved."
    if route == "api":
        assert json.loads(answer) == {"code": "too_large", "detail": expected}
    else:
        assert answer.decode() == expected
    assert closed_by_server(sock)
    sock.close()
    server.wait_idle()
    assert spooled() == before
    assert upload_temp_files(settings) == []


def test_an_anonymous_chunked_body_is_cut_off_at_the_form_limit(
    server, team, large_files, settings, store
):
    before = store.now()
    sock = server.connect()
    sock.sendall(
        request_head(
            "POST",
            documents_path(team.workspace),
            {"Content-Type": "multipart/form-data; boundary=x", "Transfer-Encoding": "chunked"},
        )
    )
    chunk = b"x" * (256 * 1024)
    sent = 0
    while sent < 4 * large_files:  # far past the form limit: the server stops reading there
        send_all(sock, b"%x\r\n%s\r\n" % (len(chunk), chunk))
        sent += len(chunk)
    status, answer = read_response(sock)
    sock.close()
    assert status == 413
    assert json.loads(answer)["code"] == "too_large"
    server.wait_idle()
    assert store.now() == before


def test_a_write_token_uploads_a_file_over_the_form_limit(server, team, large_files, settings):
    from commonroom.documents.models import Blob

    content = os.urandom(large_files + 2 * MB)
    answer = api_upload(server, team.workspace, write_token(team.editor), content)
    assert answer.status_code == 201, answer.text
    assert answer.json()["version"]["size"] == len(content)
    assert Blob.objects.get(pk=answer.json()["version"]["sha256"]).size == len(content)
    server.wait_idle()
    assert slots_held(team.editor) == []


def test_a_revoked_token_gets_the_form_limit(server, team, large_files, settings, store):
    from commonroom.accounts.models import ApiToken
    from commonroom.accounts.services import token_revoke

    settings.COMMONROOM_BODY_STALL_SECONDS = 1
    path = documents_path(team.workspace)
    auth = {"Authorization": f"Bearer {write_token(team.editor)}"}
    # While the token works, such a head is let through: the server waits for the body, which
    # never comes (408).
    assert announce(server, path, auth, large_files + 1)[0] == 408

    token_revoke(actor=team.editor, token_id=ApiToken.objects.get(user=team.editor).pk)
    before = store.now()
    status, answer = announce(server, path, auth, large_files + 1)
    assert status == 413
    assert "Sign in (or send an API token)" in json.loads(answer)["detail"]
    server.wait_idle()
    assert store.now() == before


def test_a_read_token_gets_the_form_limit(server, team, large_files):
    """A read-only token may not upload at all, so it earns no large body either."""
    from commonroom.accounts.services import token_create

    token = token_create(actor=team.editor, name="reader", scope="read").secret
    path = documents_path(team.workspace)
    status, _ = announce(server, path, {"Authorization": f"Bearer {token}"}, large_files + 1)
    assert status == 413


class Browser:
    """A signed-in browser on the page upload route, as the page's progress-bar script sends."""

    def __init__(self, server: Server, session_key: str) -> None:
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=30)
        self.http.cookies.set("sessionid", session_key)

    def csrf_token(self, workspace: Any) -> str:
        page = self.http.get(f"/w/{workspace.pk}/")
        assert page.status_code == 200
        return page.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]

    def upload(self, workspace: Any, content: bytes) -> httpx.Response:
        return self.http.post(
            f"/w/{workspace.pk}/upload/",
            headers={"Accept": "application/json", "X-CSRFToken": self.csrf_token(workspace)},
            files={"files": ("board-pack.bin", content, "application/octet-stream")},
        )


def test_a_session_uploads_a_file_over_the_form_limit_on_the_page(server, team, large_files):
    from commonroom.documents.models import Version

    content = os.urandom(large_files + 2 * MB)
    browser = Browser(server, session_cookie(team.editor))
    answer = browser.upload(team.workspace, content)
    assert answer.status_code == 200, answer.text
    assert answer.json()["uploaded"][0]["version"] == 1
    version = Version.objects.get(
        document__workspace=team.workspace, document__name="board-pack.bin"
    )
    assert version.blob.size == len(content)


def test_a_signed_out_session_gets_the_form_limit(server, team, large_files, settings, store):
    settings.COMMONROOM_BODY_STALL_SECONDS = 1
    session_key = session_cookie(team.editor)
    path = f"/w/{team.workspace.pk}/upload/"
    cookie = {"Accept": "application/json", "Cookie": f"sessionid={session_key}"}
    assert announce(server, path, cookie, large_files + 1)[0] == 408  # signed in: let through

    # The browser signs out; someone who kept its cookie sends a large upload with it.
    browser = Browser(server, session_key)
    token = browser.csrf_token(team.workspace)
    signed_out = browser.http.post("/accounts/logout/", data={"csrfmiddlewaretoken": token})
    assert signed_out.status_code == 302
    before = store.now()
    status, answer = announce(server, path, cookie, large_files + 1)
    assert status == 413
    assert "Sign in" in json.loads(answer)["detail"]
    server.wait_idle()
    assert store.now() == before


def test_a_session_from_before_a_password_change_gets_the_form_limit(
    server, team, large_files, settings
):
    """Changing the password ends every other session (Django's session hash): one kept from
    before earns nothing, though its row has not been deleted."""
    settings.COMMONROOM_BODY_STALL_SECONDS = 1
    session_key = session_cookie(team.editor)
    path = f"/w/{team.workspace.pk}/upload/"
    cookie = {"Cookie": f"sessionid={session_key}"}
    assert announce(server, path, cookie, large_files + 1)[0] == 408  # signed in: let through

    team.editor.set_password("a new password, changed elsewhere")
    team.editor.save()
    assert announce(server, path, cookie, large_files + 1)[0] == 413


def test_a_session_owing_its_second_factor_gets_the_form_limit(
    server, team, large_files, settings, store
):
    settings.COMMONROOM_BODY_STALL_SECONDS = 1
    session_key = session_cookie(team.editor)
    path = f"/w/{team.workspace.pk}/upload/"
    cookie = {"Cookie": f"sessionid={session_key}"}
    assert announce(server, path, cookie, large_files + 1)[0] == 408  # no factor needed yet

    settings.COMMONROOM_MFA_REQUIRED = "all"  # the editor has no second factor
    assert announce(server, path, cookie, large_files + 1)[0] == 413
    # Within the form limit, the page sends them to set one up, as every page does.
    small = Browser(server, session_key).http.post(
        path, files={"files": ("minutes.txt", b"hello", "text/plain")}
    )
    assert small.status_code == 302
    assert small.headers["location"].startswith("/accounts/")


def test_a_session_whose_identity_provider_did_the_second_factor_takes_a_whole_file(
    server, team, large_files, settings
):
    """As for every page: a sign-in through the organisation's identity provider that asked
    for a second factor of its own (recorded in the session) meets the policy."""
    from django.contrib.sessions.backends.db import SessionStore

    from commonroom.accounts.selectors import SSO_SESSION_KEY

    settings.COMMONROOM_BODY_STALL_SECONDS = 1
    settings.COMMONROOM_MFA_REQUIRED = "all"
    session_key = session_cookie(team.editor)
    path = f"/w/{team.workspace.pk}/upload/"
    cookie = {"Cookie": f"sessionid={session_key}"}
    assert announce(server, path, cookie, large_files + 1)[0] == 413

    session = SessionStore(session_key=session_key)
    session[SSO_SESSION_KEY] = {"second_factor": True}
    session.save()
    assert announce(server, path, cookie, large_files + 1)[0] == 408  # let through


def test_a_session_whose_second_factor_is_a_code_by_email_takes_a_whole_file(
    server, team, large_files, settings
):
    """A code by email is a second factor for the policy, here as on every page."""
    from commonroom.accounts.models import EmailCodeFactor

    settings.COMMONROOM_BODY_STALL_SECONDS = 1
    settings.COMMONROOM_MFA_REQUIRED = "all"
    session_key = session_cookie(team.editor)
    path = f"/w/{team.workspace.pk}/upload/"
    cookie = {"Cookie": f"sessionid={session_key}"}
    assert announce(server, path, cookie, large_files + 1)[0] == 413

    EmailCodeFactor.objects.create(user=team.editor)
    assert announce(server, path, cookie, large_files + 1)[0] == 408  # let through


# --- A body that stops arriving ----------------------------------------------------------------


def test_a_stalled_upload_is_dropped_and_its_spooled_body_freed(
    server, team, large_files, settings
):
    settings.COMMONROOM_BODY_STALL_SECONDS = 1
    before = spooled()
    started = time.monotonic()

    # Given an upload that sends 3 MB of the 10 MB it announced (its file written to its
    # scratch file as it arrives: core.asgi_body; all but the multipart head and what the
    # parser still holds)
    upload = HeldUpload(
        server,
        documents_path(team.workspace),
        {"Authorization": f"Bearer {write_token(team.editor)}"},
        size=10 * MB,
        withheld=7 * MB,
    )
    sock = upload.sock
    deadline = time.monotonic() + 5
    while sum(spooled().values()) - sum(before.values()) < 2 * MB:
        assert time.monotonic() < deadline, "the body was never spooled"
        time.sleep(0.05)
    assert slots_held(team.editor) != []

    # when it then sends nothing more, the server answers and closes within about a second
    status, answer = read_response(sock)
    assert status == 408
    assert json.loads(answer) == {
        "code": "request_stalled",
        "detail": "Nothing of the request arrived for 1 second, so it was dropped. "
        "Nothing was saved; try again.",
    }
    assert closed_by_server(sock)
    assert time.monotonic() - started < 5
    sock.close()

    # and nothing of it is left: no spooled body, no scratch file, no slot
    server.wait_idle()
    assert spooled() == before
    assert upload_temp_files(settings) == []
    assert slots_held(team.editor) == []


def test_a_stalled_form_is_dropped_too(server, settings):
    """Every route, signed in or not: a client cannot hold a connection by withholding a body."""
    settings.COMMONROOM_BODY_STALL_SECONDS = 1
    sock = server.connect()
    sock.sendall(
        request_head(
            "POST",
            "/accounts/login/",
            {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "100"},
        )
        + b"login=someone"
    )
    status, answer = read_response(sock)
    assert status == 408
    assert b"Nothing of the request arrived for 1 second," in answer
    assert closed_by_server(sock)
    sock.close()


def test_a_slow_upload_that_keeps_arriving_is_not_dropped(server, team, settings):
    """The stall is the time between two pieces of the body, not the time the body takes."""
    settings.COMMONROOM_BODY_STALL_SECONDS = 1
    content = os.urandom(64 * 1024)
    body, ctype = multipart([], [("file", "minutes.txt", content, "text/plain")])
    sock = server.connect()
    sock.sendall(
        request_head(
            "POST",
            documents_path(team.workspace),
            {
                "Authorization": f"Bearer {write_token(team.editor)}",
                "Content-Type": ctype,
                "Content-Length": str(len(body)),
            },
        )
    )
    pieces = [body[i : i + len(body) // 4 + 1] for i in range(0, len(body), len(body) // 4 + 1)]
    for piece in pieces:  # over two seconds in all, never a second without a piece
        sock.sendall(piece)
        time.sleep(0.6)
    status, answer = read_response(sock)
    sock.close()
    assert status == 201, answer
    assert json.loads(answer)["version"]["size"] == len(content)


# --- Uploads in progress at once ----------------------------------------------------------------


def test_one_upload_too_many_is_refused_and_each_slot_comes_back(
    server, team, large_files, settings
):
    settings.COMMONROOM_MAX_CONCURRENT_UPLOADS = 2
    token = write_token(team.editor)
    path = documents_path(team.workspace)
    auth = {"Authorization": f"Bearer {token}"}

    # Given two uploads in progress (each holding back the end of its body)
    first = HeldUpload(server, path, auth, size=2 * MB, withheld=1000)
    second = HeldUpload(server, path, auth, size=2 * MB, withheld=1000)
    deadline = time.monotonic() + 5
    while len(slots_held(team.editor)) < 2:
        assert time.monotonic() < deadline, "the uploads did not start"
        time.sleep(0.05)

    # when a third starts, by the API or the page, it is refused before its body is read
    third = api_upload(server, team.workspace, token, b"a third file")
    assert third.status_code == 429
    assert third.json() == {"code": "too_many_uploads", "detail": TOO_MANY.format(n=2)}
    page = Browser(server, session_cookie(team.editor)).upload(team.workspace, b"from the page")
    assert page.status_code == 429
    assert page.json()["detail"] == TOO_MANY.format(n=2)
    # (someone else is not held back by the editor's uploads)
    assert api_upload(server, team.workspace, write_token(team.manager), b"hers").status_code == 201

    # then the first client goes away: its slot comes back, and another upload is taken
    first.close()
    deadline = time.monotonic() + 5
    while len(slots_held(team.editor)) > 1:
        assert time.monotonic() < deadline, "the slot was not given back"
        time.sleep(0.05)
    assert api_upload(server, team.workspace, token, b"after the first").status_code == 201

    # and the second, finished, is stored and gives its slot back too
    status, answer = second.finish()
    assert status == 201, answer
    server.wait_idle()
    assert slots_held(team.editor) == []
    assert api_upload(server, team.workspace, token, b"one").status_code == 201


# --- Across server processes ----------------------------------------------------------------------


@pytest.mark.slow
def test_the_cap_holds_across_two_server_processes_and_a_killed_ones_slot_expires(team, tmp_path):
    """Two ``commonroom serve`` processes sharing Redis: an upload held on one uses the
    person's only slot, so the other refuses theirs until it finishes; the slot is a key with
    an expiry, so one held by a process that is killed (and can give nothing back) goes within
    the lease."""
    import redis as redis_py

    from commonroom.core.tests.processes import descendants
    from commonroom.core.tests.serving import serving_many, shared_redis
    from commonroom.core.upload_slots import LEASE_SECONDS

    redis = shared_redis()
    client = redis_py.Redis.from_url(redis.url)
    token = write_token(team.editor)
    path = documents_path(team.workspace)
    env = {**redis.env, "COMMONROOM_MAX_CONCURRENT_UPLOADS": "1"}

    def hold(url: str) -> tuple[socket.socket, bytes]:
        body, ctype = multipart([], [("file", "a.bin", os.urandom(MB), "text/plain")])
        sock = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=30)
        head = {
            "Authorization": f"Bearer {token}",
            "Content-Type": ctype,
            "Content-Length": str(len(body)),
        }
        sock.sendall(request_head("POST", path, head) + body[:-1000])
        deadline = time.monotonic() + 30
        while not slots():
            assert time.monotonic() < deadline, "the upload did not take a slot"
            time.sleep(0.05)
        return sock, body[-1000:]

    def slots() -> list[str]:
        return [k for k in redis.stored() if ":upload-slot:" in k]

    def another(url: str) -> httpx.Response:
        return httpx.post(
            url + path,
            headers={"Authorization": f"Bearer {token}"},
            files={"file": ("b.bin", os.urandom(100), "text/plain")},
            timeout=30,
        )

    try:
        with serving_many(tmp_path, 2, "--no-worker", **env) as (one, two):
            # Given an upload in progress on the first server
            sock, rest = hold(one.url)
            # when the same person starts another on the second, it is refused
            refused = another(two.url)
            assert refused.status_code == 429, refused.text
            assert refused.json()["detail"] == (
                "You already have 1 upload in progress; wait for one to finish."
            )
            # until the first finishes: then the second server takes one at once
            sock.sendall(rest)
            status, answer = read_response(sock)
            assert status == 201, answer
            sock.close()
            deadline = time.monotonic() + 30
            while slots():
                assert time.monotonic() < deadline, "the slot was not given back"
                time.sleep(0.05)
            accepted = another(two.url)
            assert accepted.status_code == 201, accepted.text
            deadline = time.monotonic() + 30
            while slots():  # given back once its answer is sent
                assert time.monotonic() < deadline, "the second server kept its slot"
                time.sleep(0.05)

            # Given another upload in progress on the first server, when that server is killed,
            # its slot is left with an expiry no later than the lease
            sock, _ = hold(one.url)
            for pid in {one.process.pid, *descendants(one.process.pid)}:
                os.kill(pid, signal.SIGKILL)
            one.process.wait(10)
            sock.close()
            left = slots()
            assert len(left) == 1, left
            assert 0 < client.ttl(left[0]) <= LEASE_SECONDS
    finally:
        redis.forget()


@pytest.mark.slow
def test_an_upload_goes_ahead_while_redis_is_away_and_is_counted_again_once_it_is_back(
    team: Any, capfd: Any
) -> None:
    """Redis (where the upload slots are kept) killed under a server: an upload is neither a 500
    nor refused; it is stored, once, and a warning says it went uncounted. With Redis back, the
    next upload takes a slot again and gives it back."""
    import redis as redis_py

    from commonroom.documents.models import Document
    from commonroom.live.tests.private_redis import private_redis_started
    from commonroom.live.tests.servers import uvicorn_process

    redis = private_redis_started("upload outage test")
    token = write_token(team.editor)
    path = documents_path(team.workspace)

    def upload(name: str, url: str) -> httpx.Response:
        return httpx.post(
            url + path,
            headers={"Authorization": f"Bearer {token}"},
            files={"file": (name, os.urandom(2000), "text/plain")},
            timeout=30,
        )

    try:
        with uvicorn_process(REDIS_URL=redis.url, COMMONROOM_CHANNEL_PREFIX="uploads") as url:
            assert upload("before.txt", url).status_code == 201
            redis.kill()
            away = upload("while Redis is away.txt", url)
            assert away.status_code == 201, away.text
            assert "without its slot" in capfd.readouterr().err
            redis.start()
            back = upload("after.txt", url)
            assert back.status_code == 201, back.text
            assert "without its slot" not in capfd.readouterr().err  # counted again
            # Taken, and given back once the answer is sent.
            client = redis_py.Redis.from_url(redis.url)
            deadline = time.monotonic() + 30
            while list(client.scan_iter("*upload-slot*")):
                assert time.monotonic() < deadline, "the slot was not given back"
                time.sleep(0.05)
    finally:
        redis.kill()
    names = sorted(Document.objects.values_list("name", flat=True))
    assert names == ["after.txt", "before.txt", "while Redis is away.txt"]
