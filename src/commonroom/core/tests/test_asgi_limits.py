"""Only upload routes take large bodies; everywhere else a body over the form limit is refused
before anything is read or spooled."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from commonroom.core.asgi_limits import RequestSizeLimit, limit_bytes

WS, DOC = uuid.uuid4(), uuid.uuid4()
UPLOADS = [
    f"/w/{WS}/upload/",
    f"/w/{WS}/d/{DOC}/versions/",
    f"/api/v1/workspaces/{WS}/documents",
    f"/api/v1/workspaces/{WS}/documents/{DOC}/versions",
]
OTHERS = ["/accounts/login/", "/healthz", f"/w/{WS}/members/", f"/api/v1/workspaces/{WS}"]


def post(path: str, declared: int) -> tuple[int | None, bool, bytes]:
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
        "method": "POST",
        "path": path,
        "headers": [(b"content-length", str(declared).encode())],
    }
    asyncio.run(RequestSizeLimit(app)(scope, receive, send))
    status = sent[0]["status"] if sent else None
    return status, called, b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize("path", UPLOADS)
def test_upload_routes_take_whole_files(path, settings):
    settings.COMMONROOM_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
    assert limit_bytes(path) > 50 * 1024 * 1024
    status, called, _ = post(path, 40 * 1024 * 1024)
    assert (status, called) == (200, True)


@pytest.mark.parametrize("path", OTHERS)
def test_other_routes_refuse_a_large_body_before_reading_it(path, settings):
    settings.COMMONROOM_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
    status, called, body = post(path, 40 * 1024 * 1024)
    assert (status, called) == (413, False)
    assert b"too large" in body


def test_an_ordinary_form_still_passes(settings):
    status, called, _ = post("/accounts/login/", 2000)
    assert (status, called) == (200, True)
