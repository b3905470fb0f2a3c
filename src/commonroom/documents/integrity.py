"""``commonroom fsck``: re-hash every stored blob and compare storage with the database; and the
files a crash can leave behind, for fsck to report and the sweep to remove.

What a crash can leave (never a version without its whole blob):

- a *temporary*: an upload's scratch file in ``FILE_UPLOAD_TEMP_DIR``, named
  ``commonroom-upload-*`` where the filesystem cannot make unnamed files, or ``tmp*.upload*``
  (what earlier versions of Commonroom made, through Django);
- a *partial*: a ``.partial-*`` file beside the blobs, from a blob copy cut short;
- an *unreferenced file*: a file under ``blobs/`` that no blob row names;
- an *unused blob row*: a row no version refers to, with or without its file (a claim whose
  write never happened is unused, not missing: nothing refers to it, so nothing is lost).

A named scratch file is locked by the process writing it; :attr:`Leftover.in_use` reads that
lock, so an upload still in progress is reported as such and never swept, however long it takes.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.storage import default_storage

from commonroom.audit.files import FilesResult
from commonroom.core import stored_files
from commonroom.documents.models import Blob, Version, blob_storage_name
from commonroom.documents.selectors import every_version_file
from commonroom.documents.storage import PARTIAL_PREFIX, UPLOAD_PREFIX, in_use

# Names of upload temporaries: ours, and Django's (``tmp<random>.upload<.ext>``, made by the
# versions before scratch files). Nothing else in the folder is touched: it may be shared.
TEMPORARY_PATTERNS = (f"{UPLOAD_PREFIX}*", "tmp*.upload", "tmp*.upload.*")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Leftover:
    path: str  # absolute
    size: int
    modified: float  # seconds since the epoch
    in_use: bool

    def age_minutes(self, now: float | None = None) -> int:
        return int(((now or time.time()) - self.modified) // 60)


@dataclass
class FsckReport:
    blobs_checked: int = 0
    bytes_checked: int = 0
    missing: list[str] = field(default_factory=list)  # used blob rows whose file is gone
    altered: list[str] = field(default_factory=list)  # files whose bytes no longer match
    unreferenced_rows: list[str] = field(default_factory=list)  # blob rows no version uses
    never_written: list[str] = field(default_factory=list)  # ... of those, the ones with no file
    orphan_files: list[str] = field(default_factory=list)  # files with no blob row
    broken_versions: list[str] = field(default_factory=list)  # "document vN -> sha"
    temporaries: list[Leftover] = field(default_factory=list)  # upload scratch files
    partials: list[Leftover] = field(default_factory=list)  # blob copies cut short

    @property
    def ok(self) -> bool:
        return not (self.missing or self.altered or self.broken_versions)


def _leftover(path: str) -> Leftover | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not os.path.isfile(path) or os.path.islink(path):
        return None
    return Leftover(path=path, size=st.st_size, modified=st.st_mtime, in_use=in_use(path))


def upload_temporaries() -> list[Leftover]:
    """Upload scratch files with a name in ``FILE_UPLOAD_TEMP_DIR`` (unnamed ones cannot be
    seen, and cannot be left behind)."""
    folder = str(settings.FILE_UPLOAD_TEMP_DIR)
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        if any(fnmatch.fnmatchcase(name, p) for p in TEMPORARY_PATTERNS):
            item = _leftover(os.path.join(folder, name))
            if item is not None:
                found.append(item)
    return found


def blob_file_entries() -> Iterator[tuple[stored_files.Listed, bool]]:
    """Every file under ``blobs/`` with its size and time, and whether it is a partial, in name
    order. A bucket holds no partials (an object appears whole or not at all): a ``.partial-``
    name there is just a file no blob row names."""
    in_bucket = stored_files.in_bucket()
    for item in stored_files.files_under("blobs"):
        partial = not in_bucket and item.name.rsplit("/", 1)[-1].startswith(PARTIAL_PREFIX)
        yield item, partial


def blob_files() -> Iterator[tuple[str, bool]]:
    """Every file under ``blobs/`` as (storage name, is a partial), in name order."""
    for item, partial in blob_file_entries():
        yield item.name, partial


def blob_partials() -> list[Leftover]:
    found = []
    for name, partial in blob_files():
        if partial and (item := _leftover(default_storage.path(name))) is not None:
            found.append(item)
    return found


def blob_name_sha256(name: str) -> str | None:
    """The SHA-256 a storage name stands for, if it is a blob's own name (blobs/ab/cd/abcd…)."""
    sha = name.rsplit("/", 1)[-1]
    if _SHA256.fullmatch(sha) and blob_storage_name(sha) == name:
        return sha
    return None


def blobs_fsck(*, progress: Callable[[str], None] | None = None) -> FsckReport:
    report = FsckReport()
    referenced = set(Version.objects.values_list("blob_id", flat=True).distinct())
    known: set[str] = set()
    for blob in Blob.objects.order_by("sha256").iterator(chunk_size=500):
        known.add(blob.sha256)
        used = blob.sha256 in referenced
        if not used:
            report.unreferenced_rows.append(blob.sha256)
        name = blob_storage_name(blob.sha256)
        h = hashlib.sha256()
        with stored_files.reading(name) as fh:  # a chunk at a time, from disk or a bucket
            if fh is None:
                # Claimed by an upload that never wrote it: harmless while no version uses it.
                (report.missing if used else report.never_written).append(blob.sha256)
                continue
            while chunk := fh.read(stored_files.CHUNK):
                h.update(chunk)
                report.bytes_checked += len(chunk)
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
    for path, partial in blob_files():
        if partial:
            if (item := _leftover(default_storage.path(path))) is not None:
                report.partials.append(item)
        elif path.rsplit("/", 1)[-1] not in known:
            report.orphan_files.append(path)
    report.temporaries = upload_temporaries()
    return report


def version_files_check() -> FilesResult:
    """For ``audit verify --files`` (added in :class:`~commonroom.documents.apps.DocumentsConfig`):
    every version's file is in storage with the size the version records. One size query (a
    ``stat``, or a HEAD on S3) per distinct blob, no reading: re-hashing is :func:`blobs_fsck`'s
    job."""
    versions = files = 0
    problems: list[str] = []
    sizes: dict[str, int | None] = {}
    for document_id, number, sha, size in every_version_file():
        versions += 1
        if sha not in sizes:
            try:
                sizes[sha] = default_storage.size(blob_storage_name(sha))
                files += 1
            except FileNotFoundError:
                sizes[sha] = None
        found = sizes[sha]
        if found is None:
            problems.append(
                f"document {document_id} version {number}: its file (blob {sha}) is missing"
            )
        elif found != size:
            problems.append(
                f"document {document_id} version {number}: its file (blob {sha}) has {found} "
                f"bytes, the version records {size}"
            )
    return FilesResult(
        passed=f"{versions} versions, their {files} files present with the recorded sizes",
        failed=f"{len(problems)} of {versions} versions have a missing or wrong-sized file",
        problems=problems,
    )
