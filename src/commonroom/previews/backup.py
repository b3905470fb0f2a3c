"""What a backup copies of previews' files (``core.backup`` finds ``BACKUP_FILES`` here).

Every preview file the database copy names is copied. One gone by the time it is copied (its
preview was remade meanwhile) is listed, not a fault: after a restore, the previews whose files
the backup did not hold are queued to be made again.
"""

from __future__ import annotations

from typing import Any

from commonroom.core.backup import FileKind, StoredFile
from commonroom.previews.models import PreviewFile


def _preview_files_listed(cursor: Any) -> list[StoredFile]:
    cursor.execute(f"SELECT storage_name FROM {PreviewFile._meta.db_table}")  # noqa: S608
    return [StoredFile(name=row[0]) for row in sorted(cursor.fetchall())]


def _requeue_previews_without_files(restored: set[str]) -> str:
    """Previews with a file the backup did not have (remade or discarded while it was taken)
    are made again by the worker."""
    from commonroom.previews.tasks import remake_preview

    shas = sorted(
        {
            str(sha)
            for sha, name in PreviewFile.objects.values_list("preview_id", "storage_name")
            if name not in restored
        }
    )
    for sha in shas:
        remake_preview.enqueue(sha)
    if not shas:
        return ""
    return (
        f"{len(shas)} previews queued to be made again (their files were not in the backup); "
        "the background worker makes them"
    )


BACKUP_FILES = [
    FileKind(
        key="preview_files",
        label="preview files",
        prefix="previews",
        listed=_preview_files_listed,
        vanished="{n} preview files were remade or removed while the backup ran; restore "
        "queues those previews to be made again",
        after_restore=_requeue_previews_without_files,
    )
]
