"""``commonroom fsck``: re-hash every stored blob and compare storage with the database."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.files.storage import default_storage

from commonroom.documents.models import Blob, Version, blob_storage_name


@dataclass
class FsckReport:
    blobs_checked: int = 0
    bytes_checked: int = 0
    missing: list[str] = field(default_factory=list)  # blob rows whose file is gone
    altered: list[str] = field(default_factory=list)  # files whose bytes no longer match
    unreferenced_rows: list[str] = field(default_factory=list)  # blob rows no version uses
    orphan_files: list[str] = field(default_factory=list)  # files with no blob row
    broken_versions: list[str] = field(default_factory=list)  # "document vN -> sha"

    @property
    def ok(self) -> bool:
        return not (self.missing or self.altered or self.broken_versions)


def _walk(prefix: str) -> list[str]:
    try:
        dirs, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = [f"{prefix}/{f}" for f in files if not f.startswith(".partial-")]
    for d in dirs:
        found.extend(_walk(f"{prefix}/{d}"))
    return found


def blobs_fsck(*, progress: Callable[[str], None] | None = None) -> FsckReport:
    report = FsckReport()
    referenced = set(Version.objects.values_list("blob_id", flat=True).distinct())
    known: set[str] = set()
    for blob in Blob.objects.order_by("sha256").iterator(chunk_size=500):
        known.add(blob.sha256)
        if blob.sha256 not in referenced:
            report.unreferenced_rows.append(blob.sha256)
        name = blob_storage_name(blob.sha256)
        h = hashlib.sha256()
        try:
            with default_storage.open(name, "rb") as fh:
                while chunk := fh.read(1024 * 1024):
                    h.update(chunk)
                    report.bytes_checked += len(chunk)
        except FileNotFoundError:
            report.missing.append(blob.sha256)
            continue
        report.blobs_checked += 1
        if h.hexdigest() != blob.sha256:
            report.altered.append(blob.sha256)
        if progress:
            progress(blob.sha256)
    bad = set(report.missing) | set(report.altered)
    if bad:
        for doc_id, number, sha in Version.objects.filter(blob_id__in=bad).values_list(
            "document_id", "number", "blob_id"
        ):
            report.broken_versions.append(f"document {doc_id} version {number} -> {sha}")
    for path in _walk("blobs"):
        sha = path.rsplit("/", 1)[-1]
        if sha not in known:
            report.orphan_files.append(path)
    return report
