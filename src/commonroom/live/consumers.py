"""The websocket a page opens to follow its workspace live: ``/ws/w/<workspace id>/?after=<id>``
(and ``/ws/me/`` for pages outside a workspace: the person's own nudges only).

What goes down the socket, as JSON:
- ``{"type": "event", "id": 42, "kind": "comment.created", "data": {...}}`` for each workspace
  event, in id order, each exactly once; ``after`` (the last id the screen saw) replays what it
  missed while disconnected;
- ``{"type": "reset", "id": N}`` when it missed too much to replay: reload, continue from N;
- ``{"type": "nudge", "kind": ..., "data": ...}`` for the person alone (unread counts);
- ``{"type": "hello", "id": N}`` once connected: the id it continues from.

Every event is read back from the event log together with the reader's membership and whether
the socket's credential still signs them in (for all the process's sockets on the workspace at
once: hub.py), so a person removed from the workspace, or whose token was revoked or session
signed out, is sent nothing more. Their sockets are also closed at once: 4403 by a removal,
4401 (``CLOSE_SIGNED_OUT``, with a reason) when the token or session the socket was opened
with stops signing in (each socket joins its credential's group, auth.py). A socket that may
not follow the workspace is refused at the handshake. While the channel layer (Redis) is
unreachable, sockets are closed with 1013 "try again later" (outage.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from commonroom.accounts.selectors import Credential
from commonroom.core.metrics import LIVE_EVENTS_SENT, LIVE_SOCKETS
from commonroom.live import hub, relay
from commonroom.live.models import Event
from commonroom.live.outage import (
    CLOSE_TRY_AGAIN_LATER,
    ClosesOnLayerOutage,
    layer_unreachable,
    outage_log,
)
from commonroom.live.selectors import Batch, may_follow, resume_from, signed_in
from commonroom.live.services import (
    CLOSE_REASONS,
    CLOSE_SIGNED_OUT,
    socket_credential_group,
    sockets_live_on,
    user_group,
)

CLOSE_FORBIDDEN = 4403

log = logging.getLogger(__name__)


def _after(scope: dict[str, Any]) -> int | None:
    query = scope.get("query_string", b"").decode("latin-1")
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "after" and value.isdigit() and len(value) < 19:
            return int(value)
    return None


def _starting_point(*, workspace_id: str, after: int | None) -> tuple[int, bool, int]:
    """Where a socket continues from and whether it must reload (``resume_from``), and the
    relay's position in the log, read before them."""
    position = relay.position()
    last_id, reset = resume_from(workspace_id=workspace_id, after=after)
    return last_id, reset, position


def event_frame(event: Event) -> str:
    """The event's message as sent: ``{"type": "event", "id", "kind", "data"}`` as JSON text.
    Written once for each event read: the hub hands every socket that asked together the same
    event objects, so 1,000 sockets send one text, not 1,000 copies of it."""
    frame = event.__dict__.get(_FRAME)
    if frame is None:
        frame = event.__dict__[_FRAME] = json.dumps(
            {"type": "event", "id": event.pk, "kind": event.kind, "data": event.data}
        )
    return str(frame)


_FRAME = "_live_frame"


def _credential(scope: dict[str, Any]) -> Credential | None:
    credential = scope.get("credential")
    user = scope.get("user")
    if not isinstance(credential, Credential) or user is None or credential.user_id != user.pk:
        return None
    return credential


class DispatchesWithoutThreadHop(AsyncJsonWebsocketConsumer):
    """Each message goes straight to its handler. Channels' own dispatch first closes the
    database thread's stale connections, a hop to that one thread and back for every message
    of every socket: a comment announced to 1,000 sockets queued 1,000 hops behind one another.
    These consumers reach the database only through ``database_sync_to_async``, which closes
    stale connections in that thread itself, before and after each call, so the hop did
    nothing they need."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # Counted in the metrics' open sockets (core.metrics) from its accept to its end, however
    # it ends: a socket's consumer runs in __call__ for as long as the socket lives.
    counted = False

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        await super().accept(subprotocol=subprotocol, headers=headers)
        if not self.counted:
            self.counted = True
            LIVE_SOCKETS.inc()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self.counted:
                self.counted = False
                LIVE_SOCKETS.dec()


class WorkspaceConsumer(ClosesOnLayerOutage, DispatchesWithoutThreadHop):
    workspace_id: str
    user_id: int
    credential: Credential
    last_id: int
    handed: int
    following: bool
    groups_joined: list[str]

    async def connect(self) -> None:
        self.groups_joined = []
        self.closing = False
        self.relayed = False
        self.following = False
        self.in_room = False
        self.room_lost: BaseException | None = None
        self.handed = 0
        user = self.scope.get("user")
        credential = _credential(self.scope)
        self.workspace_id = str(self.scope["url_route"]["kwargs"]["workspace_id"])
        if credential is None or not await database_sync_to_async(may_follow)(
            user=user, workspace_id=self.workspace_id
        ):
            await self.refuse()
            return
        self.user_id = user.pk
        self.credential = credential
        self.lock = asyncio.Lock()
        sockets_live_on(asyncio.get_running_loop())
        # Join first, then read where to continue from: an event committed in between is
        # announced to this socket and read from the log, never lost. The workspace's
        # announcements come through this process's room for it (hub.follow: one channel in the
        # workspace's group for all the process's sockets on it); the person's and the
        # credential's messages to this socket's own channel. The relay (events of other
        # processes, without Redis) takes over from the log's position read before that.
        # Likewise a revocation of its credential: announced once joined, and before that
        # found by the first catch-up's check.
        self.in_room = True
        try:
            await hub.follow(self)
            await self._open(credential)
        except BaseException:
            # Channels calls disconnect() only for a socket whose handshake returned: left in
            # its room, a socket that failed here would keep the room (and its listening) for
            # ever. Leave the room and the groups joined so far, then fail as before.
            await self._release_failed_open()
            raise

    async def _open(self, credential: Credential) -> None:
        for group in (user_group(self.user_id), socket_credential_group(credential)):
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        self.last_id, reset, position = await database_sync_to_async(_starting_point)(
            workspace_id=self.workspace_id, after=_after(self.scope)
        )
        self.handed = self.last_id
        relay.socket_opened(at=position)
        self.relayed = True
        await self.accept()
        await self.send_json({"type": "hello", "id": self.last_id})
        if reset:
            await self.send_json({"type": "reset", "id": self.last_id})
        if self.room_lost is not None:  # its room stopped hearing the workspace meanwhile
            await self._close_try_again_later(self.room_lost)
            return
        # From here the room hands this socket what is announced; what was announced before
        # (after its starting point) this catch-up reads, as it reads the log after that.
        self.following = True
        await self.catch_up()

    async def _release_failed_open(self) -> None:
        """Best effort: a failure here (the layer down as well) must not hide the first."""
        self.closing = True
        try:
            await self.disconnect(CLOSE_TRY_AGAIN_LATER)
        except Exception as exc:
            if not layer_unreachable(exc):
                log.exception("live: a socket that failed to open could not leave its groups")

    async def disconnect(self, code: int) -> None:
        self.following = False
        try:
            if self.in_room:
                self.in_room = False
                await hub.unfollow(self)
            for group in self.groups_joined:
                await self.channel_layer.group_discard(group, self.channel_name)
        finally:  # leaving may fail (Redis down): the relay still learns the socket is gone
            if self.relayed:
                relay.socket_closed()
            self.groups_joined = []
            self.relayed = False

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "id": self.last_id})

    async def refuse(self) -> None:
        """Close (or refuse the handshake); nothing more is sent on this socket."""
        self.closing = True
        await self.close(code=CLOSE_FORBIDDEN)

    async def signed_out(self) -> None:
        """Its token was revoked or its session signed out: close, saying so; nothing more is
        sent on this socket."""
        if not self.closing:
            self.closing = True
            reason = CLOSE_REASONS[self.credential.kind]
            await self.close(code=CLOSE_SIGNED_OUT, reason=reason)

    async def catch_up(self) -> None:
        """Send every event after ``last_id`` the person may still see, in order, once."""
        async with self.lock:
            if self.closing:
                return
            batch = await hub.events_for(
                workspace_id=self.workspace_id,
                user_id=self.user_id,
                credential=self.credential,
                after=self.last_id,
            )
            await self._send_batch(batch)

    async def deliver(self, batch: Batch) -> None:
        """Send what the room read for this socket (hub.Room.announced), in order, once: behind
        any catch-up or earlier delivery under way, skipping what they have sent."""
        async with self.lock:
            if not self.closing:
                await self._send_batch(batch)

    async def _send_batch(self, batch: Batch) -> None:
        try:
            await self._send_events(batch)
        except OSError:
            # The connection is gone (uvicorn's ClientDisconnected): nothing more is sent; its
            # disconnect arrives through the socket's receive and takes it out.
            self.closing = True

    async def _send_events(self, batch: Batch) -> None:
        if not batch.signed_in:
            await self.signed_out()
            return
        if not batch.allowed:
            await self.refuse()
            return
        if batch.reset:
            self.last_id = batch.last_id
            await self.send_json({"type": "reset", "id": self.last_id})
            return
        for event in batch.events:
            if event.pk > self.last_id:
                await self.send(text_data=event_frame(event))
                self.last_id = event.pk
                LIVE_EVENTS_SENT.inc()

    async def layer_lost(self, exc: BaseException) -> None:
        """The room this socket hears its workspace from cannot hand it its events: the channel
        layer stopped answering it, or its read of an announced event failed even when asked
        again (hub.Room.hand_out). Close with 1013, as a socket whose own receive fails is
        (outage.py); its page reconnects and asks for what it missed. A socket still opening is
        closed by its own handshake once accepted (closed before, the browser would see an HTTP
        403 and give up)."""
        if not self.following:
            self.room_lost = exc
            return
        async with self.lock:
            await self._close_try_again_later(exc)

    async def _close_try_again_later(self, exc: BaseException) -> None:
        if not self.closing:
            self.closing = True
            if layer_unreachable(exc):
                outage_log.note(exc)
            await self.close(code=CLOSE_TRY_AGAIN_LATER)

    # --- messages from the channel layer --------------------------------------------------

    async def live_nudge(self, message: dict[str, Any]) -> None:
        if not self.closing:
            await self.send_json(
                {"type": "nudge", "kind": message["kind"], "data": message["data"]}
            )

    async def live_revoke(self, message: dict[str, Any]) -> None:
        if message.get("workspace") in (None, self.workspace_id):
            await self.refuse()

    async def live_credential_revoked(self, message: dict[str, Any]) -> None:
        if message.get("kind") in (None, self.credential.kind):
            # Behind any catch-up under way, so no event is sent once it is closed.
            async with self.lock:
                await self.signed_out()


class PersonalConsumer(ClosesOnLayerOutage, DispatchesWithoutThreadHop):
    """``/ws/me/``: pages outside a workspace (home, notifications) follow their person's
    nudges (the unread badge) only. Closed (4401) when its token is revoked or its session
    signs out, "sign out everywhere" included."""

    groups_joined: list[str]
    credential: Credential

    async def connect(self) -> None:
        self.groups_joined = []
        self.closing = False
        user = self.scope.get("user")
        credential = _credential(self.scope)
        if user is None or credential is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.credential = credential
        sockets_live_on(asyncio.get_running_loop())
        for group in (user_group(user.pk), socket_credential_group(credential)):
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        # Revoked before it joined its credential's group (so not told): found here.
        if not await database_sync_to_async(signed_in)(credential=credential):
            await self.accept()
            await self.signed_out()
            return
        await self.accept()
        await self.send_json({"type": "hello", "id": 0})

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = []

    async def signed_out(self) -> None:
        if not self.closing:
            self.closing = True
            reason = CLOSE_REASONS[self.credential.kind]
            await self.close(code=CLOSE_SIGNED_OUT, reason=reason)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "id": 0})

    async def live_nudge(self, message: dict[str, Any]) -> None:
        if not self.closing:
            await self.send_json(
                {"type": "nudge", "kind": message["kind"], "data": message["data"]}
            )

    async def live_revoke(self, message: dict[str, Any]) -> None:
        if message.get("workspace") is None:
            self.closing = True
            await self.close(code=CLOSE_FORBIDDEN)

    async def live_credential_revoked(self, message: dict[str, Any]) -> None:
        if message.get("kind") in (None, self.credential.kind):
            await self.signed_out()
