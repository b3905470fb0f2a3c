"""DurableFileSystemStorage never leaves a half-written file under a blob's name."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.core.files.base import ContentFile, File
from django.core.files.uploadedfile import TemporaryUploadedFile

from commonroom.documents.storage import DurableFileSystemStorage
from commonroom.documents.tests.support import files_under

NAME = "blobs/ab/cd/abcd" + "0" * 60


class FailsAfterFirstChunk(ContentFile):
    """Content whose reading fails part-way, as a dropped connection or a full disk would."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(b"x" * 3000, name="upload")
        self.error = error

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        yield b"first chunk"
        raise self.error


@pytest.fixture
def storage(tmp_path):
    return DurableFileSystemStorage(location=str(tmp_path / "store"))


@pytest.mark.parametrize("error", [OSError("No space left on device"), KeyboardInterrupt()])
def test_a_failure_mid_write_leaves_no_file_and_no_partial(storage, error):
    with pytest.raises(type(error)):
        storage.save(NAME, FailsAfterFirstChunk(error))

    assert not storage.exists(NAME)
    assert files_under(storage.location) == []  # not even a .partial- file


def test_a_failure_mid_write_leaves_an_existing_blob_alone(storage):
    """The name already holds these bytes; a failed second write cannot touch them."""
    storage.save(NAME, ContentFile(b"whole"))
    storage.save(NAME, FailsAfterFirstChunk(OSError("boom")))  # name exists: nothing is written
    with storage.open(NAME) as fh:
        assert fh.read() == b"whole"
    assert files_under(storage.location) == [NAME]


def test_a_write_is_whole_and_named_exactly(storage):
    content = os.urandom(3 * DurableFileSystemStorage.CHUNK + 17)
    assert storage.save(NAME, ContentFile(content)) == NAME
    with storage.open(NAME) as fh:
        assert fh.read() == content
    assert files_under(storage.location) == [NAME]


def test_the_same_name_is_kept_not_renamed(storage):
    """Content-addressed: a second save of the same name keeps one file, under the same name."""
    assert storage.save(NAME, ContentFile(b"same")) == NAME
    assert storage.save(NAME, ContentFile(b"same")) == NAME
    assert files_under(storage.location) == [NAME]


def test_a_finished_upload_is_linked_into_place_not_copied(storage, settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    upload = TemporaryUploadedFile("minutes.txt", "text/plain", 5, None)
    upload.write(b"hello")
    upload.flush()
    try:
        storage.save(NAME, upload)
        assert os.stat(storage.path(NAME)).st_ino == os.stat(upload.temporary_file_path()).st_ino
    finally:
        upload.close()  # removes the temporary name; the blob keeps the bytes
    with storage.open(NAME) as fh:
        assert fh.read() == b"hello"
    assert oct(os.stat(storage.path(NAME)).st_mode & 0o777) == oct(settings.FILE_UPLOAD_PERMISSIONS)


def test_a_plain_file_is_written_with_the_configured_permissions(storage, settings, tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"bytes")
    with source.open("rb") as fh:
        storage.save(NAME, File(fh))
    assert oct(os.stat(storage.path(NAME)).st_mode & 0o777) == oct(settings.FILE_UPLOAD_PERMISSIONS)


def test_an_upload_on_another_filesystem_is_copied_whole_with_nothing_left(storage, settings):
    """COMMONROOM_UPLOAD_TEMP_DIR on another disk than the files (here a real tmpfs): no link is
    possible, so the bytes are copied through a scratch file beside the blobs and linked into
    place; neither folder keeps anything else."""
    from commonroom.core.tests.small_disk import small_disk
    from commonroom.documents.uploads import TemporaryUploadedFile

    content = os.urandom(3 * DurableFileSystemStorage.CHUNK + 5)
    with small_disk(8 * 1024) as other_disk:
        settings.FILE_UPLOAD_TEMP_DIR = str(other_disk)
        upload = TemporaryUploadedFile("minutes.bin", "application/octet-stream", 0, None)
        try:
            upload.write(content)
            upload.size = len(content)
            assert storage.save(NAME, upload) == NAME
            assert os.stat(storage.path(NAME)).st_nlink == 1
            assert files_under(storage.location) == [NAME]
        finally:
            upload.close()
        assert files_under(other_disk) == []
    with storage.open(NAME) as fh:
        assert fh.read() == content
    assert oct(os.stat(storage.path(NAME)).st_mode & 0o777) == oct(settings.FILE_UPLOAD_PERMISSIONS)
