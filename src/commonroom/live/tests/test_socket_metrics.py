"""The live part of /metrics (core.metrics): sockets open in this process, counted from their
accept to their end and never for a refused one; events sent on them; events of other
processes the embedded relay announced."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async

from commonroom.core.metrics import LIVE_EVENTS_RELAYED, LIVE_EVENTS_SENT, LIVE_SOCKETS
from commonroom.live import relay
from commonroom.live.models import Event
from commonroom.live.tests.test_consumer import connect, opened, receive, run, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def value(metric: Any) -> float:
    return float(metric._value.get())


def test_sockets_and_events_are_counted(team: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(relay, "INTERVAL", 0.2)
    token = token_for(team.viewer)
    outsider = token_for(team.outsider)
    sockets, sent, relayed = (
        value(LIVE_SOCKETS),
        value(LIVE_EVENTS_SENT),
        value(LIVE_EVENTS_RELAYED),
    )

    def foreign_event() -> int:
        return Event.objects.create(
            workspace=team.workspace, kind="test.event", data={"n": 1}, origin="elsewhere"
        ).pk

    async def body() -> None:
        refused = connect(team.workspace.pk, token=outsider)
        connected, _ = await refused.connect(timeout=5)
        assert not connected
        assert value(LIVE_SOCKETS) == sockets
        first, second = (
            connect(team.workspace.pk, token=token),
            connect(team.workspace.pk, token=token),
        )
        await opened(first)
        await opened(second)
        assert value(LIVE_SOCKETS) == sockets + 2
        # The relay starts reading at its next turn after a socket opens; an event written
        # before that turn reaches the sockets by their own catch-up instead, not counted.
        await asyncio.sleep(relay.INTERVAL * 3)
        event_id = await database_sync_to_async(foreign_event)()
        assert (await receive(first, timeout=3))["id"] == event_id
        assert (await receive(second, timeout=3))["id"] == event_id
        assert value(LIVE_EVENTS_SENT) == sent + 2  # once per socket
        assert value(LIVE_EVENTS_RELAYED) == relayed + 1  # once for the process
        await first.disconnect()
        assert value(LIVE_SOCKETS) == sockets + 1
        await second.disconnect()
        assert value(LIVE_SOCKETS) == sockets

    run(body)
