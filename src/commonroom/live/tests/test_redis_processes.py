"""Two server processes sharing Redis: a comment posted through one reaches a socket held open
on the other. Redis runs beside the database on development machines and in CI; if it is truly
absent this test is skipped with a loud reason, and with CI=true that is a failure (the
``redis_url`` fixture, conftest.py)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync
from websockets.asyncio.client import connect

from commonroom.accounts.services import token_create
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
