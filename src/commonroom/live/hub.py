"""One database read for all of a process's sockets on a workspace.

Each socket is sent the events after its last id, with its person's membership and its
credential (the token or session it was opened with) checked again for every event. Asked one
socket at a time that is several queries per socket per event; here they are answered for many
sockets at once by one read of the log, one of the memberships (``selectors.events_for_readers``)
and one per kind of credential (``selectors.still_signed_in``), and each socket gets the answer
it would have got alone. A question that read cannot answer exactly (more missed than one
catch-up replays) is asked alone. Sockets that saw the same last event are handed the same
events (the same objects), so each event's message is written once for all of them
(``consumers.event_frame``).

Two ways in:
- :func:`events_for`: a socket's own catch-up (as it opens): the questions that arrive within
  ``GATHER_SECONDS`` of each other are answered together;
- a :class:`Room`: the process's sockets on one workspace hear its announcements through one
  channel of the channel layer, in the workspace's group in their stead (:func:`follow`,
  :func:`unfollow`). On an announcement the room reads once for every socket that has not had
  the event and hands each its answer; each socket sends it from a task of its own, in order
  behind whatever it is sending already. Before, each socket was a member of the group: one
  channel-layer message per socket, each woken through Channels' receive loop to ask its
  question (decision 43).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from commonroom.accounts.selectors import Credential
from commonroom.live import selectors
from commonroom.live.models import Event
from commonroom.live.outage import layer_unreachable
from commonroom.live.selectors import Batch, events_after, events_for_readers, still_signed_in
from commonroom.live.services import workspace_group

log = logging.getLogger(__name__)

# How long a socket's own catch-up question waits for others asked with it (sockets opening
# together, pages reconnecting after a restart), to be answered by one read.
GATHER_SECONDS = 0.002
# How long a room waits before asking again when its read for an announcement fails (then it
# closes the sockets left without the event: Room.hand_out).
READ_RETRY_WAITS = (0.05, 0.25)
# How long a stopped room tries to take its channel out of the workspace's group.
LEAVE_SECONDS = 5.0

Question = tuple[int, Credential, int, "asyncio.Future[Batch]"]
_waiting: dict[str, list[Question]] = {}
_running: set[asyncio.Task[None]] = set()


async def events_for(
    *, workspace_id: str, user_id: int, credential: Credential, after: int
) -> Batch:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[Batch] = loop.create_future()
    questions = _waiting.get(workspace_id)
    if questions is None:
        questions = _waiting[workspace_id] = []
        task = loop.create_task(_answer(workspace_id))
        _running.add(task)  # held until done, so it is never collected mid-flight
        task.add_done_callback(_running.discard)
    questions.append((user_id, credential, after, answer))
    return await answer


async def _answer(workspace_id: str) -> None:
    await asyncio.sleep(GATHER_SECONDS)
    questions = _waiting.pop(workspace_id, [])
    if not questions:
        return
    try:
        events, members, valid = await database_sync_to_async(_read)(
            workspace_id=workspace_id,
            after=min(after for _, _, after, _ in questions),
            user_ids={user_id for user_id, _, _, _ in questions},
            credentials={credential for _, credential, _, _ in questions},
        )
        complete = len(events) <= selectors.CATCH_UP_LIMIT
        # Sockets that saw the same last event get the same (immutable) answer: one list of
        # events for them all, not one each.
        batches: dict[int, Batch] = {}
        for user_id, credential, after, answer in questions:
            if answer.done():
                continue
            if credential not in valid:
                answer.set_result(Batch(allowed=False, events=[], last_id=after, signed_in=False))
            elif user_id not in members:
                answer.set_result(Batch(allowed=False, events=[], last_id=after))
            elif complete:
                batch = batches.get(after)
                if batch is None:
                    mine = [e for e in events if e.pk > after]
                    batch = batches[after] = Batch(
                        allowed=True, events=mine, last_id=mine[-1].pk if mine else after
                    )
                answer.set_result(batch)
            else:
                alone = await database_sync_to_async(events_after)(
                    user_id=user_id, workspace_id=workspace_id, after=after
                )
                answer.set_result(alone)
    except Exception as exc:  # every waiting socket hears of it, none hangs
        for _, _, _, answer in questions:
            if not answer.done():
                answer.set_exception(exc)


def _read(
    *, workspace_id: str, after: int, user_ids: set[int], credentials: set[Credential]
) -> tuple[list[Event], set[int], set[Credential]]:
    events, members = events_for_readers(workspace_id=workspace_id, after=after, user_ids=user_ids)
    return events, members, still_signed_in(credentials)


# --- Each workspace's announcements, heard once per process ---------------------------------


class Follower(Protocol):
    """A socket following a workspace (consumers.WorkspaceConsumer), as the room sees it."""

    workspace_id: str
    user_id: int
    credential: Credential
    # The last event sent; ``handed``: the last handed to a delivery not yet run (never lower).
    last_id: int
    handed: int
    # Set once its own catch-up is about to read the log: from then on the room hands it events.
    following: bool
    closing: bool

    async def deliver(self, batch: Batch) -> None: ...

    async def catch_up(self) -> None: ...

    async def layer_lost(self, exc: BaseException) -> None: ...


class Room:
    """The sockets of this process that follow one workspace, and the one channel that hears
    the workspace's announcements for them all (a member of the workspace's group in their
    stead): one message a process for each event instead of one a socket, and one read of the
    log, the memberships and the credentials for every socket it tells."""

    def __init__(self, workspace_id: str) -> None:
        self.workspace_id = workspace_id
        self.loop = asyncio.get_running_loop()
        self.layer: Any = get_channel_layer()
        self.sockets: set[Follower] = set()
        self.channel: str | None = None
        self.listening: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()
        # Its receive failed: it hears nothing more and takes no more sockets.
        self.stopped = False

    def current(self) -> bool:
        return (
            not self.stopped
            and self.loop is asyncio.get_running_loop()
            and (self.listening is None or not self.listening.done())
        )

    async def join(self, socket: Follower) -> None:
        """Take ``socket`` in; once this returns, every announcement of the workspace reaches
        this room (its channel is in the workspace's group: joined again at each socket, which
        renews the membership where it expires, as the sockets' own did)."""
        self.sockets.add(socket)
        async with self.lock:
            if self.channel is None:
                self.channel = await self.layer.new_channel()
                self.listening = self.loop.create_task(self.listen(self.channel))
        await self.layer.group_add(workspace_group(self.workspace_id), self.channel)
        if self.stopped:  # its receive failed while this socket joined: out again
            await self.leave_group()

    async def leave(self) -> None:
        if self.listening is not None:
            self.listening.cancel()
        if self.channel is not None:
            await self.layer.group_discard(workspace_group(self.workspace_id), self.channel)

    async def leave_group(self) -> None:
        """Take the room's channel out of the workspace's group, best effort: the layer may be
        the thing that failed (then the membership expires on its own)."""
        if self.channel is None:
            return
        try:
            await asyncio.wait_for(
                self.layer.group_discard(workspace_group(self.workspace_id), self.channel),
                LEAVE_SECONDS,
            )
        except Exception as exc:
            if not layer_unreachable(exc):
                log.warning(
                    "live: the room of workspace %s could not leave its group (%s: %s)",
                    self.workspace_id,
                    type(exc).__name__,
                    exc,
                )

    async def listen(self, channel: str) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except Exception as exc:
                if not layer_unreachable(exc):
                    log.exception("live: the room of workspace %s stopped", self.workspace_id)
                # The layer is down (or failed otherwise): this room hears nothing more. Its
                # sockets close with 1013 and their pages reconnect, to a new room.
                self.stopped = True
                if _rooms.get(self.workspace_id) is self:
                    del _rooms[self.workspace_id]
                for socket in list(self.sockets):
                    _spawn(socket.layer_lost(exc))
                # Its channel out of the workspace's group, if the layer lets it: on Redis
                # every announcement would otherwise still be pushed to a channel nobody reads
                # until the group's membership expires.
                await self.leave_group()
                return
            if message.get("type") != "live.event":
                continue
            await self.hand_out(int(message.get("id", 0)))

    async def hand_out(self, event_id: int) -> None:
        """:meth:`announced`, asked again after a short wait if its read fails (a database
        hiccup: "database is locked"); if it still fails, the sockets that have not had the
        event are closed with 1013, as a socket whose catch-up fails would end: their pages
        reconnect and ask for what they missed (``after=``), rather than stay open and silent
        until a later event. The room goes on for the others and for later events."""
        for wait in (*READ_RETRY_WAITS, None):
            try:
                await self.announced(event_id)
                return
            except Exception as exc:
                if wait is not None:
                    log.warning(
                        "live: could not read event %s for its sockets (%s: %s); asking again",
                        event_id,
                        type(exc).__name__,
                        exc,
                    )
                    await asyncio.sleep(wait)
                    continue
                log.exception(
                    "live: could not read event %s for its sockets; closing those without it "
                    "with 1013",
                    event_id,
                )
                for socket in list(self.sockets):
                    if (
                        socket.following
                        and not socket.closing
                        and max(socket.last_id, socket.handed) < event_id
                    ):
                        _spawn(socket.layer_lost(exc))

    async def announced(self, event_id: int) -> None:
        """Hand every socket that has not had ``event_id`` the events after its last one, as
        :func:`events_for` would answer it alone: its person still a member, its credential
        still signing them in, checked in this one read for them all."""
        asking = {
            socket: max(socket.last_id, socket.handed)
            for socket in self.sockets
            if socket.following and not socket.closing
        }
        asking = {socket: after for socket, after in asking.items() if after < event_id}
        if not asking:
            return
        events, members, valid = await database_sync_to_async(_read)(
            workspace_id=self.workspace_id,
            after=min(asking.values()),
            user_ids={socket.user_id for socket in asking},
            credentials={socket.credential for socket in asking},
        )
        complete = len(events) <= selectors.CATCH_UP_LIMIT
        batches: dict[int, Batch] = {}
        for socket, after in asking.items():
            if socket.closing or socket not in self.sockets:
                continue
            if socket.credential not in valid:
                batch = Batch(allowed=False, events=[], last_id=after, signed_in=False)
            elif socket.user_id not in members:
                batch = Batch(allowed=False, events=[], last_id=after)
            elif not complete:
                _spawn(_catch_up(socket))  # more than one read replays: asked alone
                continue
            else:
                # Sockets that saw the same last event share one answer (and one message per
                # event: consumers.event_frame).
                found = batches.get(after)
                if found is None:
                    mine = [e for e in events if e.pk > after]
                    found = batches[after] = Batch(
                        allowed=True, events=mine, last_id=mine[-1].pk if mine else after
                    )
                if not found.events:
                    continue
                batch = found
                socket.handed = batch.last_id
            _spawn(socket.deliver(batch))


_rooms: dict[str, Room] = {}
_delivering: set[asyncio.Task[None]] = set()


def _spawn(work: Coroutine[Any, Any, None]) -> None:
    """Each socket's delivery runs on its own, so one socket slow to take its frames (its
    connection's buffer full) holds up no other."""
    task = asyncio.get_running_loop().create_task(work)
    _delivering.add(task)  # held until done, so it is never collected mid-flight
    task.add_done_callback(_delivering.discard)


async def _catch_up(socket: Follower) -> None:
    """A socket's catch-up asked alone by its room: if it fails, the socket closes with 1013
    and its page reconnects and catches up, rather than the failure dying with its task and
    the socket staying open and silent."""
    try:
        await socket.catch_up()
    except Exception as exc:
        log.exception("live: a socket's catch-up on workspace %s failed", socket.workspace_id)
        await socket.layer_lost(exc)


async def follow(socket: Follower) -> None:
    """``socket`` hears its workspace's announcements from now on (through its process's room
    for the workspace)."""
    room = _rooms.get(socket.workspace_id)
    if room is None or not room.current():
        room = _rooms[socket.workspace_id] = Room(socket.workspace_id)
    await room.join(socket)


async def unfollow(socket: Follower) -> None:
    """``socket`` is closing; the last one of a room takes the room's channel out of the
    workspace's group."""
    room = _rooms.get(socket.workspace_id)
    if room is None or socket not in room.sockets:
        return
    room.sockets.discard(socket)
    if not room.sockets:
        del _rooms[socket.workspace_id]
        await room.leave()
