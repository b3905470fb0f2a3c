"""Only upload routes take large bodies, and only from someone signed in; everywhere else, and
from anyone else, a body over the form limit is refused before anything is read or spooled.

These drive the guard alone, with an ``identify`` that vouches for whoever sends the token
``cr_known`` (the real one, which asks the database, is tested through a real server in
test_upload_bodies.py)."""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest

from commonroom.core.asgi_limits import RequestSizeLimit, Scope, UploadRoute, header, limit_bytes

WS, DOC = uuid.uuid4(), uuid.uuid4()
UPLOADS = [
    f"/w/{WS}/upload/",
    f"/w/{WS}/d/{DOC}/versions/",
    f"/api/v1/workspaces/{WS}/documents",
    f"/api/v1/workspaces/{WS}/documents/{DOC}/versions",
]
OTHERS = ["/accounts/login/", "/healthz", f"/w/{WS}/members/", f"/api/v1/workspaces/{WS}"]


KNOWN = 7  # the person the token "cr_known" signs in


async def identify(bearer: str, session_key: str) -> int | None:
    return KNOWN if "cr_known" in (bearer, session_key) else None


def post(
    path: str,
    declared: int,
    credentials: list[tuple[bytes, bytes]] | None = None,
    *,
    method: str = "POST",
    routes: list[UploadRoute] | None = None,
) -> tuple[int | None, bool, bytes]:
    """Send a request declaring ``declared`` bytes; return (status, app was called, body)."""
    called = False
    sent: list[dict] = []

    async def app(scope, receive, send):
        nonlocal called
        called = True
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive():
        raise AssertionError("the body must not be read")

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(b"content-length", str(declared).encode()), *(credentials or [])],
    }
    guard = RequestSizeLimit(app, identify=identify, routes=routes or [])
    asyncio.run(guard(scope, receive, send))
    status = sent[0]["status"] if sent else None
    return status, called, b"".join(m.get("body", b"") for m in sent[1:])


def signed_in(path: str) -> list[tuple[bytes, bytes]]:
    """The known person's credential as each route takes it: a token for the API, a session
    cookie for pages."""
    if path.startswith("/api/"):
        return [(b"authorization", b"Bearer cr_known")]
    return [(b"cookie", b"sessionid=cr_known")]


@pytest.mark.parametrize("path", UPLOADS)
def test_upload_routes_take_whole_files_from_someone_signed_in(path, settings):
    settings.COMMONROOM_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
    assert limit_bytes(path, signed_in=True) > 50 * 1024 * 1024
    status, called, _ = post(path, 40 * 1024 * 1024, signed_in(path))
    assert (status, called) == (200, True)


@pytest.mark.parametrize("path", UPLOADS)
def test_upload_routes_refuse_a_large_body_from_anyone_else_before_reading_it(path, settings):
    settings.COMMONROOM_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
    unknown = (
        [(b"authorization", b"Bearer cr_wrong")]
        if path.startswith("/api/")
        else [(b"cookie", b"sessionid=wrong")]
    )
    for credentials in ([], unknown):
        status, called, body = post(path, 40 * 1024 * 1024, credentials)
        assert (status, called) == (413, False)
        assert b"Sign in (or send an API token) to upload a file this large" in body


def test_a_token_counts_only_on_the_api(settings):
    """Pages take the session cookie only, so a token sent to a page's upload route earns
    nothing there."""
    settings.COMMONROOM_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
    status, called, _ = post(UPLOADS[0], 40 * 1024 * 1024, [(b"authorization", b"Bearer cr_known")])
    assert (status, called) == (413, False)


@pytest.mark.parametrize("path", OTHERS)
def test_other_routes_refuse_a_large_body_before_reading_it(path, settings):
    settings.COMMONROOM_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
    status, called, body = post(path, 40 * 1024 * 1024, signed_in(path))
    assert (status, called) == (413, False)
    assert b"too large" in body


def test_an_ordinary_form_still_passes(settings):
    status, called, _ = post("/accounts/login/", 2000)
    assert (status, called) == (200, True)


def test_the_stall_clock_stops_once_the_body_is_whole(settings):
    """With the whole body read, Django waits on ``receive`` for a disconnect while the view
    runs: a view slower than the stall limit is not cut off."""
    settings.COMMONROOM_BODY_STALL_SECONDS = 0.1
    listened: list[str] = []
    sent: list[dict] = []

    async def app(scope, receive, send):
        assert (await receive())["more_body"] is False
        try:  # as Django's disconnect listener does, for longer than the stall limit
            listened.append((await asyncio.wait_for(receive(), timeout=0.5))["type"])
        except TimeoutError:
            listened.append("still waiting")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    messages = [{"type": "http.request", "body": b"login=x", "more_body": False}]

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)  # the client keeps the connection open, sending nothing

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/accounts/login/", "headers": []}
    asyncio.run(RequestSizeLimit(app, identify=identify)(scope, receive, send))
    assert listened == ["still waiting"]
    assert sent[0]["status"] == 200


async def files_identify(scope: Scope) -> int | None:
    """Another route's own credentials: an ``X-Files-Key`` header."""
    return KNOWN if header(scope, b"x-files-key") == b"known" else None


FILES = UploadRoute(
    path=re.compile(r"^/files/"),
    methods=frozenset({"PUT"}),
    identify=files_identify,
    limit=lambda: 30 * 1024 * 1024,  # its own, under COMMONROOM_MAX_UPLOAD_BYTES
)


def test_another_upload_route_signs_in_its_own_way_and_has_its_own_limit(settings):
    """What the application names besides the pages' and the API's upload routes (WebDAV's PUT
    in asgi.py): its person, by its own credentials, may send up to its limit; anyone else, or
    another method there, a form."""
    settings.COMMONROOM_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
    known = [(b"x-files-key", b"known")]
    big, too_big = 20 * 1024 * 1024, 40 * 1024 * 1024

    def put(declared, credentials, method="PUT"):
        return post("/files/a.bin", declared, credentials, method=method, routes=[FILES])

    assert put(big, known)[:2] == (200, True)
    status, called, body = put(too_big, known)
    assert (status, called) == (413, False)
    assert b"larger than the limit" in body
    assert put(too_big, known, method="POST")[:2] == (413, False)  # a form's, elsewhere
    for credentials in ([], [(b"x-files-key", b"wrong")], signed_in("/api/")):
        status, called, body = put(big, credentials)
        assert (status, called) == (413, False)
        assert b"Sign in (or send an API token) to upload a file this large" in body
    assert put(big, known, method="PROPFIND")[:2] == (413, False)
    assert put(1000, [], method="PROPFIND")[:2] == (200, True)
