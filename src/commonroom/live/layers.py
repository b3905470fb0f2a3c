"""The in-memory channel layer of a single-process install (no ``REDIS_URL``): Channels' own,
made to scale with the number of open sockets.

Channels' layer looks through every queued message and every group membership of the process
for expired ones on each receive and each group send. One announcement to a workspace's 1,000
sockets is then 1,000 receives, each looking through some 3,000 entries (every socket is in its
workspace's, its person's and its credential's groups): three million steps for one comment. Here
that clean-up runs at most once every ``CLEAN_EVERY`` seconds, which is all it is for: messages
expire after a minute and group memberships after a day, so a clean-up a second late changes
nothing that anyone could see.

Its group send puts the message on each socket's queue in one pass, as Channels' does through
one task per socket (each ran to completion without waiting: the queues are in memory), without
the 1,000 tasks; and a send makes a channel's queue only when it has none. A socket whose queue
is full misses the message as before (its next announcement catches it up from the event log).

What must hold: every send, receive, group add and discard behaves as Channels' layer does; only
when expired entries are dropped differs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from copy import deepcopy
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer

# The longest an expired message or group membership stays before it is dropped (seconds).
CLEAN_EVERY = 1.0


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.next_clean = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now < self.next_clean:
            return
        self.next_clean = now + CLEAN_EVERY
        super()._clean_expired()

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        # As Channels' send, but the channel's queue is made only when it has none (Channels'
        # makes a new one for every message and throws it away when the channel has one).
        assert isinstance(message, dict), "message is not a dict"  # noqa: S101 - as Channels'
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message  # noqa: S101 - as Channels'
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        try:
            queue.put_nowait((time.time() + self.expiry, deepcopy(message)))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "Message is not a dict"  # noqa: S101 - as Channels'
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            with contextlib.suppress(ChannelFull):
                await self.send(channel, message)
