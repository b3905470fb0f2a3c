"""The embedded relay: events written by other processes reach this process's sockets.

With Redis (``REDIS_URL``) every process announces to every other through the channel layer and
the relay stays idle. With the default in-memory layer an announcement reaches only its own
process, so a background task finishing a preview, a ``commonroom`` command or a second
``--workers`` process would go unseen: while this process has open sockets, the relay reads the
event log every ``INTERVAL`` seconds for events another process wrote and announces them here.
Sockets read events from the log themselves and skip ids they have sent, so an event announced
twice is still sent once.

What must hold: every event committed after a socket's catch-up read is announced here. A socket
reads the log's newest id (its position) before its catch-up read and tells the relay. While no
socket is open the relay does not read and forgets where it was; the first read after that starts
from the lowest position of the sockets that opened meanwhile, not from the log's newest id then
(up to ``INTERVAL`` later), which would skip the events committed in between.

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

from commonroom.core.metrics import LIVE_EVENTS_RELAYED
from commonroom.live.models import Event
from commonroom.live.services import PROCESS_ORIGIN, announcement

log = logging.getLogger(__name__)

INTERVAL = 0.5
WINDOW = 256


class _State:
    """This process's open sockets, the relay's task, and where the next relay starts."""

    sockets = 0
    task: asyncio.Task[None] | None = None
    # The lowest position of the sockets opened since the last read (None: none opened).
    start: int | None = None


_state = _State()


def needed() -> bool:
    return isinstance(get_channel_layer(), InMemoryChannelLayer)


def position() -> int:
    """The log's newest id, read by a socket before its catch-up read (0 when the relay is not
    needed: nothing reads it)."""
    if not needed():
        return 0
    return int(Event.objects.aggregate(m=Max("id"))["m"] or 0)


def socket_opened(*, at: int) -> None:
    """A socket has joined its groups and will read the log from ``at`` (its :func:`position`)
    on: the relay announces whatever other processes commit from then on."""
    _state.sockets += 1
    _state.start = at if _state.start is None else min(_state.start, at)
    task = _state.task
    if needed() and (task is None or task.done()):
        _state.task = asyncio.get_running_loop().create_task(_run())


def socket_closed() -> None:
    _state.sockets = max(0, _state.sockets - 1)


class Relay:
    """Which events of other processes are still to announce here: those after ``high`` (and
    up to ``WINDOW`` below it that it has not read yet)."""

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


async def _run() -> None:
    layer = get_channel_layer()
    relay: Relay | None = None
    while True:
        await asyncio.sleep(INTERVAL)
        start, _state.start = _state.start, None
        if not _state.sockets:
            relay = None  # idle: no reads until someone connects again
            continue
        if relay is None:
            # From the lowest position of the sockets opened since: the window below it is
            # read again too (an event of another workspace may commit late), its events
            # announced to sockets that have them already and skip them.
            relay = Relay(start if start is not None else await database_sync_to_async(position)())
        try:
            for event in await database_sync_to_async(relay.read)():
                # Counted before it is sent: a socket may show it before this task runs again.
                LIVE_EVENTS_RELAYED.inc()
                await layer.group_send(*announcement(event))
        except Exception:  # keep relaying: a database hiccup must not end live updates
            log.exception("live relay: could not read the event log")
