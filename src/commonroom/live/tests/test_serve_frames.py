"""What `commonroom serve` offers a browser's live socket (decision 35): the socket opens with
no compression even when the client asks for it, and events still arrive on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync
from websockets.asyncio.client import connect

from commonroom.accounts.services import token_create
from commonroom.core.tests.serving import serving
from commonroom.workspaces.tests.factories import upload_document

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_serve_declines_websocket_compression(team: Any, tmp_path: Path) -> None:
    document = upload_document(team.workspace, team.manager, name="minutes.txt")
    reader = token_create(actor=team.viewer, name="reader", scope="read").secret
    writer = token_create(actor=team.editor, name="writer", scope="write").secret
    ws = team.workspace.pk

    async def journey(url: str) -> tuple[str | None, list[str], str, dict[str, Any]]:
        # websockets offers permessage-deflate by default, as browsers do.
        async with connect(
            url.replace("http://", "ws://") + f"/ws/w/{ws}/",
            additional_headers={"Authorization": f"Bearer {reader}"},
            compression="deflate",
        ) as socket:
            assert socket.request is not None and socket.response is not None
            offered = socket.request.headers.get("Sec-WebSocket-Extensions", "")
            hello = json.loads(await socket.recv())
            assert hello["type"] == "hello"
            async with httpx.AsyncClient(base_url=url) as http:
                answer = await http.post(
                    f"/api/v1/workspaces/{ws}/documents/{document.pk}/comments",
                    json={"body": "Sent whole"},
                    headers={"Authorization": f"Bearer {writer}"},
                )
                assert answer.status_code == 201, answer.text
            while True:
                message = json.loads(await socket.recv())
                if message["type"] == "event":
                    break
            granted = socket.response.headers.get("Sec-WebSocket-Extensions")
            extensions = [type(e).__name__ for e in socket.protocol.extensions]
            return granted, extensions, offered, message

    with serving(tmp_path, "--no-worker") as served:
        granted, extensions, offered, event = async_to_sync(journey)(served.url)
    assert "permessage-deflate" in offered  # the client asked, as a browser does
    assert granted is None  # and the server declined
    assert extensions == []
    assert event["kind"] == "comment.created"
