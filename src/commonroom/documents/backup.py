"""What a backup copies of documents' files (``core.backup`` finds ``BACKUP_FILES`` here).

Every blob a version of the database copy refers to must be in the backup, whole and matching
its SHA-256. A blob row no version refers to (an upload's claim not yet used, or a blob waiting
for the collector) is copied only when its whole file is there; after a restore, such rows
whose file the backup did not hold are dropped, since nothing uses them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from commonroom.core.backup import FileKind, StoredFile
from commonroom.documents.models import Blob, Version, blob_storage_name


def _blobs_listed(cursor: Any) -> list[StoredFile]:
    version_blob = Version._meta.get_field("blob").column
    cursor.execute(f"SELECT DISTINCT {version_blob} FROM {Version._meta.db_table}")  # noqa: S608
    referenced = sorted(row[0] for row in cursor.fetchall())
    cursor.execute(f"SELECT sha256 FROM {Blob._meta.db_table}")  # noqa: S608
    unreferenced = sorted({row[0] for row in cursor.fetchall()} - set(referenced))
    return [
        StoredFile(name=blob_storage_name(sha), sha256=sha, what=f"blob {sha}")
        for sha in referenced
    ] + [
        StoredFile(name=blob_storage_name(sha), sha256=sha, needed=False, what=f"blob {sha}")
        for sha in unreferenced
    ]


def _chunks(items: Iterable[str], size: int = 500) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _drop_claims_without_files(restored: set[str]) -> str:
    """Blob rows no version refers to whose file was not in the backup: an upload caught between
    claiming its blob and writing it, or a blob the collector was removing. Nothing uses them."""
    orphans = [
        sha
        for sha in Blob.objects.exclude(pk__in=Version.objects.values("blob_id")).values_list(
            "sha256", flat=True
        )
        if blob_storage_name(sha) not in restored
    ]
    for batch in _chunks(orphans):
        Blob.objects.filter(pk__in=batch).delete()
    if not orphans:
        return ""
    return f"{len(orphans)} unfinished uploads without a file were dropped (no version used them)"


BACKUP_FILES = [
    FileKind(
        key="blobs",
        label="version files",
        prefix="blobs",
        listed=_blobs_listed,
        after_restore=_drop_claims_without_files,
    )
]
