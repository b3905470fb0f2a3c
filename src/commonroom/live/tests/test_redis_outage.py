"""Redis goes away under a real server process (kill -9 of a private redis-server) and comes
back on the same port: open sockets are closed with 1013 "try again later", a reconnect during
the outage is accepted and closed 1013 (never an HTTP 500), and once Redis is back a socket
reconnecting as live.js does gets what it missed and new events within 5 seconds."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from commonroom.accounts.services import token_create
from commonroom.live.outage import CLOSE_TRY_AGAIN_LATER
from commonroom.live.tests.private_redis import PrivateRedis, private_redis_started
from commonroom.live.tests.servers import uvicorn_process
from commonroom.workspaces.tests.factories import upload_document


@pytest.fixture
def private_redis() -> Any:
    server = private_redis_started("Redis outage test")
    yield server
    server.kill()


async def closed_code(socket: ClientConnection, within: float = 10) -> int | None:
    """The close code the server ends ``socket`` with. Before it, only the greeting (and a
    replay of nothing) may come: no event is sent on a socket that cannot follow."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), within))
            assert message["type"] in {"hello", "reset"}, message
    return closed.value.rcvd.code if closed.value.rcvd else None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sockets_close_1013_while_redis_is_down_and_resume_within_5_s_of_its_return(
    team: Any, private_redis: PrivateRedis, capfd: Any
) -> None:
    document = upload_document(team.workspace, team.manager, name="minutes.txt")
    writer = token_create(actor=team.editor, name="writer", scope="write").secret
    reader = token_create(actor=team.viewer, name="reader", scope="read").secret
    env = {"REDIS_URL": private_redis.url, "COMMONROOM_CHANNEL_PREFIX": f"t-{uuid.uuid4().hex}"}
    with uvicorn_process(**env) as url:
        ws_base = url.replace("http://", "ws://") + f"/ws/w/{team.workspace.pk}/"
        headers = {"Authorization": f"Bearer {reader}"}

        async def comment(http: httpx.AsyncClient, body: str) -> str:
            posted = await http.post(
                f"{url}/api/v1/workspaces/{team.workspace.pk}/documents/{document.pk}/comments",
                json={"body": body},
                headers={"Authorization": f"Bearer {writer}"},
            )
            assert posted.status_code == 201, posted.text
            return str(posted.json()["id"])

        async def body() -> float:
            async with httpx.AsyncClient(timeout=30) as http:
                async with connect(ws_base, additional_headers=headers) as socket:
                    hello = json.loads(await socket.recv())
                    assert hello["type"] == "hello"
                    capfd.readouterr()
                    private_redis.kill()
                    # The open socket: its layer receive fails, it is told to try again later.
                    assert await closed_code(socket) == CLOSE_TRY_AGAIN_LATER
                # A reconnect during the outage: a clean 1013, not a failed (500) handshake.
                async with connect(ws_base, additional_headers=headers) as again:
                    assert await closed_code(again) == CLOSE_TRY_AGAIN_LATER
                # The same for pages outside a workspace (their person's nudges).
                ws_me = url.replace("http://", "ws://") + "/ws/me/"
                async with connect(ws_me, additional_headers=headers) as personal:
                    assert await closed_code(personal) == CLOSE_TRY_AGAIN_LATER
                # A change made meanwhile is saved; the page gets it when it is back.
                missed = await comment(http, "Written while Redis was down")

                private_redis.start()
                back = time.monotonic()
                # Reconnect as live.js does (a short wait after each close), from the last id
                # seen, until the change made during the outage arrives.
                while True:
                    assert time.monotonic() - back < 5, "nothing arrived 5 s after Redis"
                    socket = await connect(
                        f"{ws_base}?after={hello['id']}", additional_headers=headers
                    )
                    try:
                        while True:
                            message = json.loads(await asyncio.wait_for(socket.recv(), 5))
                            if message["type"] == "event":
                                break
                        break
                    except ConnectionClosed:
                        await asyncio.sleep(0.5)
                try:
                    assert message["data"]["comment"] == missed
                    fresh = await comment(http, "Written after Redis came back")
                    arrived = json.loads(await asyncio.wait_for(socket.recv(), 5))
                    assert (arrived["type"], arrived["data"]["comment"]) == ("event", fresh)
                    return time.monotonic() - back
                finally:
                    await socket.close()

        elapsed = async_to_sync(body)()
    assert elapsed < 5, f"a new event arrived {elapsed:.1f} s after Redis returned"
    log = capfd.readouterr().err
    # The outage is reported, briefly: no traceback per socket.
    assert "the channel layer is unreachable" in log, log
    assert "Exception in ASGI application" not in log, log


@pytest.mark.slow
def test_the_configured_layer_replaces_its_dead_connections_after_a_redis_restart(
    private_redis: PrivateRedis, monkeypatch: Any
) -> None:
    """Redis restarts while the layer's pooled connections sit idle: they are dead, and are
    replaced (health check, retry) instead of failing the next command, so the first socket
    after Redis returns is not closed for nothing. The layer is the one settings.py builds."""
    import runpy

    from channels_redis.core import RedisChannelLayer

    import commonroom.settings

    monkeypatch.setenv("REDIS_URL", private_redis.url)
    configured = runpy.run_path(commonroom.settings.__file__)["CHANNEL_LAYERS"]["default"]
    assert configured["BACKEND"] == "channels_redis.core.RedisChannelLayer"

    async def body() -> None:
        layer = RedisChannelLayer(**{**configured["CONFIG"], "prefix": f"t-{uuid.uuid4().hex}"})
        channel = await layer.new_channel()
        await layer.group_add("minutes", channel)
        private_redis.kill()
        private_redis.start()
        await layer.group_add("agenda", channel)  # on a connection from before the restart
        await layer.group_send("agenda", {"type": "live.event", "id": 1})
        assert await asyncio.wait_for(layer.receive(channel), 5) == {"type": "live.event", "id": 1}
        await layer.flush()
        await layer.close_pools()

    async_to_sync(body)()


def test_an_outage_is_logged_once_not_once_per_socket(caplog: Any) -> None:
    import redis

    from commonroom.live.outage import _OutageLog

    outage = _OutageLog()
    for _ in range(50):
        outage.note(redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379."))
    (record,) = [r for r in caplog.records if r.name == "commonroom.live.outage"]
    assert "the channel layer is unreachable" in record.getMessage()
    assert record.exc_info is None
    assert outage.closed == 49  # counted, and told in the next line


def test_events_announced_while_redis_is_down_log_one_line_not_a_traceback_each(
    settings: Any, caplog: Any
) -> None:
    """A change committed during the outage is kept (the log has it); announcing it fails, and
    twenty such failures make one line, not twenty tracebacks."""
    from commonroom.live import outage, services

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:1"}]},  # nothing listens
        }
    }
    outage.outage_log.last_announce = float("-inf")
    for n in range(20):
        services._send("workspace-nowhere", {"type": "live.event", "id": n})
    records = [r for r in caplog.records if r.name.startswith("commonroom.live")]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert "events are kept in the log" in records[0].getMessage()
    assert records[0].exc_info is None


@pytest.mark.django_db(transaction=True)
def test_a_socket_whose_groups_cannot_be_left_still_leaves_the_relay(
    team: Any, monkeypatch: Any
) -> None:
    """Leaving the groups fails (the layer is unreachable): the process still counts the socket
    as closed, so its relay goes idle instead of reading the log for a socket long gone."""
    import redis
    from channels.layers import get_channel_layer
    from channels.testing import WebsocketCommunicator

    from commonroom.asgi import application
    from commonroom.live import relay

    secret = token_create(actor=team.viewer, name="socket", scope="read").secret
    before = relay._state.sockets

    async def unreachable(group: str, channel: str) -> None:
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379.")

    async def body() -> None:
        comm = WebsocketCommunicator(
            application,
            f"/ws/w/{team.workspace.pk}/",
            headers=[
                (b"host", b"testserver"),
                (b"origin", b"http://testserver"),
                (b"authorization", f"Bearer {secret}".encode()),
            ],
        )
        connected, _ = await comm.connect(timeout=5)
        assert connected
        assert relay._state.sockets == before + 1
        monkeypatch.setattr(get_channel_layer(), "group_discard", unreachable)
        await comm.disconnect()

    async_to_sync(body)()
    assert relay._state.sockets == before
