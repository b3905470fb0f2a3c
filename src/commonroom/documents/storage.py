"""Blob storage on the local disk that never leaves a half-written file under a blob's name, and
the scratch files uploads and blob writes use on the way.

A blob is written to a scratch file in the destination folder, flushed with ``fsync``, then
linked into place under its name and its folder flushed too. A crash at any moment leaves either
no file or the whole file under the final name. Names are SHA-256 digests, so an existing name
already holds the same bytes and is kept as it is.

A scratch file has no name at all where the filesystem allows it (Linux ``O_TMPFILE``): if the
process dies, the kernel frees it and nothing is left on disk. Elsewhere it is a named file
(``commonroom-upload-*`` for uploads, ``.partial-*`` beside the blobs) that its process holds
under an exclusive ``flock`` for as long as it is open. The lock ends with the process, however
it ends, so :func:`in_use` tells a file still being written (however long a slow upload takes)
from one a dead process left behind; the sweep (``documents.services.storage_sweep``) removes
only the latter, and only once it is older than the grace period.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any

from django.core.files.base import File
from django.core.files.storage import FileSystemStorage

UPLOAD_PREFIX = "commonroom-upload-"
UPLOAD_SUFFIX = ".upload"
PARTIAL_PREFIX = ".partial-"
_PROC_FD = "/proc/self/fd"


def _unnamed_possible() -> bool:
    return hasattr(os, "O_TMPFILE") and os.path.isdir(_PROC_FD)


def open_scratch(directory: str, *, prefix: str, suffix: str = "") -> IO[bytes]:
    """A new, empty file in ``directory``, open for reading and writing: unnamed if the
    filesystem allows it, else named ``<prefix>…<suffix>`` and locked until it is closed
    (closing removes the name). :func:`scratch_path` gives a path to link it into place."""
    if _unnamed_possible():
        try:
            fd = os.open(directory, os.O_TMPFILE | os.O_RDWR, 0o600)
        except OSError as exc:  # this filesystem cannot; a full disk is a real error
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.ENOENT):
                raise
        else:
            return open(fd, "w+b")
    named = tempfile.NamedTemporaryFile(  # noqa: SIM115 -- the caller closes it
        prefix=prefix, suffix=suffix, dir=directory
    )
    fcntl.flock(named.fileno(), fcntl.LOCK_EX)
    return named


def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):  # not Linux
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_SYNC_FILE_RANGE = _sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Have the kernel start writing ``length`` bytes of ``fd`` from ``offset`` to the disk now,
    without waiting for them. A large file written this way as it arrives is mostly on the disk
    by its end, so the ``fsync`` that makes it durable (which still decides) has little left to
    do, where it would otherwise start writing the whole file only then. Where the system has no
    such call, nothing happens: the ``fsync`` writes it all, as before."""
    if _SYNC_FILE_RANGE is not None:
        _SYNC_FILE_RANGE(fd, offset, length, _SYNC_FILE_RANGE_WRITE)  # a hint: errors ignored


def scratch_path(scratch: IO[bytes]) -> str:
    """A path naming the scratch file while it is open (for an unnamed one, through /proc)."""
    name = scratch.name
    return name if isinstance(name, str) else f"{_PROC_FD}/{scratch.fileno()}"


def link(source: str, destination: str) -> None:
    """Give the file at ``source`` (a path, or an unnamed file through /proc) the name
    ``destination`` too. ``FileExistsError`` if that name exists."""
    folder, name = os.path.split(destination)
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        # dst_dir_fd makes Python call linkat() with AT_SYMLINK_FOLLOW, which is what links an
        # unnamed file by its /proc/self/fd path; plain link() would refuse (EXDEV).
        os.link(source, name, dst_dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def in_use(path: str) -> bool:
    """True while a process holds the scratch file at ``path`` open (its lock)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def remove_unless_in_use(path: str) -> bool:
    """Delete the file at ``path`` unless a process holds its lock; True if it was deleted. The
    lock is held while the name goes, so a writer cannot take it up in between."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        if os.fstat(fd).st_ino != os.lstat(path).st_ino:
            return False  # replaced since it was opened: leave the new one alone
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False
    finally:
        os.close(fd)


@contextlib.contextmanager
def _scratch_beside(directory: str) -> Iterator[IO[bytes]]:
    scratch = open_scratch(directory, prefix=PARTIAL_PREFIX)
    try:
        yield scratch
    finally:
        with contextlib.suppress(FileNotFoundError):
            scratch.close()


class DurableFileSystemStorage(FileSystemStorage):
    CHUNK = 1024 * 1024

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return name  # content-addressed: the same name always means the same content

    def _save(self, name: str, content: File[Any]) -> str:
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        os.makedirs(directory, exist_ok=True)
        if os.path.exists(full_path):
            return name
        if hasattr(content, "temporary_file_path"):
            content.flush()  # bytes still in the writer's buffer would be missing from the link
        if hasattr(content, "temporary_file_path") and self._link_into_place(
            content.temporary_file_path(), full_path
        ):
            self._fsync_dir(directory)
            return name
        with _scratch_beside(directory) as out:
            if hasattr(content, "seek"):
                content.seek(0)
            for chunk in content.chunks(self.CHUNK):
                out.write(chunk)
            out.flush()
            if self.file_permissions_mode is not None:
                os.fchmod(out.fileno(), self.file_permissions_mode)
            os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):  # the same bytes are already there
                link(scratch_path(out), full_path)
        self._fsync_dir(directory)
        return name

    def _link_into_place(self, source: str, full_path: str) -> bool:
        """Link a finished upload into place: no copy. False if on another filesystem."""
        with open(source, "rb") as src:
            os.fsync(src.fileno())
        try:
            link(source, full_path)
        except FileExistsError:
            pass  # the same bytes are already there
        except OSError:
            return False
        if self.file_permissions_mode is not None:
            os.chmod(full_path, self.file_permissions_mode)
        return True

    @staticmethod
    def _fsync_dir(directory: str) -> None:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
