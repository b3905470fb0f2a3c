"""When the channel layer (Redis) cannot be reached, a socket is closed with 1013 "try again
later", never failed: not an HTTP 500 at the handshake, not a 1011 and a traceback for every
open socket.

The page's script (static/commonroom/live.js) reconnects after a short, jittered wait and asks
for the events after the last one it saw, so nothing is missed once Redis is back. Nothing here
retries: the next connection does. The process logs one line (at most every ``LOG_EVERY``
seconds, with how many sockets were closed since), not one traceback per socket.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

log = logging.getLogger(__name__)

CLOSE_TRY_AGAIN_LATER = 1013
LOG_EVERY = 10.0

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
Receive = Callable[[], Awaitable[Message]]


def layer_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the channel layer's server is down or unreachable."""
    # Imported here, not with the module: a process on the in-memory layer (no REDIS_URL) never
    # loads the Redis client (docs/benchmarks.md, "Memory").
    from redis.exceptions import RedisError

    return isinstance(exc, RedisError | OSError | asyncio.TimeoutError)


class _OutageLog:
    """One line when the layer is first found unreachable, then at most one per LOG_EVERY."""

    def __init__(self) -> None:
        self.last = float("-inf")
        self.last_announce = float("-inf")
        self.closed = 0

    def note(self, exc: BaseException) -> None:
        self.closed += 1
        now = time.monotonic()
        if now - self.last >= LOG_EVERY:
            log.error(
                "live: the channel layer is unreachable (%s: %s); %d socket(s) closed with "
                "1013, pages reconnect on their own",
                type(exc).__name__,
                exc,
                self.closed,
            )
            self.last = now
            self.closed = 0

    def note_announce(self, exc: BaseException) -> None:
        """An event committed while the layer is down: open pages on other servers read it from
        the log once they reconnect, so one line now and then says so."""
        now = time.monotonic()
        if now - self.last_announce >= LOG_EVERY:
            log.error(
                "live: the channel layer is unreachable (%s: %s); events are kept in the log "
                "and reach open pages when they reconnect",
                type(exc).__name__,
                exc,
            )
            self.last_announce = now


outage_log = _OutageLog()


class ClosesOnLayerOutage:
    """Mixed into a channels consumer (before it in the bases): a channel layer error anywhere
    in the socket's life (joining groups at the handshake, the layer's receive, leaving groups)
    ends the socket with 1013, accepting it first if need be, since a handshake refused before
    acceptance reaches the browser as HTTP 403 without a code."""

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        accepted = closed = False

        async def watched_send(message: Message) -> None:
            nonlocal accepted, closed
            if message["type"] == "websocket.accept":
                accepted = True
            elif message["type"] == "websocket.close":
                closed = True
            await send(message)

        try:
            await super().__call__(scope, receive, watched_send)  # type: ignore[misc]
        except Exception as exc:
            if not layer_unreachable(exc):
                raise
            outage_log.note(exc)
            await self._after_outage()
            if closed:
                return
            try:
                if not accepted:
                    await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})
            except Exception:  # noqa: S110 - the browser has already gone: nothing to tell it
                pass

    async def _after_outage(self) -> None:
        """Let the consumer release what it holds (its groups cannot be left: the layer is
        down; they expire on their own)."""
        disconnect = getattr(self, "disconnect", None)
        if disconnect is None:
            return
        try:
            await disconnect(CLOSE_TRY_AGAIN_LATER)
        except Exception as exc:
            if not layer_unreachable(exc):
                raise
