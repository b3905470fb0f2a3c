"""Reading what the WebDAV endpoint keeps: a person's scratch files, the documents they hold
aside, and their contents. Every read is scoped to the person asking."""

from __future__ import annotations

import io
from typing import IO, TYPE_CHECKING, Any

from django.utils import timezone

from commonroom.documents.selectors import blob_file_open
from commonroom.webdav.models import ScratchFile
from commonroom.webdav.names import fold

if TYPE_CHECKING:
    from commonroom.accounts.models import User


def scratch_files(*, user: User, workspace_id: Any, folder_id: Any) -> list[ScratchFile]:
    """The person's scratch files in one place (a folder, or the workspace's top level)."""
    return list(
        ScratchFile.objects.filter(
            user=user, workspace_id=workspace_id, folder_id=folder_id
        ).order_by("name_key", "pk")
    )


def scratch_named(
    *, user: User, workspace_id: Any, folder_id: Any, name: str
) -> ScratchFile | None:
    return (
        ScratchFile.objects.filter(
            user=user, workspace_id=workspace_id, folder_id=folder_id, name_key=fold(name)
        )
        .order_by("pk")
        .first()
    )


def held_documents(*, user: User, workspace_id: Any, folder_id: Any = None) -> set[Any]:
    """The ids of the documents the person's client has moved aside (in the middle of a save)
    and that they see under another name until the hold ends."""
    qs = ScratchFile.objects.filter(
        user=user,
        workspace_id=workspace_id,
        stands_for__isnull=False,
        held_until__gt=timezone.now(),
    )
    return set(qs.values_list("stands_for_id", flat=True))


def hold_for(*, user: User, workspace_id: Any, folder_id: Any, name: str) -> ScratchFile | None:
    """The person's hold on a document called ``name`` in that place, if one is running."""
    for scratch in ScratchFile.objects.filter(
        user=user,
        workspace_id=workspace_id,
        stands_for__isnull=False,
        held_until__gt=timezone.now(),
        stands_for__folder_id=folder_id,
        stands_for__deleted_at__isnull=True,
    ).select_related("stands_for"):
        doc = scratch.stands_for
        if doc is not None and fold(doc.name) == fold(name):
            return scratch
    return None


def scratch_open(scratch: ScratchFile) -> IO[bytes]:
    """A scratch file's bytes, open for reading (``FileNotFoundError`` if its stored bytes
    were collected)."""
    if scratch.sha256:
        return blob_file_open(scratch.sha256)
    return io.BytesIO(bytes(scratch.data))
