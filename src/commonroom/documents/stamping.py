"""Which version an Office file is: stamped into every .docx, .xlsx and .pptx downloaded, read
back from every one uploaded. See ``docs/decisions/0015-version-stamp.md``.

The stamp is a custom document property (``office.properties``), :data:`PROPERTY`, whose text
names the document, the version number and the SHA-256 of that version's bytes
(:class:`Stamp`): nothing secret (the hash is on the version's page). Word, Excel, PowerPoint
and LibreOffice keep it when the file is edited and saved, so an amended copy still says which
version it was downloaded from, whatever page it is uploaded from.

What must always hold:

- The file is untrusted: it is read and rewritten only in a confined child
  (``stamp_child.py`` through ``core.sandbox``), never in the server's process. This module only
  copies (or links) bytes, hashes them and reads the first four (a zip's signature).
- With the files in a bucket, an upload's stamp is read from the upload's own file (its scratch
  file, linked beside the child), never fetched back from the bucket it has just been sent to:
  an upload makes no GET. A stamped copy for a download is made from one GET of the object.
- A download never fails because of the stamp: a file that is not an Office zip, is larger
  than :data:`MAX_BYTES`, is damaged, or a child that is refused, crashes or runs out of time
  leaves the version served as it was stored (and logged). Only the custom-properties part
  differs in a stamped copy; every other member is byte-identical.
- A stamped copy is made once per version and kept in ``<data dir>/stamped/<ab>/<sha256>/``
  (the version's blob), named ``<document>.<number>.s<FORMAT>.<SHA-256 of the copy>``; a
  version whose file could not be stamped gets ``....unstamped`` instead, so it is not tried
  on every download. Versions never change, so neither do their copies: the size, the ETag
  (the copy's SHA-256) and every byte range stay the same from one download to the next.
  The copies go when the collector removes their blob (:func:`forget_blobs`); they are not
  backed up (they are made again when asked for).
- What an upload's stamp says is only a claim (:func:`stamp_read` returns it parsed and
  nothing more): the upload's service believes it only when it names that document and one of
  its versions with that version's bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage

from commonroom.core.exceptions import StorageUnavailable
from commonroom.core.sandbox import ChildRun, Limits, run_child
from commonroom.documents.models import Blob, Version, blob_storage_name
from commonroom.documents.storage import link

log = logging.getLogger(__name__)

PROPERTY = "CommonroomVersion"
OFFICE_TYPES = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)
MAX_BYTES = 100 * 1024 * 1024  # larger files are served, and read, as they are
FORMAT = 1  # part of a stamped copy's name: a new stamp format makes new copies
CHILD_MODULE = "commonroom.documents.stamp_child"
LIMITS = Limits(seconds=30, memory_mb=1024, file_mb=2 * MAX_BYTES // (1024 * 1024))
ZIP_SIGNATURE = b"PK\x03\x04"
UNSTAMPED = "unstamped"
WORK_LEFT_AFTER = 3600  # seconds: a work folder this old belongs to a process that was killed

_VALUE = re.compile(
    r"^(?P<document>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
    r" version (?P<number>[1-9][0-9]{0,8}) sha256 (?P<sha256>[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class Stamp:
    """What a stamped file says it is: version ``number`` of ``document_id``, whose bytes had
    ``sha256``."""

    document_id: uuid.UUID
    number: int
    sha256: str

    @property
    def value(self) -> str:
        return f"{self.document_id} version {self.number} sha256 {self.sha256}"

    @classmethod
    def of(cls, version: Version) -> Stamp:
        return cls(document_id=version.document_id, number=version.number, sha256=version.blob_id)

    @classmethod
    def parse(cls, value: str) -> Stamp | None:
        """The stamp ``value`` states, or ``None`` when it is not one of ours."""
        found = _VALUE.match(value) if len(value) < 200 else None
        if found is None:
            return None
        return cls(
            document_id=uuid.UUID(found["document"]),
            number=int(found["number"]),
            sha256=found["sha256"],
        )


@dataclass
class DownloadFile:
    """What a download of a version sends: an open file, its size and SHA-256 (the ETag), and
    whether it is a stamped copy."""

    handle: IO[bytes]
    size: int
    sha256: str
    stamped: bool


def download_file(version: Version) -> DownloadFile:
    """The version's file as it is downloaded: its stamped copy for an Office file (made now if
    it is not made yet), else the stored bytes. Never fails because of the stamp."""
    return download_copy(version) or stored_file(version)


def download_copy(version: Version) -> DownloadFile | None:
    """The version's stamped copy, open (made now if it is not made yet); ``None`` when what is
    downloaded is the stored bytes themselves. Never fails because of the stamp; fails
    (``StorageUnavailable``) when the object store holding the bytes cannot be reached."""
    copy = stamped_copy(version)
    if copy is None:
        return None
    path, sha = copy
    try:
        handle: IO[bytes] = path.open("rb")
    except OSError:  # removed since it was found (its blob collected): serve the blob
        log.warning("documents: the stamped copy %s went away; served unstamped", path)
        return None
    return DownloadFile(handle, os.fstat(handle.fileno()).st_size, sha, stamped=True)


def stored_file(version: Version) -> DownloadFile:
    """The version's stored bytes, open."""
    handle = default_storage.open(version.blob.storage_name, "rb")
    return DownloadFile(handle, version.size, version.blob_id, stamped=False)


def copies_root() -> Path:
    return Path(settings.DATA_DIR) / "stamped"


def _copies_folder(sha256: str) -> Path:
    return copies_root() / sha256[:2] / sha256


def _key(version: Version) -> str:
    return f"{version.document_id}.{version.number}.s{FORMAT}"


def _known(folder: Path, key: str) -> tuple[Path, str] | None:
    """The copy (or the mark that none can be made) already made for ``key``."""
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return None
    for name in names:
        rest = name.removeprefix(key + ".")
        if rest != name and (rest == UNSTAMPED or re.fullmatch(r"[0-9a-f]{64}", rest)):
            return folder / name, rest
    return None


def stamped_copy(version: Version) -> tuple[Path, str] | None:
    """The path and SHA-256 of the version's stamped copy, made now if needed; ``None`` when
    the version is not stamped (not an Office zip, too large, or it could not be: logged)."""
    if version.content_type not in OFFICE_TYPES or version.size > MAX_BYTES:
        return None
    folder = _copies_folder(version.blob_id)
    key = _key(version)
    known = _known(folder, key)
    if known is not None:
        path, sha = known
        return None if sha == UNSTAMPED else (path, sha)
    try:
        return _make_copy(version, folder, key)
    except StorageUnavailable:
        raise  # not the stamp's fault: the bytes cannot be read at all
    except Exception:  # a download never fails because of its stamp
        log.exception(
            "documents: version %s of %s could not be stamped; served unstamped",
            version.number,
            version.document_id,
        )
        return None


def _starts_as_zip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(len(ZIP_SIGNATURE)) == ZIP_SIGNATURE


def _make_copy(version: Version, folder: Path, key: str) -> tuple[Path, str] | None:
    stamp = Stamp.of(version)
    with work_folder() as work:
        source = office_source(version.blob_id, work)
        if source is None:
            return None  # named like an Office file, but not one: nothing to stamp, nothing to log
        outdir = work / "out"
        outdir.mkdir()
        run = run_child(
            CHILD_MODULE,
            ["stamp", str(source), str(outdir), PROPERTY, stamp.value],
            work=work,
            limits=LIMITS,
        )
        what = f"version {version.number} of {version.document_id}"
        answer = _answer(run, f"stamping {what}")
        if answer is None:
            return None
        if not answer.get("ok"):
            log.warning("documents: %s is served unstamped: %s", what, str(answer.get("message")))
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{key}.{UNSTAMPED}").touch()
            return None
        made = outdir / "stamped"
        if made.is_symlink() or not made.is_file():
            log.warning("documents: stamping %s wrote no file; served unstamped", what)
            return None
        sha = _sha256(made)
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{key}.{sha}"
        os.replace(made, final)  # the same bytes if two downloads made it at once
    return final, sha


def stamp_read(*, blob: Blob, content_type: str, uploaded: File[Any] | None = None) -> Stamp | None:
    """What an uploaded file's stamp claims, read in the confined child; ``None`` when it has
    none, is not an Office zip, or cannot be read (logged). Whether the claim is believed is
    the upload's service's decision. ``uploaded``: the upload itself (``blob``'s bytes), read
    instead of the stored blob when that is in a bucket (:func:`office_source`)."""
    if content_type not in OFFICE_TYPES or blob.size > MAX_BYTES:
        return None
    try:
        with work_folder() as work:
            source = office_source(blob.sha256, work, uploaded=uploaded)
            if source is None:
                return None
            run = run_child(CHILD_MODULE, ["read", str(source), PROPERTY], work=work, limits=LIMITS)
    except Exception:  # an upload never fails because of its stamp
        log.exception("documents: the stamp of upload %s could not be read", blob.sha256)
        return None
    answer = _answer(run, f"reading the stamp of upload {blob.sha256}")
    if answer is None:
        return None
    if not answer.get("ok"):
        log.info(
            "documents: upload %s was not read for a stamp: %s",
            blob.sha256,
            str(answer.get("message")),
        )
        return None
    value = answer.get("value")
    if value is None:
        return None
    stamp = Stamp.parse(value) if isinstance(value, str) else None
    if stamp is None:
        log.warning(
            "documents: upload %s carries a %s property that is not a stamp of ours (%r); ignored",
            blob.sha256,
            PROPERTY,
            str(value)[:100],
        )
    return stamp


def unchanged_download(
    *, stamp: Stamp | None, blob: Blob, workspace_id: uuid.UUID | str
) -> Blob | None:
    """When ``blob`` (an upload carrying ``stamp``) is exactly the stamped copy of the version
    the stamp names (a file downloaded and sent back unchanged), that version's own blob: the
    upload is then that version's bytes, and is recorded as such (identical to it, or refused
    as the same as the latest). ``None`` otherwise. Only versions of ``workspace_id``."""
    if stamp is None:
        return None
    version = (
        Version.objects.filter(
            document_id=stamp.document_id,
            document__workspace_id=workspace_id,
            number=stamp.number,
            blob_id=stamp.sha256,
        )
        .select_related("blob")
        .first()
    )
    if version is None:
        return None
    copy = stamped_copy(version)
    return version.blob if copy is not None and copy[1] == blob.sha256 else None


def _answer(run: ChildRun, what: str) -> dict[str, Any] | None:
    """The child's answer when it ended with one and did its work (well or not); why not,
    logged."""
    if run.timed_out:
        log.warning("documents: %s stopped after %s s", what, LIMITS.seconds)
    elif run.code != 0:
        log.warning("documents: %s: the child ended with %s: %s", what, run.code, run.errors)
    elif run.answer is None:
        log.warning("documents: %s: the child gave no usable answer", what)
    elif run.answer.get("refused"):
        log.error(
            "documents: %s refused: COMMONROOM_PREVIEW_CONFINE=required and the kernel did "
            "not apply %s",
            what,
            ", ".join(map(str, run.answer.get("missing") or [])),
        )
    else:
        return run.answer
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def local_source(sha256: str, work: Path) -> Path:
    """A path the child may read the blob at: its own file on a local disk, else a copy in
    ``work``."""
    return _stored_path(sha256) or _fetched(sha256, work)


def office_source(sha256: str, work: Path, *, uploaded: File[Any] | None = None) -> Path | None:
    """A path the child may read the blob at, or ``None`` when its bytes do not start as a zip
    (so not an Office file, whatever its name says). On a local disk, the blob's own file, as
    ever. In a bucket, the upload's own file when the caller has it (``uploaded``, whose bytes
    are the blob's: an upload's stamp is read before anything else needs the bucket's copy),
    so an upload costs no GET of the object it has just sent; the bucket's object only when
    there is no upload (a download's stamped copy), fetched once and its first bytes read from
    that copy, not from a second GET."""
    source = _stored_path(sha256)
    if source is None:
        source = _upload_copy(uploaded, work) if uploaded is not None else _fetched(sha256, work)
    return source if _starts_as_zip(source) else None


def _stored_path(sha256: str) -> Path | None:
    """The blob's own file on a local disk; ``None`` when the storage has no paths (a bucket)."""
    try:
        return Path(default_storage.path(blob_storage_name(sha256)))
    except NotImplementedError:
        return None


def _fetched(sha256: str, work: Path) -> Path:
    """The blob copied from the storage (one GET of a bucket's object) into ``work``."""
    source = work / "source"
    with default_storage.open(blob_storage_name(sha256), "rb") as src, source.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)
    return source


def _upload_copy(uploaded: File[Any], work: Path) -> Path:
    """The upload's bytes at a path in ``work``: its scratch file linked there (no copy, and
    the child only reads it) when it has one on the same filesystem, else copied. The upload is
    left where it was read from."""
    source = work / "source"
    scratch = getattr(uploaded, "temporary_file_path", None)
    if scratch is not None:
        uploaded.flush()  # bytes still in the writer's buffer would be missing from the link
        try:
            link(scratch(), str(source))
            return source
        except OSError:  # another filesystem (COMMONROOM_UPLOAD_TEMP_DIR elsewhere): a copy
            pass
    position = uploaded.tell()
    try:
        with source.open("wb") as dst:
            for chunk in uploaded.chunks(1024 * 1024):  # from its start
                dst.write(chunk)
    finally:
        uploaded.seek(position)
    return source


def work_root() -> Path:
    return Path(settings.DATA_DIR) / "stamp-work"


@contextlib.contextmanager
def work_folder() -> Iterator[Path]:
    """A folder of its own for one child, under the data directory (a copy of a document never
    lands in the system's temporary folder); folders left by killed processes are removed."""
    root = work_root()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    cutoff = time.time() - WORK_LEFT_AFTER
    for old in root.iterdir():
        with contextlib.suppress(OSError):
            if old.lstat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="stamp-", dir=root) as work:
        yield Path(work)


def forget_blobs(shas: Iterable[str]) -> None:
    """Remove the stamped copies of blobs the collector removes."""
    for sha in shas:
        shutil.rmtree(_copies_folder(sha), ignore_errors=True)
