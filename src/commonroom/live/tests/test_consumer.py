"""The workspace socket, driven by Channels' test communicator against the real ASGI application:
connect rules, delivery after commit, catch-up after a reconnect, and losing access mid-stream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client

from commonroom.accounts.models import TokenScope
from commonroom.accounts.services import token_create, token_revoke
from commonroom.accounts.tests.factories import PASSWORD
from commonroom.asgi import application
from commonroom.live import relay, selectors
from commonroom.live.events import FolderKind
from commonroom.live.models import Event
from commonroom.live.services import nudge_user, publish
from commonroom.live.tests.factories import KIND, LATER, an_event
from commonroom.workspaces.models import Membership
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.services import membership_remove

pytestmark = pytest.mark.django_db(transaction=True)

HOST = "testserver"


def run(test: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(test)()


def token_for(user: Any) -> str:
    return token_create(actor=user, name="socket", scope=TokenScope.READ).secret


def connect(
    workspace_id: Any,
    *,
    token: str | None = None,
    cookie: str | None = None,
    origin: str | None = f"http://{HOST}",
    after: int | None = None,
) -> WebsocketCommunicator:
    headers = [(b"host", HOST.encode())]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    if origin:
        headers.append((b"origin", origin.encode()))
    query = "" if after is None else f"?after={after}"
    return WebsocketCommunicator(application, f"/ws/w/{workspace_id}/{query}", headers=headers)


def emit(workspace_id: Any, n: int = 1, kind: FolderKind = KIND) -> list[int]:
    with transaction.atomic():
        return [publish(workspace_id=workspace_id, event=an_event(i, kind)).pk for i in range(n)]


async def receive(comm: WebsocketCommunicator, timeout: float = 2) -> dict[str, Any]:
    message: dict[str, Any] = await comm.receive_json_from(timeout=timeout)
    return message


async def opened(comm: WebsocketCommunicator) -> int:
    connected, _ = await comm.connect(timeout=5)
    assert connected
    hello = await receive(comm)
    assert hello["type"] == "hello"
    return int(hello["id"])


async def next_is_a_later_event(comm: WebsocketCommunicator, workspace_id: Any) -> None:
    """Nothing else arrived: an event published now is the next message the socket gets.
    (Events reach a socket in the order they commit, so anything that should not have come
    would have come before it; no waiting for a silence that proves nothing.)"""
    [later] = await database_sync_to_async(emit)(workspace_id, 1, LATER)
    message = await receive(comm)
    assert (message["type"], message.get("kind"), message.get("id")) == (
        "event",
        LATER,
        later,
    ), message


def test_a_member_receives_each_event_after_commit_with_increasing_ids(team: Any) -> None:
    token = token_for(team.viewer)

    async def body() -> None:
        comm = connect(team.workspace.pk, token=token)
        await opened(comm)
        ids = await database_sync_to_async(emit)(team.workspace.pk, 3)
        got = [await receive(comm) for _ in ids]
        assert [m["id"] for m in got] == ids == sorted(ids)
        assert [m["data"]["name"] for m in got] == ["Folder 0", "Folder 1", "Folder 2"]
        assert all(m["type"] == "event" and m["kind"] == KIND for m in got)
        await next_is_a_later_event(comm, team.workspace.pk)
        await comm.disconnect()

    run(body)


def test_nothing_is_sent_for_a_change_that_rolls_back(team: Any) -> None:
    token = token_for(team.editor)

    def rolled_back() -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            publish(workspace_id=team.workspace.pk, event=an_event())
            raise RuntimeError("the change failed")

    async def body() -> None:
        comm = connect(team.workspace.pk, token=token)
        await opened(comm)
        await database_sync_to_async(rolled_back)()
        await next_is_a_later_event(comm, team.workspace.pk)
        await comm.disconnect()

    run(body)
    assert list(Event.objects.values_list("kind", flat=True)) == [LATER]


@pytest.mark.parametrize("who", ["non-member", "anonymous"])
def test_people_outside_the_workspace_are_refused_at_the_handshake(team: Any, who: str) -> None:
    user = team.by_role[who]
    token = token_for(user) if user else None

    async def body() -> None:
        comm = connect(team.workspace.pk, token=token)
        connected, code = await comm.connect(timeout=5)
        assert not connected
        assert code == 4403

    run(body)


def test_an_unknown_workspace_or_a_bad_token_is_refused(team: Any) -> None:
    token = token_for(team.manager)

    async def body() -> None:
        for comm in (
            connect("00000000-0000-0000-0000-000000000000", token=token),
            connect(team.workspace.pk, token="crt_forged_token"),
        ):
            connected, _ = await comm.connect(timeout=5)
            assert not connected

    run(body)


def test_a_reconnecting_screen_gets_exactly_what_it_missed_in_order(team: Any) -> None:
    token = token_for(team.commenter)
    seen = emit(team.workspace.pk, 2)
    missed = emit(team.workspace.pk, 3)

    async def body() -> None:
        comm = connect(team.workspace.pk, token=token, after=seen[-1])
        assert await opened(comm) == seen[-1]
        got = [await receive(comm) for _ in missed]
        assert [m["id"] for m in got] == missed
        # A live event after the catch-up comes once, as the next id: nothing missed comes
        # again before it, and it does not come twice (the next is a later one).
        later = await database_sync_to_async(emit)(team.workspace.pk, 1)
        assert (await receive(comm))["id"] == later[0]
        await next_is_a_later_event(comm, team.workspace.pk)
        await comm.disconnect()

    run(body)


def test_other_workspaces_events_never_reach_the_socket(team: Any) -> None:
    from commonroom.workspaces.tests.factories import make_workspace

    other = make_workspace(manager=team.manager, name="Another")
    token = token_for(team.manager)

    async def body() -> None:
        comm = connect(team.workspace.pk, token=token, after=0)
        await opened(comm)
        await database_sync_to_async(emit)(other.pk, 2)
        await next_is_a_later_event(comm, team.workspace.pk)
        await comm.disconnect()

    run(body)


def test_too_much_missed_asks_the_screen_to_reload(team: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(selectors, "CATCH_UP_LIMIT", 3)
    token = token_for(team.viewer)
    ids = emit(team.workspace.pk, 5)

    async def body() -> None:
        comm = connect(team.workspace.pk, token=token, after=0)
        await opened(comm)
        reset = await receive(comm)
        assert reset == {"type": "reset", "id": ids[-1]}
        await comm.disconnect()

    run(body)


def test_a_removed_member_is_closed_at_once_and_sent_nothing_more(team: Any) -> None:
    token = token_for(team.editor)

    def remove() -> None:
        access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
        membership = Membership.objects.get(workspace=team.workspace, user=team.editor)
        membership_remove(actor=team.manager, access=access, membership_id=membership.pk)
        emit(team.workspace.pk, 1)

    async def body() -> None:
        comm = connect(team.workspace.pk, token=token)
        await opened(comm)
        await database_sync_to_async(remove)()
        # The removal's own audit-free revocation closes the socket; the event after it is
        # never sent.
        out = await comm.receive_output(timeout=2)
        assert out == {"type": "websocket.close", "code": 4403}

    run(body)


def test_each_event_is_checked_against_membership_even_without_a_revocation(team: Any) -> None:
    """Membership gone by any route (here, straight from the database): the next event is not
    sent, the socket closes."""
    token = token_for(team.viewer)

    def vanish_then_emit() -> None:
        Membership.objects.filter(workspace=team.workspace, user=team.viewer).delete()
        emit(team.workspace.pk, 1)

    async def body() -> None:
        comm = connect(team.workspace.pk, token=token)
        await opened(comm)
        await database_sync_to_async(vanish_then_emit)()
        out = await comm.receive_output(timeout=2)
        assert out == {"type": "websocket.close", "code": 4403}

    run(body)


def test_a_nudge_reaches_only_its_person(team: Any) -> None:
    tokens = {"editor": token_for(team.editor), "viewer": token_for(team.viewer)}

    def nudge() -> None:
        with transaction.atomic():
            nudge_user(user_id=team.editor.pk, kind="notifications", data={"unread": 3})

    async def body() -> None:
        editor = connect(team.workspace.pk, token=tokens["editor"])
        viewer = connect(team.workspace.pk, token=tokens["viewer"])
        await opened(editor)
        await opened(viewer)
        await database_sync_to_async(nudge)()
        assert await receive(editor) == {
            "type": "nudge",
            "kind": "notifications",
            "data": {"unread": 3},
        }
        # The viewer's socket got nothing of it: the next thing it gets is a later event.
        await next_is_a_later_event(viewer, team.workspace.pk)
        await editor.disconnect()
        await viewer.disconnect()

    run(body)


def test_events_written_by_another_process_arrive_through_the_relay(
    team: Any, monkeypatch: Any
) -> None:
    """With the in-memory layer, an event another process wrote (a task, a command) is never
    announced here; the relay finds it in the log (test_relay_processes.py: from real processes,
    just after a socket opens)."""
    monkeypatch.setattr(relay, "INTERVAL", 0.05)
    token = token_for(team.viewer)

    def foreign_event() -> int:
        event = Event.objects.create(
            workspace=team.workspace, kind="preview.ready", data={"x": 1}, origin="elsewhere"
        )
        return event.pk

    async def body() -> None:
        assert relay.needed()
        comm = connect(team.workspace.pk, token=token)
        await opened(comm)
        event_id = await database_sync_to_async(foreign_event)()
        got = await receive(comm, timeout=3)
        assert (got["id"], got["kind"]) == (event_id, "preview.ready")
        await comm.disconnect()

    run(body)


def test_an_event_of_another_process_committed_before_the_relays_first_read_arrives(
    team: Any, monkeypatch: Any
) -> None:
    """Twice, with the relay idle (no socket open) each time: a socket opens and another
    process's event is committed at once, well before the relay's first read; the relay reads
    from where the socket's catch-up left off, not from the log's end at that read."""
    monkeypatch.setattr(relay, "INTERVAL", 0.3)
    token = token_for(team.viewer)

    def foreign_event(n: int) -> int:
        return Event.objects.create(
            workspace=team.workspace, kind="test.event", data={"n": n}, origin="elsewhere"
        ).pk

    async def body() -> None:
        for n in range(2):
            comm = connect(team.workspace.pk, token=token)
            await opened(comm)
            # Past its catch-up read (which follows the hello), before the relay's first read.
            assert await comm.receive_nothing(timeout=0.1)
            event_id = await database_sync_to_async(foreign_event)(n)
            got = await receive(comm, timeout=3)
            assert (got["id"], got["data"]) == (event_id, {"n": n})
            # Not sent twice (once by the catch-up, once by the relay): the next is a later one.
            later = await database_sync_to_async(foreign_event)(n + 10)
            got = await receive(comm, timeout=3)
            assert (got["id"], got["data"]) == (later, {"n": n + 10})
            await comm.disconnect()
            await asyncio.sleep(relay.INTERVAL + 0.1)  # the relay goes idle

    run(body)


def _session_cookie(user: Any) -> str:
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return f"sessionid={client.cookies['sessionid'].value}"


def test_a_browser_session_from_this_site_may_connect(team: Any) -> None:
    cookie = _session_cookie(team.viewer)

    async def body() -> None:
        comm = connect(team.workspace.pk, cookie=cookie)
        await opened(comm)
        await comm.disconnect()

    run(body)


@pytest.mark.parametrize("origin", [None, "https://evil.example", "http://testserver.evil"])
def test_a_session_cookie_from_another_site_is_refused(team: Any, origin: str | None) -> None:
    """Cross-site websocket hijacking: another site's page cannot use the visitor's cookie."""
    cookie = _session_cookie(team.viewer)

    async def body() -> None:
        comm = connect(team.workspace.pk, cookie=cookie, origin=origin)
        connected, code = await comm.connect(timeout=5)
        assert (connected, code) == (False, 4403)

    run(body)


def test_a_session_that_still_needs_a_second_factor_is_refused(team: Any, settings: Any) -> None:
    settings.COMMONROOM_MFA_REQUIRED = "all"
    cookie = _session_cookie(team.viewer)

    async def body() -> None:
        comm = connect(team.workspace.pk, cookie=cookie)
        connected, _ = await comm.connect(timeout=5)
        assert not connected

    run(body)


def test_the_layer_is_in_memory_by_default() -> None:
    assert type(get_channel_layer()).__name__ == "InMemoryChannelLayer"


def test_a_workspace_page_tells_its_socket_where_to_continue_from(team: Any, client: Any) -> None:
    ids = emit(team.workspace.pk, 2)
    client.force_login(team.viewer)
    page = client.get(f"/w/{team.workspace.pk}/").content.decode()
    assert (
        f'<meta name="cr-live" content="{team.workspace.pk}" data-after="{ids[-1]}" '
        f'data-user="{team.viewer.pk}">' in page
    )
    client.force_login(team.outsider)
    refused = client.get(f"/w/{team.workspace.pk}/")
    assert refused.status_code == 404
    # Not even the workspace's event count: the page follows the person's own nudges only.
    assert (
        f'<meta name="cr-live" content="" data-after="0" data-user="{team.outsider.pk}">'
        in refused.content.decode()
    )
    assert str(team.workspace.pk) not in refused.content.decode()


def test_a_personal_socket_gets_its_persons_nudges_and_closes_when_its_token_is_revoked(
    team: Any,
) -> None:
    issued = token_create(actor=team.viewer, name="socket", scope=TokenScope.READ)
    token = issued.secret

    def nudge() -> None:
        with transaction.atomic():
            nudge_user(user_id=team.viewer.pk, kind="notifications", data={"unread": 1})

    async def body() -> None:
        anonymous = WebsocketCommunicator(application, "/ws/me/", headers=[(b"host", b"x")])
        connected, _ = await anonymous.connect(timeout=5)
        assert not connected
        comm = WebsocketCommunicator(
            application,
            "/ws/me/",
            headers=[(b"host", HOST.encode()), (b"authorization", f"Bearer {token}".encode())],
        )
        await opened(comm)
        # Workspace events do not reach it.
        await database_sync_to_async(emit)(team.workspace.pk, 1)
        await database_sync_to_async(nudge)()
        assert (await receive(comm))["type"] == "nudge"
        await database_sync_to_async(token_revoke)(actor=team.viewer, token_id=issued.token.pk)
        out = await comm.receive_output(timeout=2)
        assert (out["type"], out["code"]) == ("websocket.close", 4401)

    run(body)


def test_a_new_version_is_announced_to_the_workspace(team: Any, make_upload: Any) -> None:
    from commonroom.documents.selectors import document_access
    from commonroom.documents.services import version_upload
    from commonroom.workspaces.tests.factories import upload_document

    doc = upload_document(team.workspace, team.manager, name="minutes.txt")
    version_upload(
        actor=team.editor,
        doc_access=document_access(
            user=team.editor, workspace_id=team.workspace.pk, document_id=doc.pk
        ),
        uploaded=make_upload("minutes.txt", b"amended"),
        based_on_number=1,
    )
    event = Event.objects.filter(kind="version.created").order_by("id").last()
    assert event is not None
    # Facts, not a sentence: the page words its own notice from them.
    assert event.data == {
        "document": str(doc.pk),
        "folder": None,
        "name": "minutes.txt",
        "number": 2,
        "restored_from": None,
        "author_id": team.editor.pk,
    }


def test_old_events_are_pruned_and_a_screen_that_old_is_told_to_reload(team: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from commonroom.live.tasks import prune_events

    token = token_for(team.viewer)
    first, second, third = emit(team.workspace.pk, 3)
    Event.objects.update(created_at=timezone.now() - timedelta(days=31))
    prune_events.enqueue()  # tasks run at once in tests
    # Old ones go; the newest stays, marking where the log begins.
    assert list(Event.objects.values_list("pk", flat=True)) == [third]

    async def body() -> None:
        # Last saw the first: the second was pruned unseen, so replaying would skip it.
        stale = connect(team.workspace.pk, token=token, after=first)
        assert await opened(stale) == third
        assert await receive(stale) == {"type": "reset", "id": third}
        await stale.disconnect()
        # Last saw the second: nothing was lost; the third is replayed.
        fresh = connect(team.workspace.pk, token=token, after=second)
        await opened(fresh)
        assert (await receive(fresh))["id"] == third
        await fresh.disconnect()
        # A forged id from the future is taken as "now", not as a reason to wait.
        future = connect(team.workspace.pk, token=token, after=third + 1000)
        assert await opened(future) == third
        later = await database_sync_to_async(emit)(team.workspace.pk, 1)
        assert (await receive(future))["id"] == later[0]
        await future.disconnect()

    run(body)


def test_a_role_change_is_told_to_the_persons_open_pages(team: Any) -> None:
    from commonroom.workspaces.services import membership_change_role

    token = token_for(team.commenter)

    def demote() -> None:
        access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
        membership = Membership.objects.get(workspace=team.workspace, user=team.commenter)
        membership_change_role(
            actor=team.manager, access=access, membership_id=membership.pk, role="viewer"
        )

    async def body() -> None:
        comm = connect(team.workspace.pk, token=token)
        await opened(comm)
        await database_sync_to_async(demote)()
        assert await receive(comm) == {
            "type": "nudge",
            "kind": "access",
            "data": {"workspace": str(team.workspace.pk), "role": "viewer"},
        }
        await comm.disconnect()

    run(body)
