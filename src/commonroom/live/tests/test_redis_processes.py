"""Two server processes sharing Redis: a comment posted through one reaches a socket held open
on the other, and a token revoked or a browser signed out through one closes the sockets opened
with them on the other. Redis runs beside the database on development machines and in CI; if
it is truly absent these tests are skipped with a loud reason, and with CI=true that is a
failure (the ``redis_url`` fixture, conftest.py)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django.urls import reverse
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from commonroom.accounts.services import token_create
from commonroom.accounts.tests.factories import PASSWORD
from commonroom.live.tests.servers import uvicorn_process
from commonroom.workspaces.tests.factories import upload_document

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_comment_posted_through_one_process_reaches_a_socket_on_the_other(
    team: Any, redis_url: str
) -> None:
    document = upload_document(team.workspace, team.manager, name="minutes.txt")
    writer = token_create(actor=team.editor, name="writer", scope="write").secret
    reader = token_create(actor=team.viewer, name="reader", scope="read").secret
    # A prefix of its own, so parallel runs sharing the Redis server never hear each other.
    env = {"REDIS_URL": redis_url, "COMMONROOM_CHANNEL_PREFIX": f"test-{uuid.uuid4().hex}"}
    with uvicorn_process(**env) as one, uvicorn_process(**env) as two:

        async def body() -> tuple[dict[str, Any], float, dict[str, Any]]:
            ws_url = two.replace("http://", "ws://") + f"/ws/w/{team.workspace.pk}/"
            headers = {"Authorization": f"Bearer {reader}"}
            async with connect(ws_url, additional_headers=headers) as socket:
                hello = json.loads(await socket.recv())
                assert hello["type"] == "hello"
                # Idle for longer than redis-py 8's default read timeout (5 s), which would end
                # the layer's blocking receive and with it the socket, unless switched off.
                await asyncio.sleep(6)
                started = time.monotonic()
                async with httpx.AsyncClient() as http:
                    posted = await http.post(
                        f"{one}/api/v1/workspaces/{team.workspace.pk}/documents/"
                        f"{document.pk}/comments",
                        json={"body": "Posted through process one"},
                        headers={"Authorization": f"Bearer {writer}"},
                    )
                assert posted.status_code == 201, posted.text
                message = json.loads(await socket.recv())
                return message, time.monotonic() - started, posted.json()

        message, elapsed, comment = async_to_sync(body)()

    assert message["type"] == "event"
    assert message["kind"] == "comment.created"
    assert message["data"]["comment"] == comment["id"]
    # Through Redis, not the embedded relay's polling (which is off with REDIS_URL): well
    # under a second even on a busy machine.
    assert elapsed < 2, f"arrived after {elapsed:.2f} s"


def test_a_revoke_or_sign_out_through_one_process_closes_sockets_on_the_other(
    team: Any, redis_url: str
) -> None:
    """Each server process's sockets join their credential's group in Redis: the token revoked
    through one process, or the browser signed out through it, closes the sockets opened with
    them on the other within a second; the same person's socket with another token stays."""
    revoked = token_create(actor=team.viewer, name="revoked", scope="read")
    kept = token_create(actor=team.viewer, name="kept", scope="read").secret
    browser = Client()
    signed_in = browser.post(
        reverse("account_login"), {"login": team.viewer.email, "password": PASSWORD}
    )
    assert signed_in.status_code == 302
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    env = {"REDIS_URL": redis_url, "COMMONROOM_CHANNEL_PREFIX": f"test-{uuid.uuid4().hex}"}
    with uvicorn_process(**env) as one, uvicorn_process(**env) as two:
        ws_url = two.replace("http://", "ws://") + f"/ws/w/{team.workspace.pk}/"
        session_headers = {"Cookie": cookie, "Origin": two}

        async def closed_within_a_second(socket: ClientConnection) -> tuple[int, str, float]:
            started = time.monotonic()
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), timeout=2)
            assert closed.value.rcvd is not None
            return closed.value.rcvd.code, closed.value.rcvd.reason, time.monotonic() - started

        async def body() -> list[tuple[int, str, float]]:
            results = []
            async with (
                connect(
                    ws_url, additional_headers={"Authorization": f"Bearer {revoked.secret}"}
                ) as by_token,
                connect(ws_url, additional_headers={"Authorization": f"Bearer {kept}"}) as other,
                connect(ws_url, additional_headers=session_headers) as by_session,
            ):
                for socket in (by_token, other, by_session):
                    assert json.loads(await socket.recv())["type"] == "hello"
                    # Answered once its connection's first read (a check of its credential
                    # too) is done: what closes it next is the revocation's message.
                    await socket.send(json.dumps({"type": "ping"}))
                    assert json.loads(await socket.recv())["type"] == "pong"
                session_cookie = {"sessionid": browser.cookies["sessionid"].value}
                async with httpx.AsyncClient(base_url=one, cookies=session_cookie) as http:
                    assert (await http.get("/account/tokens/")).status_code == 200
                    csrf = {"X-CSRFToken": http.cookies["csrftoken"], "Origin": one}
                    gone = await http.delete(f"/api/v1/me/tokens/{revoked.token.pk}", headers=csrf)
                    assert gone.status_code == 204, gone.text
                    results.append(await closed_within_a_second(by_token))
                    out = await http.post("/accounts/logout/", headers=csrf)
                    assert out.status_code == 302, out.text
                    results.append(await closed_within_a_second(by_session))
                # The same person's other token still follows the workspace.
                await other.send(json.dumps({"type": "ping"}))
                assert json.loads(await other.recv())["type"] == "pong"
            return results

        (token_code, token_reason, token_took), (session_code, session_reason, session_took) = (
            async_to_sync(body)()
        )

    assert (token_code, token_reason) == (4401, "The API token this connection used was revoked.")
    assert (session_code, session_reason) == (4401, "This browser session was signed out.")
    assert token_took < 1 and session_took < 1, (token_took, session_took)
