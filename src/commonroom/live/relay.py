"""The embedded relay: events written by other processes reach this process's sockets.

With Redis (``REDIS_URL``) every process announces to every other through the channel layer and
the relay stays idle. With the default in-memory layer an announcement reaches only its own
process, so a background task finishing a preview, a ``commonroom`` command or a second
``--workers`` process would go unseen: while this process has open sockets, the relay reads the
event log every ``INTERVAL`` seconds for events another process wrote and announces them here.
Sockets read events from the log themselves and skip ids they have sent, so an event announced
twice is still sent once.

Ids are taken at insert, and two workspaces' transactions may commit out of id order, so each
read looks back ``WINDOW`` ids below the highest seen and skips the ids it already announced.
(Within one workspace, events commit in id order: see services.publish.)
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db.models import Max

from commonroom.live.models import Event
from commonroom.live.services import PROCESS_ORIGIN, announcement

log = logging.getLogger(__name__)

INTERVAL = 0.5
WINDOW = 256
_state: dict[str, object] = {"sockets": 0, "task": None}


def needed() -> bool:
    return isinstance(get_channel_layer(), InMemoryChannelLayer)


def socket_opened() -> None:
    _state["sockets"] = int(_state["sockets"]) + 1  # type: ignore[call-overload]
    task = _state["task"]
    if needed() and (task is None or task.done()):  # type: ignore[attr-defined]
        _state["task"] = asyncio.get_running_loop().create_task(_run())


def socket_closed() -> None:
    _state["sockets"] = max(0, int(_state["sockets"]) - 1)  # type: ignore[call-overload]


def _latest() -> int:
    return int(Event.objects.aggregate(m=Max("id"))["m"] or 0)


class Relay:
    """Which events of other processes are still to announce here."""

    def __init__(self, high: int) -> None:
        self.high = high
        self.seen: set[int] = set()

    def read(self) -> list[Event]:
        """Events that other processes wrote and this relay has not announced yet, oldest
        first (read in a worker thread)."""
        rows = list(Event.objects.filter(id__gt=self.high - WINDOW).order_by("id")[:1000])
        fresh = [e for e in rows if e.pk not in self.seen]
        self.seen.update(e.pk for e in fresh)
        if rows:
            self.high = max(self.high, rows[-1].pk)
        self.seen = {i for i in self.seen if i > self.high - WINDOW}
        return [e for e in fresh if e.origin != PROCESS_ORIGIN]


def _fresh_relay() -> Relay:
    """A relay that starts from the present: what came before, the sockets read themselves."""
    relay = Relay(_latest())
    relay.seen.update(range(relay.high - WINDOW + 1, relay.high + 1))
    return relay


async def _run() -> None:
    layer = get_channel_layer()
    relay: Relay | None = None
    while True:
        await asyncio.sleep(INTERVAL)
        if not _state["sockets"]:
            relay = None  # idle: no reads until someone connects again
            continue
        try:
            if relay is None:
                relay = await database_sync_to_async(_fresh_relay)()
                continue
            for event in await database_sync_to_async(relay.read)():
                await layer.group_send(*announcement(event))
        except Exception:  # keep relaying: a database hiccup must not end live updates
            log.exception("live relay: could not read the event log")
