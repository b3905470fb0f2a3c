"""Raising live events. Call these from inside the service's transaction: the event row commits
with the change, and screens are told only after the commit (never about a rolled-back change).

Three kinds of message reach a screen:
- a workspace event (:func:`publish`): stored, numbered, replayed to a screen that reconnects;
- a personal nudge (:func:`nudge_user`): not stored (say, "your unread count changed"); a screen
  that reconnects asks the page for the current figures instead;
- a revocation (:func:`revoke_user`): closes that person's open sockets on a workspace at once;
- a credential revoked (:func:`credential_revoke`, :func:`sessions_revoke`): an API token
  revoked or a browser session signed out closes every socket opened with it at once, in every
  server process (each socket joins its credential's group), with ``CLOSE_SIGNED_OUT``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from commonroom.accounts.selectors import Credential, CredentialKind
from commonroom.core.prepared import insert
from commonroom.live.events import EventData
from commonroom.live.models import Event
from commonroom.live.outage import layer_unreachable, outage_log
from commonroom.workspaces.services import workspace_lock

log = logging.getLogger(__name__)

# This process's name in the event log (see Event.origin).
PROCESS_ORIGIN = uuid.uuid4().hex


def workspace_group(workspace_id: Any) -> str:
    return f"live.w.{uuid.UUID(str(workspace_id)).hex}"


def user_group(user_id: Any) -> str:
    return f"live.u.{int(user_id)}"


def credential_group(kind: CredentialKind, key: str) -> str:
    """The group of the sockets opened with one token (its id) or one browser session (its
    key, hashed: group names are kept in Redis and may be logged; a session key signs in)."""
    if kind == "token":
        return f"live.t.{int(key)}"
    return f"live.s.{hashlib.sha256(key.encode()).hexdigest()[:40]}"


def socket_credential_group(credential: Credential) -> str:
    return credential_group(credential.kind, credential.key)


# The close code of a socket whose token was revoked or whose session signed out; a page seeing
# it stops (a reconnection would be refused) and says why.
CLOSE_SIGNED_OUT = 4401
CLOSE_REASONS: dict[CredentialKind, str] = {
    "token": "The API token this connection used was revoked.",
    "session": "This browser session was signed out.",
}


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe (UUIDs, datetimes as strings), as the database and the socket will store it."""
    result: dict[str, Any] = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    return result


# The event loop this process's sockets live on (uvicorn's), noted when one connects.
_socket_loop: asyncio.AbstractEventLoop | None = None
_pending_sends: set[asyncio.Task[None]] = set()


def sockets_live_on(loop: asyncio.AbstractEventLoop) -> None:
    global _socket_loop
    _socket_loop = loop


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        loop = _socket_loop
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is not None and current is loop:
            # Already on the sockets' loop (sync code called from it): never block it.
            _pending_sends.add(task := loop.create_task(layer.group_send(group, message)))
            task.add_done_callback(_pending_sends.discard)
        elif isinstance(layer, InMemoryChannelLayer) and (loop is None or not loop.is_running()):
            # In memory and no socket has lived in this process: nobody here to tell (other
            # processes' sockets learn of it through the relay).
            return
        elif isinstance(layer, InMemoryChannelLayer) and loop is not None:
            # The in-memory layer's queues belong to the sockets' loop: hand the send to it,
            # from whichever thread this is (a request's, a scheduler's, a test's).
            send = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
            send.result(timeout=10)
        else:
            async_to_sync(layer.group_send)(group, message)
    except Exception as exc:  # a full or unreachable layer must not undo a committed change
        if layer_unreachable(exc):
            # Redis is down: one line (open pages read the event from the log when they are
            # back), not a traceback for every event.
            outage_log.note_announce(exc)
        else:
            log.exception("live: could not announce to %s", group)


def announcement(event: Event) -> tuple[str, dict[str, Any]]:
    """The channel-layer group and message that tell a workspace's open screens that ``event``
    exists: its id only, since each screen reads it, checked, from the log (one message for
    each process's room on the workspace: hub.Room)."""
    return workspace_group(event.workspace_id), {"type": "live.event", "id": event.pk}


def announce(event: Event) -> None:
    _send(*announcement(event))


def publish(*, workspace_id: Any, event: EventData) -> Event:
    """Record ``event`` (its kind and data: ``live.events``) for every member of the workspace;
    announce it on commit.

    The workspace row is locked first (usually the calling service already holds it), so within
    one workspace events commit in id order: a screen that has seen id N has seen everything of
    its workspace up to N. Inside a caller's transaction it is part of it (no savepoint of its
    own: a failure here undoes the caller's change, as its other writes would)."""
    with transaction.atomic(savepoint=False):
        workspace_lock(workspace_id=workspace_id)
        row = insert(
            Event(
                workspace_id=workspace_id, kind=event.kind, data=event.data(), origin=PROCESS_ORIGIN
            )
        )
        transaction.on_commit(lambda: announce(row), robust=True)
    return row


def nudge_user(*, user_id: Any, kind: str, data: dict[str, Any]) -> None:
    """Tell one person's open screens something that is theirs alone, after commit."""
    message = {"type": "live.nudge", "kind": kind, "data": _plain(data)}
    transaction.on_commit(lambda: _send(user_group(user_id), message), robust=True)


def revoke_user(*, user_id: Any, workspace_id: Any | None = None) -> None:
    """Close the person's sockets on one workspace (or on all, with ``None``) after commit."""
    message = {
        "type": "live.revoke",
        "workspace": None if workspace_id is None else str(workspace_id),
    }
    transaction.on_commit(lambda: _send(user_group(user_id), message), robust=True)


def credential_revoke(*, kind: CredentialKind, key: str) -> None:
    """Close every socket opened with this token or session, after commit."""
    message = {"type": "live.credential.revoked"}
    transaction.on_commit(lambda: _send(credential_group(kind, key), message), robust=True)


def sessions_revoke(*, user_id: Any) -> None:
    """Close every socket the person opened with a browser session (not those opened with an
    API token, which still signs them in), after commit."""
    message = {"type": "live.credential.revoked", "kind": "session"}
    transaction.on_commit(lambda: _send(user_group(user_id), message), robust=True)


def events_prune(*, older_than: timedelta) -> int:
    """Forget events older than ``older_than``: a screen offline that long reloads instead of
    replaying (it is told "reset"). Returns how many were removed."""
    cutoff = timezone.now() - older_than
    newest = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    # The newest event always stays: it marks where the log begins (see selectors.resume_from).
    deleted, _ = Event.objects.filter(created_at__lt=cutoff).exclude(id=newest).delete()
    return deleted
