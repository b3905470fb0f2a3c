"""What keeps one announcement to many sockets cheap, and still exact: the hub's one read
answers each socket as it would have been answered alone, each event's message is written once,
no socket costs a trip to the database thread of its own, and the in-memory layer delivers to
every socket of a group."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull
from django.db import transaction

from commonroom.accounts.models import TokenScope
from commonroom.accounts.selectors import Credential
from commonroom.accounts.services import token_create, token_revoke
from commonroom.live import consumers, hub, layers, selectors
from commonroom.live.models import Event
from commonroom.live.services import publish
from commonroom.live.tests.factories import an_event
from commonroom.live.tests.test_consumer import connect, opened, receive, token_for
from commonroom.workspaces.models import Membership

pytestmark = pytest.mark.django_db(transaction=True)


def emit(workspace_id: Any, n: int) -> list[int]:
    with transaction.atomic():
        return [publish(workspace_id=workspace_id, event=an_event(i)).pk for i in range(n)]


def token_credential(user: Any) -> Credential:
    token = token_create(actor=user, name="socket", scope=TokenScope.READ)
    return Credential(kind="token", key=str(token.token.pk), user_id=user.pk)


def test_sockets_asking_together_each_get_what_they_would_have_got_alone(team: Any) -> None:
    """Sockets at different places in the log, a person removed meanwhile and a revoked token,
    asked in one read: each answer is the one asked alone would give."""
    ids = emit(team.workspace.pk, 4)
    viewer, editor, manager = (
        token_credential(team.viewer),
        token_credential(team.editor),
        token_credential(team.manager),
    )
    revoked = token_credential(team.manager)
    token_revoke(actor=team.manager, token_id=int(revoked.key))
    Membership.objects.filter(workspace=team.workspace, user=team.editor).delete()
    questions = [
        (team.viewer.pk, viewer, ids[0]),
        (team.viewer.pk, viewer, ids[0]),  # a second socket at the same place
        (team.manager.pk, manager, ids[2]),
        (team.manager.pk, manager, ids[-1]),
        (team.editor.pk, editor, ids[0]),
        (team.manager.pk, revoked, ids[0]),
    ]

    async def ask() -> list[selectors.Batch]:
        return list(
            await asyncio.gather(
                *(
                    hub.events_for(
                        workspace_id=str(team.workspace.pk),
                        user_id=user_id,
                        credential=credential,
                        after=after,
                    )
                    for user_id, credential, after in questions
                )
            )
        )

    answers = async_to_sync(ask)()
    got = [([e.pk for e in b.events], b.allowed, b.signed_in, b.last_id) for b in answers]
    assert got == [
        (ids[1:], True, True, ids[-1]),
        (ids[1:], True, True, ids[-1]),
        (ids[3:], True, True, ids[-1]),
        ([], True, True, ids[-1]),
        ([], False, True, ids[0]),
        ([], False, False, ids[0]),
    ]
    for (user_id, _, after), answer in zip(questions[:4], answers[:4], strict=True):
        alone = selectors.events_after(user_id=user_id, workspace_id=team.workspace.pk, after=after)
        assert [e.pk for e in answer.events] == [e.pk for e in alone.events]
    # The two sockets at the same place were handed the same events: one message each event.
    assert answers[0].events[0] is answers[1].events[0]


def test_an_events_message_is_written_once_and_says_what_the_event_says(team: Any) -> None:
    [pk] = emit(team.workspace.pk, 1)
    event = Event.objects.get(pk=pk)
    frame = consumers.event_frame(event)
    assert json.loads(frame) == {
        "type": "event",
        "id": pk,
        "kind": event.kind,
        "data": event.data,
    }
    assert consumers.event_frame(event) is frame


def test_many_sockets_get_an_event_without_a_database_trip_each(
    team: Any, monkeypatch: Any
) -> None:
    """Channels' dispatch closes stale connections on the database thread before every message:
    one trip a socket. Here only the hub's reads go there (each closing stale connections
    before and after), however many sockets are open."""
    import channels.db

    sockets = 8
    token = token_for(team.viewer)
    closes: list[int] = []
    reads: list[int] = []
    close, read = channels.db.close_old_connections, hub._read

    def counted_close() -> None:
        closes.append(1)
        close()

    def counted_read(**kwargs: Any) -> Any:
        reads.append(1)
        return read(**kwargs)

    async def body() -> None:
        comms = [connect(team.workspace.pk, token=token) for _ in range(sockets)]
        for comm in comms:
            await opened(comm)
        monkeypatch.setattr(channels.db, "close_old_connections", counted_close)
        monkeypatch.setattr(hub, "_read", counted_read)
        [pk] = await database_sync_to_async(emit)(team.workspace.pk, 1)  # two closes of its own
        got = [await receive(comm) for comm in comms]
        assert [m["id"] for m in got] == [pk] * sockets
        delivered.append(len(closes))
        for comm in comms:
            await comm.disconnect()  # (Channels closes stale connections once at each close)

    delivered: list[int] = []
    async_to_sync(body)()
    # At most publishing's two and the reads' two each; one a socket would be eight more.
    assert 0 < len(reads) < sockets / 2
    assert 2 <= delivered[0] <= 2 + 2 * len(reads)


def test_the_in_memory_layer_sends_a_group_message_to_every_member_once() -> None:
    async def body() -> None:
        layer = layers.InMemoryChannelLayer(capacity=2)
        members = [await layer.new_channel() for _ in range(3)]
        outsider = await layer.new_channel()
        for channel in members:
            await layer.group_add("live.w.test", channel)
        await layer.send(members[0], {"type": "filler"})
        await layer.send(members[0], {"type": "filler"})  # members[0]'s queue is now full
        with pytest.raises(ChannelFull):
            await layer.send(members[0], {"type": "filler"})
        message = {"type": "live.event", "id": 7}
        await layer.group_send("live.w.test", message)
        message["id"] = 8  # each receives its own copy, as sent
        for channel in members[1:]:
            assert await layer.receive(channel) == {"type": "live.event", "id": 7}
        # The full one missed it (as with Channels' layer); the others were not held up.
        assert [await layer.receive(members[0]) for _ in range(2)] == [{"type": "filler"}] * 2
        assert outsider not in layer.channels

    async_to_sync(body)()


def test_the_in_memory_layer_still_drops_what_expired(monkeypatch: Any) -> None:
    """Expired messages (and the channels that held them) are dropped as before, at the first
    clean-up after ``CLEAN_EVERY`` seconds, not at every receive."""
    now = [1000.0]
    monkeypatch.setattr(layers.time, "monotonic", lambda: now[0])

    async def body() -> None:
        layer = layers.InMemoryChannelLayer(expiry=60)
        stale, fresh = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("live.w.test", stale)
        await layer.group_add("live.w.test", fresh)
        await layer.send(stale, {"type": "old"})
        layer._clean_expired()  # the first clean-up: nothing has expired yet
        # The message expires (Channels' layer stamps it with the wall clock).
        queue = layer.channels[stale]
        queue._queue[0] = (0.0, queue._queue[0][1])
        await layer.send(fresh, {"type": "new"})
        assert await layer.receive(fresh) == {"type": "new"}  # within CLEAN_EVERY: kept
        assert stale in layer.channels
        now[0] += layers.CLEAN_EVERY
        await layer.send(fresh, {"type": "new"})
        assert await layer.receive(fresh) == {"type": "new"}
        assert stale not in layer.channels
        assert stale not in layer.groups["live.w.test"]

    async_to_sync(body)()
