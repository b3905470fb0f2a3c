"""WebDAV locks' rows without WsgiDAV: the expired ones deleted and the pages told when locks
change. Used by the lock manager (``locks``) and by ``services`` (a document's locks ended, the
schedule's sweep), which a serving process loads at start; WsgiDAV itself is loaded with the
endpoint, on the first request to ``/dav/`` (``asgi``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from commonroom.documents import hooks
from commonroom.webdav.models import DavLock
from commonroom.workspaces.services import workspace_lock


def workspace_of(key: str) -> uuid.UUID | None:
    """The workspace a lock key is under (its first part), or None (the root)."""
    first = key.strip("/").split("/", 1)[0]
    try:
        return uuid.UUID(hex=first)
    except ValueError:
        return None


ALL: Any = object()  # expired_delete's "every workspace"


def locks_changed(workspace_ids: Any, *, actor_id: int | None) -> None:
    """Tell documents' hook that locks were taken or ended in these workspaces (in the
    caller's transaction; pages showing who holds what ask again once it commits)."""
    for workspace_id in sorted({w for w in workspace_ids if w is not None}, key=str):
        hooks.changed(hooks.EditLocksChanged(actor_id=actor_id, workspace_id=workspace_id))


def expired_delete(now: datetime | None = None, *, workspace_id: Any = ALL) -> None:
    """Delete the locks that have expired (only ``workspace_id``'s when given; None: the
    root's), telling their workspaces' pages. Each workspace's in a transaction of its own that
    takes the workspace's row lock before its lock rows, the order every LOCK request takes
    them in (``SharedLockManager.acquire``), so that a sweep and a LOCK never wait on each
    other in a circle; a LOCK, which holds its own workspace's row lock, clears only its own."""
    now = now or timezone.now()
    expired = DavLock.objects.filter(expire_at__lte=now)
    if workspace_id is not ALL:
        expired = expired.filter(workspace_id=workspace_id)
    found = set(expired.values_list("workspace_id", flat=True))
    if None in found:
        DavLock.objects.filter(workspace_id__isnull=True, expire_at__lte=now).delete()
    for ws in sorted(found - {None}, key=str):
        with transaction.atomic():
            workspace_lock(workspace_id=ws)
            if DavLock.objects.filter(workspace_id=ws, expire_at__lte=now).delete()[0]:
                locks_changed([ws], actor_id=None)
