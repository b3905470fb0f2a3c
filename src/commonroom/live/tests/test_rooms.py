"""A process's sockets on one workspace hear its announcements through one room (live/hub.py):
one channel in the workspace's group, one read for every socket per event, and each socket still
sent exactly what it would have been sent alone (in order, once, only while its person is a
member and its credential signs them in), however the announcements and its own catch-up fall."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import OperationalError

from commonroom.live import consumers, hub, relay, selectors
from commonroom.live.outage import CLOSE_TRY_AGAIN_LATER
from commonroom.live.services import user_group, workspace_group
from commonroom.live.tests.test_consumer import (
    connect,
    emit,
    next_is_a_later_event,
    opened,
    receive,
    token_for,
)
from commonroom.workspaces.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)


def room_of(workspace_id: Any) -> hub.Room:
    return hub._rooms[str(workspace_id)]


async def two_sockets(
    workspace_id: Any, token: str
) -> tuple[WebsocketCommunicator, WebsocketCommunicator, consumers.WorkspaceConsumer]:
    """Two sockets open on the workspace, and the first one's consumer in its room."""
    first, second = connect(workspace_id, token=token), connect(workspace_id, token=token)
    await opened(first)
    [follower] = room_of(workspace_id).sockets
    assert isinstance(follower, consumers.WorkspaceConsumer)
    await opened(second)
    return first, second, follower


def test_a_workspaces_sockets_share_one_channel_in_its_group_and_one_read_an_event(
    team: Any, monkeypatch: Any
) -> None:
    sockets = 6
    tokens = [token_for(team.viewer), token_for(team.editor)]
    reads: list[int] = []
    read = hub._read

    def counted_read(**kwargs: Any) -> Any:
        reads.append(len(kwargs["user_ids"]))
        return read(**kwargs)

    async def body() -> None:
        layer = get_channel_layer()
        comms = [connect(team.workspace.pk, token=tokens[i % 2]) for i in range(sockets)]
        for comm in comms:
            await opened(comm)
        group = workspace_group(team.workspace.pk)
        assert list(layer.groups[group]) == [room_of(team.workspace.pk).channel]
        # Every socket past its own catch-up (which reads too) once it has had an event.
        [first] = await database_sync_to_async(emit)(team.workspace.pk, 1)
        assert [(await receive(comm))["id"] for comm in comms] == [first] * sockets
        monkeypatch.setattr(hub, "_read", counted_read)
        [pk] = await database_sync_to_async(emit)(team.workspace.pk, 1)
        got = [await receive(comm) for comm in comms]
        assert [m["id"] for m in got] == [pk] * sockets
        assert reads == [2]  # one read, both people's memberships in it
        for comm in comms:
            await comm.disconnect()
        # The last socket gone, the room's channel leaves the group and the room is forgotten.
        assert not layer.groups.get(group)
        assert str(team.workspace.pk) not in hub._rooms

    async_to_sync(body)()


def test_a_socket_opened_after_the_room_emptied_hears_the_workspace_again(team: Any) -> None:
    token = token_for(team.viewer)

    async def body() -> None:
        for _ in range(2):
            comm = connect(team.workspace.pk, token=token)
            await opened(comm)
            [pk] = await database_sync_to_async(emit)(team.workspace.pk, 1)
            assert (await receive(comm))["id"] == pk
            await comm.disconnect()

    async_to_sync(body)()


def test_a_member_removed_straight_in_the_database_gets_not_the_next_event(team: Any) -> None:
    """Another process (no hook, no revocation message here) removes one of two people: the
    room's read finds it for the next event; their sockets close without it, the other
    person's get it."""
    removed, kept = token_for(team.viewer), token_for(team.editor)

    def vanish_then_emit() -> int:
        Membership.objects.filter(workspace=team.workspace, user=team.viewer).delete()
        return emit(team.workspace.pk, 1)[0]

    async def body() -> None:
        gone = [connect(team.workspace.pk, token=removed) for _ in range(2)]
        stays = [connect(team.workspace.pk, token=kept) for _ in range(2)]
        for comm in [*gone, *stays]:
            await opened(comm)
        pk = await database_sync_to_async(vanish_then_emit)()
        for comm in gone:
            assert await comm.receive_output(timeout=2) == {
                "type": "websocket.close",
                "code": 4403,
            }
        for comm in stays:
            assert (await receive(comm))["id"] == pk
            await comm.disconnect()

    async_to_sync(body)()


def test_an_event_announced_while_a_socket_opens_is_sent_once(team: Any, monkeypatch: Any) -> None:
    """An event committed (and announced) after the socket read where it continues from but
    before it hands over to the room: its own catch-up sends it, once, in order."""
    token = token_for(team.viewer)
    committed: list[int] = []
    starting_point = consumers._starting_point

    def starting_point_then_an_event(**kwargs: Any) -> tuple[int, bool, int]:
        found = starting_point(**kwargs)
        committed.extend(emit(team.workspace.pk, 1))
        return found

    async def body() -> None:
        # Another socket keeps the room open, so the announcement is heard and handed out.
        other = connect(team.workspace.pk, token=token)
        await opened(other)
        monkeypatch.setattr(consumers, "_starting_point", starting_point_then_an_event)
        comm = connect(team.workspace.pk, token=token)
        await opened(comm)
        assert (await receive(comm))["id"] == committed[0]
        assert (await receive(other))["id"] == committed[0]
        # Not sent twice: the next either gets is a later event.
        [later] = await database_sync_to_async(emit)(team.workspace.pk, 1)
        assert [(await receive(c))["id"] for c in (comm, other)] == [later, later]
        await comm.disconnect()
        await other.disconnect()

    async_to_sync(body)()


def test_a_socket_slow_to_take_its_frames_holds_up_no_other(team: Any) -> None:
    """Each socket sends from its own task: one whose sends wait (its connection's buffer full)
    delays only itself, and is sent everything, in order, once it drains."""
    token = token_for(team.viewer)

    async def body() -> None:
        slow, quick, slow_socket = await two_sockets(team.workspace.pk, token)
        drained = asyncio.Event()
        send = slow_socket.send

        async def held_send(*args: Any, **kwargs: Any) -> None:
            await drained.wait()
            await send(*args, **kwargs)

        slow_socket.send = held_send
        ids = await database_sync_to_async(emit)(team.workspace.pk, 2)
        assert [(await receive(quick))["id"] for _ in ids] == ids
        assert await slow.receive_nothing(timeout=0.1)
        drained.set()
        assert [(await receive(slow))["id"] for _ in ids] == ids
        await next_is_a_later_event(slow, team.workspace.pk)
        await slow.disconnect()
        await quick.disconnect()

    async_to_sync(body)()


@pytest.mark.parametrize(
    "failure",
    [redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379."), RuntimeError("a bug")],
    ids=["layer unreachable", "anything else"],
)
def test_a_room_whose_layer_fails_closes_its_sockets_with_try_again_later(
    team: Any, monkeypatch: Any, failure: Exception
) -> None:
    """Its sockets would hear nothing more: they close and their pages reconnect (to a new
    room) rather than stay open and silent."""
    token = token_for(team.viewer)

    async def body() -> None:
        layer = get_channel_layer()
        comms: list[WebsocketCommunicator] = [connect(team.workspace.pk, token=token)]
        comms.append(connect(team.workspace.pk, token=token))
        for comm in comms:
            await opened(comm)
        room = room_of(team.workspace.pk)
        receive_from_layer = layer.receive

        async def unreachable(channel: str) -> dict[str, Any]:
            if channel == room.channel:
                raise failure
            message: dict[str, Any] = await receive_from_layer(channel)
            return message

        monkeypatch.setattr(layer, "receive", unreachable)
        # The room's receive under way returns this; its next one finds the layer down.
        await layer.send(room.channel, {"type": "nothing"})
        for comm in comms:
            assert await comm.receive_output(timeout=2) == {
                "type": "websocket.close",
                "code": CLOSE_TRY_AGAIN_LATER,
            }
        assert str(team.workspace.pk) not in hub._rooms
        # Its channel, which nothing reads any more, is out of the workspace's group (on Redis
        # every announcement would still be pushed to it until the membership expired).
        assert room.channel not in layer.groups.get(workspace_group(team.workspace.pk), {})
        for comm in comms:
            await comm.disconnect()
        # A socket opened afterwards hears the workspace through a new room.
        comm = connect(team.workspace.pk, token=token)
        await opened(comm)
        monkeypatch.undo()
        [pk] = await database_sync_to_async(emit)(team.workspace.pk, 1)
        assert (await receive(comm))["id"] == pk
        await comm.disconnect()

    async_to_sync(body)()


def test_a_socket_whose_connection_is_gone_is_sent_nothing_more_and_holds_up_no_other(
    team: Any,
) -> None:
    """Its send fails (the client went away before its disconnect was read): the socket is
    sent nothing more, the failure is its own (no task left failing), the others go on."""
    token = token_for(team.viewer)

    async def body() -> None:
        gone, stays, follower = await two_sockets(team.workspace.pk, token)
        # Both past their own catch-up once they have had an event.
        [pk] = await database_sync_to_async(emit)(team.workspace.pk, 1)
        assert [(await receive(c))["id"] for c in (gone, stays)] == [pk, pk]
        tried: list[str] = []

        async def disconnected(*args: Any, **kwargs: Any) -> None:
            tried.append(kwargs.get("text_data", ""))
            raise OSError("the client went away")

        follower.send = disconnected
        first, second = [
            (await database_sync_to_async(emit)(team.workspace.pk, 1))[0] for _ in range(2)
        ]
        assert [(await receive(stays))["id"] for _ in range(2)] == [first, second]
        assert len(tried) == 1 and follower.closing
        await stays.disconnect()
        await gone.disconnect()

    async_to_sync(body)()


def test_a_socket_whose_room_fails_while_it_opens_is_accepted_then_told_to_try_again(
    team: Any, monkeypatch: Any
) -> None:
    """Closed before its handshake was accepted, the browser would see an HTTP 403 and stop
    for good; it is accepted, then closed with 1013, and its page reconnects."""
    token = token_for(team.viewer)
    join = hub.Room.join

    async def join_then_fail(room: hub.Room, socket: hub.Follower) -> None:
        await join(room, socket)
        await socket.layer_lost(redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379."))

    async def body() -> None:
        monkeypatch.setattr(hub.Room, "join", join_then_fail)
        comm = connect(team.workspace.pk, token=token)
        connected, _ = await comm.connect(timeout=5)
        assert connected
        assert (await receive(comm))["type"] == "hello"
        assert await comm.receive_output(timeout=2) == {
            "type": "websocket.close",
            "code": CLOSE_TRY_AGAIN_LATER,
        }
        await comm.disconnect()

    async_to_sync(body)()


@pytest.mark.parametrize("failures", [1, 2], ids=["fails once", "fails twice"])
def test_an_event_whose_read_fails_for_a_moment_is_read_again_and_sent(
    team: Any, monkeypatch: Any, failures: int
) -> None:
    """A database hiccup ("database is locked") on the room's read: it asks again shortly and
    the socket is sent the event, open as before."""
    token = token_for(team.viewer)
    read = hub._read
    failed: list[int] = []

    def flaky(**kwargs: Any) -> Any:
        if len(failed) < failures:
            failed.append(1)
            raise OperationalError("database is locked")
        return read(**kwargs)

    async def body() -> None:
        comm = connect(team.workspace.pk, token=token)
        await opened(comm)
        [first] = await database_sync_to_async(emit)(team.workspace.pk, 1)
        assert (await receive(comm))["id"] == first
        monkeypatch.setattr(hub, "_read", flaky)
        [pk] = await database_sync_to_async(emit)(team.workspace.pk, 1)
        assert (await receive(comm))["id"] == pk
        assert len(failed) == failures
        await next_is_a_later_event(comm, team.workspace.pk)
        await comm.disconnect()

    async_to_sync(body)()


def test_sockets_left_without_an_event_whose_read_keeps_failing_close_to_catch_up(
    team: Any, monkeypatch: Any
) -> None:
    """The read still fails when asked again: the sockets that have not had the event close
    with 1013 (not left open and silent); a page reconnecting with after= is sent it, and
    the workspace's later events."""
    token = token_for(team.viewer)
    read = hub._read
    reads: list[int] = []

    def broken(**kwargs: Any) -> Any:
        reads.append(1)
        raise OperationalError("database is locked")

    async def body() -> None:
        comms = [connect(team.workspace.pk, token=token) for _ in range(2)]
        for comm in comms:
            await opened(comm)
        [first] = await database_sync_to_async(emit)(team.workspace.pk, 1)
        assert [(await receive(c))["id"] for c in comms] == [first, first]
        monkeypatch.setattr(hub, "_read", broken)
        [pk] = await database_sync_to_async(emit)(team.workspace.pk, 1)
        for comm in comms:
            assert await comm.receive_output(timeout=3) == {
                "type": "websocket.close",
                "code": CLOSE_TRY_AGAIN_LATER,
            }
        assert len(reads) == len(hub.READ_RETRY_WAITS) + 1
        for comm in comms:
            await comm.disconnect()
        monkeypatch.setattr(hub, "_read", read)
        again = connect(team.workspace.pk, token=token, after=first)
        await opened(again)
        assert (await receive(again))["id"] == pk
        await next_is_a_later_event(again, team.workspace.pk)
        await again.disconnect()

    async_to_sync(body)()


@pytest.mark.parametrize(
    "where", ["starting point", "first catch-up"], ids=["before accepting", "after accepting"]
)
def test_sockets_that_fail_to_open_leave_their_room_and_groups(
    team: Any, monkeypatch: Any, where: str
) -> None:
    """A database error after the socket joined its room (where it continues from, or its
    first catch-up): Channels never calls its disconnect, so the socket leaves the room and
    the groups it joined itself; the room, empty, is gone and its channel out of the
    workspace's group. The handshake fails as it did."""
    token = token_for(team.viewer)

    def broken(**kwargs: Any) -> Any:
        raise OperationalError("database is locked")

    async def broken_catch_up(**kwargs: Any) -> Any:
        raise OperationalError("database is locked")

    async def body() -> None:
        layer = get_channel_layer()
        relayed = relay._state.sockets
        if where == "starting point":
            monkeypatch.setattr(consumers, "_starting_point", broken)
        else:
            monkeypatch.setattr(hub, "events_for", broken_catch_up)
        for _ in range(3):
            comm = connect(team.workspace.pk, token=token)
            await comm.send_input({"type": "websocket.connect"})
            with pytest.raises(OperationalError):
                await asyncio.wait_for(comm.future, timeout=5)
        assert str(team.workspace.pk) not in hub._rooms
        assert not layer.groups.get(workspace_group(team.workspace.pk))
        assert not layer.groups.get(user_group(team.viewer.pk))
        assert relay._state.sockets == relayed
        # The next socket opens a room of its own and hears the workspace.
        monkeypatch.undo()
        comm = connect(team.workspace.pk, token=token)
        await opened(comm)
        [pk] = await database_sync_to_async(emit)(team.workspace.pk, 1)
        assert (await receive(comm))["id"] == pk
        await comm.disconnect()

    async_to_sync(body)()


def test_a_room_whose_layer_is_down_still_closes_its_sockets_when_its_group_cannot_be_left(
    team: Any, monkeypatch: Any
) -> None:
    """Leaving the group is best effort: the layer that failed the room's receive fails that
    too (Redis down); the sockets are closed all the same and nothing is left failing."""
    token = token_for(team.viewer)
    down = redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379.")

    async def body() -> None:
        layer = get_channel_layer()
        comm = connect(team.workspace.pk, token=token)
        await opened(comm)
        room = room_of(team.workspace.pk)
        receive_from_layer = layer.receive
        tried: list[str] = []

        async def unreachable(channel: str) -> dict[str, Any]:
            if channel == room.channel:
                raise down
            message: dict[str, Any] = await receive_from_layer(channel)
            return message

        async def discard_fails(group: str, channel: str) -> None:
            tried.append(channel)
            raise down

        monkeypatch.setattr(layer, "receive", unreachable)
        monkeypatch.setattr(layer, "group_discard", discard_fails)
        await layer.send(room.channel, {"type": "nothing"})
        assert await comm.receive_output(timeout=2) == {
            "type": "websocket.close",
            "code": CLOSE_TRY_AGAIN_LATER,
        }
        assert room.listening is not None
        await asyncio.wait_for(room.listening, timeout=2)  # ended, without raising
        assert tried == [room.channel]
        assert str(team.workspace.pk) not in hub._rooms
        await comm.disconnect()

    async_to_sync(body)()


def test_on_redis_a_room_whose_receive_fails_leaves_the_workspaces_group(
    team: Any, monkeypatch: Any, settings: Any, redis_url: str
) -> None:
    """On Redis the group is a set kept in Redis: a stopped room's channel taken out of it, so
    announcements are no longer pushed to a channel nobody reads."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": f"test-{uuid.uuid4().hex}"},
        }
    }
    token = token_for(team.viewer)
    client = redis.Redis.from_url(redis_url)

    async def body() -> None:
        layer = get_channel_layer()
        key = layer._group_key(workspace_group(team.workspace.pk))
        comm = connect(team.workspace.pk, token=token)
        await opened(comm)
        room = room_of(team.workspace.pk)
        assert room.channel is not None
        assert client.zscore(key, room.channel) is not None
        receive_from_layer = layer.receive

        async def failing(channel: str) -> dict[str, Any]:
            if channel == room.channel:
                raise RuntimeError("a bug")
            message: dict[str, Any] = await receive_from_layer(channel)
            return message

        monkeypatch.setattr(layer, "receive", failing)
        await layer.send(room.channel, {"type": "nothing"})
        assert await comm.receive_output(timeout=5) == {
            "type": "websocket.close",
            "code": CLOSE_TRY_AGAIN_LATER,
        }
        assert room.listening is not None
        await asyncio.wait_for(room.listening, timeout=5)
        assert client.zscore(key, room.channel) is None
        await comm.disconnect()
        await layer.flush()

    try:
        async_to_sync(body)()
    finally:
        client.close()


def test_a_socket_too_far_behind_whose_own_catch_up_fails_closes_to_catch_up(
    team: Any, monkeypatch: Any
) -> None:
    """More missed than one read replays: the room has the socket ask alone; if that read
    fails the socket closes with 1013 (its page reconnects), not left open and silent."""
    token = token_for(team.viewer)

    async def broken(**kwargs: Any) -> Any:
        raise OperationalError("database is locked")

    async def body() -> None:
        comm = connect(team.workspace.pk, token=token)
        await opened(comm)
        [first] = await database_sync_to_async(emit)(team.workspace.pk, 1)
        assert (await receive(comm))["id"] == first
        monkeypatch.setattr(selectors, "CATCH_UP_LIMIT", 1)
        monkeypatch.setattr(hub, "events_for", broken)
        await database_sync_to_async(emit)(team.workspace.pk, 3)
        assert await comm.receive_output(timeout=3) == {
            "type": "websocket.close",
            "code": CLOSE_TRY_AGAIN_LATER,
        }
        await comm.disconnect()

    async_to_sync(body)()
