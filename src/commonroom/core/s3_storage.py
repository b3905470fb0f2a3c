"""Blob storage in an S3 bucket (``COMMONROOM_STORAGE=s3``): django-storages' ``S3Storage``
made to fit content-addressed names and an object store that may be away.

Names are SHA-256 digests, so an object already under a name holds the same bytes: a save asks
first (one ``HEAD``) and sends nothing if it is there. An S3 ``PUT`` is atomic (the object
appears whole or not at all), so nothing like the filesystem's scratch file, ``fsync`` and
link into place is done or needed; the order the upload keeps (the bytes stored before any
version row names them) is the same.

Every failure to reach the store, or an answer of its own failure (5xx, a timeout, a refused
connection), becomes :class:`~commonroom.core.exceptions.StorageUnavailable` (503 with a
sentence) at the calls the application makes: saving, opening, asking whether a name exists,
its size, deleting. How long a call may take before it fails is the client's configuration
(``settings.py``: connect and read timeouts, attempts), kept short so that a request meeting
an outage answers in seconds.

django-storages makes a boto3 session, and from it a resource, for each thread that reaches the
store: about 12 MiB and 30 to 300 ms of CPU each (the session parses botocore's S3 model
afresh), for every new request thread on a busy server. Here the storage makes one session
for all its threads, and each thread's resource from it (5 ms, little memory), one at a time
(a session is not safe to use from several threads at once); resources, which are not safe
to share, stay one per thread as before.

A download of stored bytes is not streamed through the application: :meth:`download_url`
signs a short-lived ``GET`` (or ``HEAD``) of the object that makes S3 answer with the download's
own file name and type (``documents.downloads``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.base import File
from storages.backends.s3 import S3File, S3Storage
from storages.utils import clean_name

from commonroom.core.exceptions import StorageUnavailable

log = logging.getLogger(__name__)

# Held while a storage's shared session is made or used to make a thread's resource.
_making = threading.RLock()


def _store_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says the store is away or failing (not that a name is missing, nor
    that the request was wrong)."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status is None or int(status) >= 500
    return isinstance(exc, BotoCoreError | Boto3Error)


@contextmanager
def _reaching(what: str, name: str) -> Iterator[None]:
    try:
        yield
    except (BotoCoreError, ClientError, Boto3Error) as exc:
        if not _store_failure(exc):
            raise
        log.error("s3: %s %s failed: %s: %s", what, name, type(exc).__name__, exc)
        raise StorageUnavailable() from exc


class _ReachingS3File(S3File):
    """django-storages' file object, whose first read fetches the object (into a spool that
    moves to disk past ``max_memory_size``): a store that is away then is a
    ``StorageUnavailable`` too, not botocore's own error."""

    def _get_file(self) -> Any:
        with _reaching("reading", self.name):
            return super()._get_file()

    file = property(_get_file, S3File._set_file)


class ContentAddressedS3Storage(S3Storage):
    """``S3Storage`` for blobs named by their SHA-256 (see the module's text)."""

    _shared_session: Any = None

    def _create_session(self) -> Any:
        """The storage's one boto3 session (see the module's text), made at first use."""
        with _making:
            if self._shared_session is None:
                self._shared_session = super()._create_session()
            return self._shared_session

    @property
    def connection(self) -> Any:
        made = getattr(self._connections, "connection", None)
        if made is not None:
            return made
        with _making:
            return super().connection

    @property
    def unsigned_connection(self) -> Any:
        made = getattr(self._unsigned_connections, "connection", None)
        if made is not None:
            return made
        with _making:
            return super().unsigned_connection

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("_shared_session", None)
        return state

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return name  # content-addressed: the same name always means the same content

    def _save(self, name: str, content: File[Any]) -> str:
        with _reaching("saving", name):
            if super().exists(name):
                return name  # the same bytes are already there: not sent again
            return str(super()._save(name, content))

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        # S3Storage's own, with the file object above.
        name = self._normalize_name(clean_name(name))
        with _reaching("opening", name):
            try:
                return _ReachingS3File(name, mode, self)
            except ClientError as exc:
                if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                    raise FileNotFoundError(f"File does not exist: {name}") from exc
                raise

    def exists(self, name: str) -> bool:
        with _reaching("looking for", name):
            return bool(super().exists(name))

    def size(self, name: str) -> int:
        with _reaching("measuring", name):
            return int(super().size(name))

    def delete(self, name: str) -> None:
        with _reaching("deleting", name):
            super().delete(name)

    def download_url(
        self, name: str, *, filename_header: str, content_type: str, method: str = "GET"
    ) -> str:
        """A URL on the S3 endpoint that fetches ``name`` for ``querystring_expire`` seconds,
        S3 answering with ``Content-Disposition: filename_header`` and ``content_type``. Both
        are in the signed query, so nobody can change them. Checks first that the object is
        there (one ``HEAD``): when the store is away the download fails here, with a sentence,
        rather than in the browser after the redirect."""
        with _reaching("looking for", name):
            there = super().exists(name)
        if not there:
            log.error("s3: the object %s is missing from bucket %s", name, self.bucket_name)
            raise StorageUnavailable("The file is missing from the file store.")
        return str(
            self.url(
                name,
                parameters={
                    "ResponseContentDisposition": filename_header,
                    "ResponseContentType": content_type,
                },
                http_method=method,
            )
        )
