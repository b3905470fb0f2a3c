"""Blob storage on the local disk that never leaves a half-written file under a blob's name.

A blob is written to a temporary file in the destination folder, flushed with ``fsync``, then
renamed into place and its folder flushed too. A crash at any moment leaves either no file or the
whole file under the final name. Names are SHA-256 digests, so an existing name already holds the
same bytes and is kept as it is.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Any

from django.core.files.base import File
from django.core.files.storage import FileSystemStorage


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
        if hasattr(content, "temporary_file_path") and self._link_into_place(
            content.temporary_file_path(), full_path
        ):
            self._fsync_dir(directory)
            return name
        fd, tmp_path = tempfile.mkstemp(prefix=".partial-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as out:
                if hasattr(content, "seek"):
                    content.seek(0)
                for chunk in content.chunks(self.CHUNK):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if self.file_permissions_mode is not None:
                os.chmod(tmp_path, self.file_permissions_mode)
            os.replace(tmp_path, full_path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_path)
            raise
        self._fsync_dir(directory)
        return name

    def _link_into_place(self, source: str, full_path: str) -> bool:
        """Hard-link a finished upload into place: no copy. False if on another filesystem."""
        with open(source, "rb") as src:
            os.fsync(src.fileno())
        try:
            os.link(source, full_path)
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
