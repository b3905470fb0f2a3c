"""``commonroom backup`` and ``restore`` with the files in a bucket (``COMMONROOM_STORAGE=s3``),
against moto's S3 server in its own process (decision 55): every blob the database copy names
is copied out of the bucket and checked against its SHA-256, a blob missing from the bucket
fails the backup by name, a damaged backup is refused before anything reaches the new bucket,
and a backup restored into a fresh database and a fresh bucket gives back every version's bytes.
Blobs go through memory a chunk at a time. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection

from commonroom.core import backup as backup_module
from commonroom.core import backup_lock
from commonroom.core.backup import FILES, INFO, MANIFEST
from commonroom.core.tests.s3_server import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    S3Server,
    s3_server_started,
)
from commonroom.core.tests.test_backup import (
    backed_up_though_purged_and_collected_meanwhile,
    commonroom,
    new_installation,
    restored_rows,
    this_installation,
)
from commonroom.documents import services as documents
from commonroom.documents.models import Blob, Version, blob_storage_name
from commonroom.documents.tests.factories import access_for, doc_access_for, new_version, upload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server_started() as server:
        yield server


def new_bucket(s3: S3Server) -> str:
    name = f"commonroom-{secrets.token_hex(4)}"
    s3.make_bucket(name)
    return name


@pytest.fixture
def bucket(s3: S3Server, settings: Any) -> str:
    """This test's installation keeps its files in a new bucket on the S3 server."""
    name = new_bucket(s3)
    use_bucket(settings, s3, name)
    return name


def use_bucket(settings: Any, s3: S3Server, name: str) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": name,
                "endpoint_url": s3.url,
                "region_name": REGION,
                "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY,
                "file_overwrite": True,
                "default_acl": None,
            },
        },
    }


def objects(s3: S3Server, bucket: str) -> dict[str, bytes]:
    """Every object in ``bucket``, read straight from the server."""
    client: Any = s3.client()
    found: dict[str, bytes] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            found[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


# The bytes of a_register's five distinct blobs: two rotas of 21 bytes, the empty file, the scans.
BLOB_BYTES = 21 + 21 + 0 + 6 * 1024 * 1024 + 300_000


def a_register(team: Any) -> dict[tuple[uuid.UUID, int], str]:
    """Several documents and versions: the same bytes twice, an empty file, a file of a few
    MiB (a multipart upload on the way back). Returns (document, number) -> SHA-256."""
    same = b"Ward 7 rota, week 49\n"
    rota = upload(team.editor, team.workspace, "rota.txt", same).document
    new_version(team.editor, rota, b"Ward 7 rota, week 50\n")
    new_version(team.editor, rota, same)  # back to the first week's bytes
    upload(team.editor, team.workspace, "rota-copy.txt", same)
    upload(team.editor, team.workspace, "empty.txt", b"")
    scan = upload(team.editor, team.workspace, "scan.bin", os.urandom(6 * 1024 * 1024)).document
    new_version(team.editor, scan, os.urandom(300_000))
    return {
        (d, n): sha for d, n, sha in Version.objects.values_list("document_id", "number", "blob_id")
    }


def test_a_backup_from_a_bucket_restores_into_a_fresh_database_and_bucket_byte_for_byte(
    team, settings, tmp_path, s3, bucket
):
    """As a trust would: both commands run as processes with the S3 environment; the backup is
    then restored into a fresh database and a second bucket, and into a fresh data directory on
    disk (the manifest is the same shape whatever the storage)."""
    versions = a_register(team)
    assert len(versions) == 7 and len(set(versions.values())) == 5
    assert hashlib.sha256(b"").hexdigest() in versions.values()
    backup_dir = tmp_path / "backup"
    taken = commonroom(
        "backup", str(backup_dir), env={**this_installation(settings), **s3.environment(bucket)}
    )
    assert taken.returncode == 0, taken.stdout + taken.stderr
    assert (
        f"5 version files, 0 preview files ({BLOB_BYTES} bytes) copied from the bucket {bucket}"
        in taken.stdout
    )

    manifest: dict[str, str] = {}
    for line in (backup_dir / MANIFEST).read_text().splitlines():
        digest, name = line.split("  ", 1)
        manifest[name] = digest
    for sha in set(versions.values()):
        name = f"{FILES}/{blob_storage_name(sha)}"
        assert manifest[name] == sha, f"{name} is not listed with its SHA-256"
        assert hashlib.sha256((backup_dir / name).read_bytes()).hexdigest() == sha
    info = json.loads((backup_dir / INFO).read_text())
    assert info["storage"] == f"the bucket {bucket}" and info["blobs"] == 5

    original = objects(s3, bucket)
    fresh = new_bucket(s3)
    with new_installation(tmp_path) as (env, data_dir):
        done = commonroom("restore", str(backup_dir), env={**env, **s3.environment(fresh)})
        assert done.returncode == 0, done.stdout + done.stderr
        assert (
            f"5 files ({BLOB_BYTES} bytes) restored to the bucket {fresh}, "
            "each read back and checked against its SHA-256" in done.stdout
        )
        assert "fsck: checked" in done.stdout and "audit verify --files: ok:" in done.stdout
        rows = restored_rows(
            env, data_dir, "SELECT document_id, number, blob_id FROM documents_version"
        )
    assert {(uuid.UUID(str(d)), n): sha for d, n, sha in rows} == versions
    restored = objects(s3, fresh)
    assert set(restored) == {blob_storage_name(sha) for sha in versions.values()}
    for key, sha in versions.items():
        data = restored[blob_storage_name(sha)]
        assert data == original[blob_storage_name(sha)], f"{key}: bytes differ"
        assert hashlib.sha256(data).hexdigest() == sha

    with new_installation(tmp_path) as (env, data_dir):
        done = commonroom("restore", str(backup_dir), env=env)  # onto disk this time
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"restored to {data_dir / 'files'}" in done.stdout
    for key, sha in versions.items():
        on_disk = (data_dir / "files" / blob_storage_name(sha)).read_bytes()
        assert on_disk == original[blob_storage_name(sha)], f"{key}: bytes differ on disk"


def test_a_backup_from_disk_restores_into_a_bucket(team, tmp_path, s3):
    """The other way: this installation's files on disk, the restored one's in a bucket."""
    versions = a_register(team)
    call_command("backup", str(tmp_path / "backup"), stdout=StringIO())
    fresh = new_bucket(s3)
    with new_installation(tmp_path) as (env, _):
        done = commonroom("restore", str(tmp_path / "backup"), env={**env, **s3.environment(fresh)})
        assert done.returncode == 0, done.stdout + done.stderr
    restored = objects(s3, fresh)
    assert set(restored) == {blob_storage_name(sha) for sha in versions.values()}
    for sha in versions.values():
        assert hashlib.sha256(restored[blob_storage_name(sha)]).hexdigest() == sha
        with default_storage.open(blob_storage_name(sha), "rb") as fh:
            assert fh.read() == restored[blob_storage_name(sha)]


def test_a_blob_deleted_from_the_bucket_makes_the_backup_fail_naming_it(team, tmp_path, s3, bucket):
    lost = upload(team.editor, team.workspace, "lost.txt", b"gone before the backup")
    kept = upload(team.editor, team.workspace, "kept.txt", b"still here")
    client: Any = s3.client()
    client.delete_object(Bucket=bucket, Key=blob_storage_name(lost.blob_id))
    out = StringIO()
    with pytest.raises(CommandError, match="but it is incomplete"):
        call_command("backup", str(tmp_path / "backup"), stdout=out)
    assert f"The file of blob {lost.blob_id} is missing from storage" in out.getvalue()
    assert (
        f"1 version files, 0 preview files (10 bytes) copied from the bucket {bucket}"
        in out.getvalue()
    )
    info = json.loads((tmp_path / "backup" / INFO).read_text())
    assert any(lost.blob_id in problem for problem in info["problems"])
    assert (tmp_path / "backup" / FILES / blob_storage_name(kept.blob_id)).read_bytes() == (
        b"still here"
    )


def test_a_blob_changed_in_the_bucket_makes_the_backup_fail_naming_it(team, tmp_path, s3, bucket):
    altered = upload(team.editor, team.workspace, "altered.txt", b"the original words")
    client: Any = s3.client()
    client.put_object(Bucket=bucket, Key=blob_storage_name(altered.blob_id), Body=b"other words")
    out = StringIO()
    with pytest.raises(CommandError, match="but it is incomplete"):
        call_command("backup", str(tmp_path / "backup"), stdout=out)
    assert f"The file of blob {altered.blob_id} no longer matches its SHA-256" in out.getvalue()


def test_a_damaged_backup_is_refused_before_anything_reaches_the_new_bucket(
    team, tmp_path, s3, bucket
):
    damaged = upload(team.editor, team.workspace, "rota.txt", b"Monday: Priya\n")
    upload(team.editor, team.workspace, "budget.csv", b"line,amount\nstaff,100\n")
    call_command("backup", str(tmp_path / "backup"), stdout=StringIO())
    blob = tmp_path / "backup" / FILES / blob_storage_name(damaged.blob_id)
    blob.write_bytes(b"Monday: Priyo\n")
    fresh = new_bucket(s3)
    with new_installation(tmp_path) as (env, _):
        refused = commonroom(
            "restore", str(tmp_path / "backup"), env={**env, **s3.environment(fresh)}
        )
    assert refused.returncode != 0
    assert f"{FILES}/{blob_storage_name(damaged.blob_id)} has changed" in refused.stderr
    assert "Nothing was restored." in refused.stderr
    assert objects(s3, fresh) == {}


def test_restore_refuses_a_bucket_that_is_not_empty(team, tmp_path, s3, bucket):
    upload(team.editor, team.workspace, "rota.txt", b"Monday: Priya\n")
    call_command("backup", str(tmp_path / "backup"), stdout=StringIO())
    used = new_bucket(s3)
    leftover = blob_storage_name("ab" * 32)
    client: Any = s3.client()
    client.put_object(Bucket=used, Key=leftover, Body=b"from an earlier installation")
    with new_installation(tmp_path) as (env, _):
        refused = commonroom(
            "restore", str(tmp_path / "backup"), env={**env, **s3.environment(used)}
        )
    assert refused.returncode != 0
    assert (
        f"The target is not empty: the file storage already holds blobs/ (the bucket {used})"
        in refused.stderr
    )
    assert objects(s3, used) == {leftover: b"from an earlier installation"}


def test_a_large_blob_passes_through_memory_a_chunk_at_a_time(settings, tmp_path, s3, bucket):
    """Out of the bucket into the backup, and from the backup into another bucket: the most
    Python holds at once stays far below the file's 40 MiB, whatever its size."""
    size = 40 * 1024 * 1024
    source = tmp_path / "large.bin"
    with source.open("wb") as fh:
        for _ in range(size // (1024 * 1024)):
            fh.write(os.urandom(1024 * 1024))
    digest = backup_module._file_sha256(source)
    name = blob_storage_name(digest)
    with source.open("rb") as fh:
        client: Any = s3.client()
        client.upload_fileobj(fh, bucket, name)

    # Each storage made, and boto3's service description loaded, before memory is counted.
    assert default_storage.exists(name)
    tracemalloc.start()
    try:
        copied = backup_module._copy_out(name, tmp_path / "backup")
        _, out_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    use_bucket(settings, s3, new_bucket(s3))
    assert not default_storage.exists(name)
    tracemalloc.start()
    try:
        backup_module._copy_in(name, tmp_path / "backup" / FILES / name)
        _, in_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert copied == (size, digest)
    assert backup_module._stored_sha256(name) == (size, digest)
    # Out: a 1 MiB chunk or two. In: the multipart upload's 5 MiB part, spooled, then sent.
    assert out_peak < 4 * 1024 * 1024, f"the copy out held {out_peak} bytes at once"
    assert in_peak < 16 * 1024 * 1024, f"the copy in held {in_peak} bytes at once"


def test_a_version_purged_and_collected_while_the_backup_copies_from_the_bucket_is_kept(
    team, tmp_path, s3, bucket, monkeypatch
):
    """The lock is the database's, so it binds the collector with the files in a bucket too: the
    copy names the version, it is purged and ``gc`` runs before the files are copied, and the
    blob is still in the bucket for the backup to copy."""
    sha = backed_up_though_purged_and_collected_meanwhile(team, tmp_path, monkeypatch)
    # Once the backup is over, the collector removes the blob from the bucket.
    assert documents.blobs_collect_garbage() == 1
    assert blob_storage_name(sha) not in objects(s3, bucket)


@contextmanager
def a_backup_running() -> Iterator[None]:
    """The backup lock held shared, as ``commonroom backup`` holds it while it copies files.
    On PostgreSQL it is let go explicitly before the connection closes: a closed session's
    advisory lock is released only once the server has ended the session, a moment later,
    and a collector run at once could still find it held."""
    if connection.vendor == "postgresql":
        with backup_module._pg_connect() as pg_connection:
            backup_lock.postgres_backup_hold(pg_connection)
            try:
                yield
            finally:
                pg_connection.execute(
                    "SELECT pg_advisory_unlock_shared(%s)", (backup_lock.ADVISORY_KEY,)
                )
    else:
        with backup_lock.sqlite_backup_hold(connection.settings_dict["NAME"]):
            yield


def test_gc_on_a_bucket_removes_nothing_while_a_backup_runs_then_removes_what_no_row_uses(
    team, s3, bucket
):
    doc = upload(team.editor, team.workspace, "old-minutes.txt", b"minutes of a meeting").document
    sha = doc.versions.get().blob_id
    documents.document_delete(actor=team.manager, doc_access=doc_access_for(team.manager, doc))
    documents.document_purge(
        actor=team.manager, access=access_for(team.manager, team.workspace), document=doc
    )
    Blob.objects.filter(pk=sha).update(
        touched_at=Blob.objects.get(pk=sha).created_at.replace(year=2000)
    )
    stray = blob_storage_name("ab" * 32)  # a file no blob row names, as a crash leaves one
    client: Any = s3.client()
    client.put_object(Bucket=bucket, Key=stray, Body=b"left behind")
    time.sleep(1.1)  # older than a grace of 0 minutes, at the listing's one-second resolution
    with a_backup_running():
        out = StringIO()
        call_command("gc", "--grace-minutes", "0", stdout=out)
        assert "removed 0 unreferenced blob(s)" in out.getvalue()
        assert "0 file(s) with no blob record" in out.getvalue()
        assert set(objects(s3, bucket)) == {blob_storage_name(sha), stray}
    out = StringIO()
    call_command("gc", "--grace-minutes", "0", stdout=out)
    assert "removed 1 unreferenced blob(s)" in out.getvalue()
    assert "1 file(s) with no blob record" in out.getvalue()
    assert objects(s3, bucket) == {}
