"""Stored files read a chunk at a time, and listed, whatever the storage: a folder on disk
(``COMMONROOM_STORAGE=filesystem``) or a bucket (``s3``, django-storages' ``S3Storage``).

django-storages' file object for a bucket downloads the whole object before its first read (into
memory, unless AWS_S3_MAX_MEMORY_SIZE is set), and a blob may be gigabytes; so an object is read
here from the GET's response body as it arrives. Used by the backup, restore and ``fsck``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.files.storage import storages

CHUNK = 1024 * 1024


def _storage() -> Any:
    return storages["default"]


def in_bucket() -> bool:
    """Whether this installation's files are in a bucket. django-storages' S3 module is looked up
    in ``sys.modules``, so the filesystem never loads boto3: making an S3 storage has loaded it."""
    storage = _storage()
    s3 = sys.modules.get("storages.backends.s3")
    return s3 is not None and isinstance(storage, s3.S3Storage)


def described() -> str:
    """Where the files are, for a sentence: "the bucket <name>", or the folder's path."""
    storage = _storage()
    if in_bucket():
        return f"the bucket {storage.bucket_name}"
    return str(getattr(storage, "location", "the file storage"))


@contextlib.contextmanager
def reading(name: str) -> Iterator[Any]:
    """Storage file ``name`` opened to be read with ``read(size)``; None when it is not there."""
    storage = _storage()
    try:
        source = storage.open(name, "rb")
    except FileNotFoundError:
        yield None
        return
    if not in_bucket():
        with source:
            yield source
        return
    from botocore.exceptions import ClientError

    try:
        body = source.obj.get()["Body"]  # the open's HEAD said it is there
    except ClientError as exc:  # deleted between that HEAD and this GET
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            yield None
            return
        raise
    try:
        yield body
    finally:
        body.close()


@dataclass(frozen=True)
class Listed:
    """A stored file as a listing gives it."""

    name: str  # its storage name
    size: int
    modified: float  # seconds since the epoch


def files_under(folder: str) -> Iterator[Listed]:
    """Every stored file under ``folder/``, in name order: a walk of the folder on disk, or the
    bucket's keys listed a thousand at a time (never a listing per sub-folder)."""
    storage = _storage()
    if in_bucket():
        location = f"{storage.location.strip('/')}/" if storage.location else ""
        for item in storage.bucket.objects.filter(Prefix=f"{location}{folder}/"):
            yield Listed(item.key[len(location) :], item.size, item.last_modified.timestamp())
        return
    root = storage.path(folder)
    base = storage.path("")
    for parent, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(parent, name)
            try:
                st = os.lstat(path)
            except FileNotFoundError:  # removed since the folder was read
                continue
            rel = os.path.relpath(path, base).replace(os.sep, "/")
            yield Listed(rel, st.st_size, st.st_mtime)
