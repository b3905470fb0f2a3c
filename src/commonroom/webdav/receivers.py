"""WebDAV keeps documents' edit locks for documents (``documents.hooks.edit_locks``): which
documents its locks hold, shown on their pages ("being edited in Word by Tom since 10:02") and
recorded with a version made meanwhile, and the ending of them when a manager breaks one."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from commonroom.documents import hooks
from commonroom.webdav.models import DavLock
from commonroom.webdav.selectors import document_locks
from commonroom.webdav.services import document_locks_end

if TYPE_CHECKING:
    from commonroom.documents.models import Document
    from commonroom.workspaces.selectors import WorkspaceAccess


def edit_lock(row: DavLock) -> hooks.EditLock:
    return hooks.EditLock(holder=row.user, app=row.client, since=row.created_at)


class DavLockKeeper:
    """WebDAV's locks, as documents asks about them (``documents.hooks.LockKeeper``)."""

    def locks(
        self, access: WorkspaceAccess, documents: Sequence[Document]
    ) -> Mapping[uuid.UUID, hooks.EditLock]:
        return {pk: edit_lock(rows[0]) for pk, rows in document_locks(access, documents).items()}

    def release(self, access: WorkspaceAccess, document: Document) -> list[hooks.EditLock]:
        return [edit_lock(row) for row in document_locks_end(access=access, document=document)]


keeper = DavLockKeeper()


def connect() -> None:
    hooks.edit_locks.add(keeper)
