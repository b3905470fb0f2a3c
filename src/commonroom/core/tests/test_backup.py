"""``commonroom backup`` and ``commonroom restore``: a backup taken while people write restores
every version it holds byte for byte; a damaged backup and a non-empty target are refused; the
collector deletes nothing a running backup still has to copy. Runs on whichever database the
suite uses (SQLite, or PostgreSQL, restoring into a database created here and dropped after)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from commonroom.comments.models import Comment
from commonroom.comments.services import comment_create
from commonroom.core import backup as backup_module
from commonroom.core import backup_lock
from commonroom.core.backup import MANIFEST
from commonroom.documents import services as documents
from commonroom.documents.models import Blob, Version, blob_storage_name
from commonroom.documents.tests.factories import access_for, doc_access_for, new_version, upload
from commonroom.live.tests.servers import test_database_url as database_url
from commonroom.previews.models import PreviewFile
from commonroom.previews.tests.factories import make_ready_preview

pytestmark = pytest.mark.django_db(transaction=True)


def commonroom(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "commonroom", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def this_installation(settings: Any) -> dict[str, str]:
    """The environment of a second process on this test's database and files."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "COMMONROOM_DATA_DIR": str(settings.DATA_DIR),
        "COMMONROOM_MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }


@contextmanager
def new_installation(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """The environment of an empty installation: a new data directory and, on PostgreSQL, a
    database created for it (and dropped afterwards). Yields (env, data dir)."""
    data_dir = tmp_path / f"restored-{secrets.token_hex(3)}"
    env = {**os.environ, "COMMONROOM_DATA_DIR": str(data_dir)}
    # Nothing of this installation's: its database, files, keys or audit checkpoint file.
    for name in (
        "DATABASE_URL",
        "COMMONROOM_MEDIA_ROOT",
        "SECRET_KEY",
        "COMMONROOM_AUDIT_KEY",
        "COMMONROOM_AUDIT_CHECKPOINTS",
    ):
        env.pop(name, None)
    if connection.vendor != "postgresql":
        yield env, data_dir
        return
    import psycopg

    db = connection.settings_dict
    name = f"{db['NAME']}_restore_{secrets.token_hex(4)}"
    admin = psycopg.connect(
        dbname="postgres",
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
        autocommit=True,
    )
    admin.execute(f'CREATE DATABASE "{name}"')
    env["DATABASE_URL"] = database_url().rsplit("/", 1)[0] + f"/{name}"
    try:
        yield env, data_dir
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def restored_rows(env: dict[str, str], data_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows read straight from the restored database (not through this process's Django)."""
    if "DATABASE_URL" in env:
        import psycopg

        with psycopg.connect(env["DATABASE_URL"]) as conn:
            return list(conn.execute(sql).fetchall())
    with sqlite3.connect(data_dir / "commonroom.sqlite3") as conn:
        return list(conn.execute(sql).fetchall())


def original_bytes(sha: str) -> bytes:
    with default_storage.open(blob_storage_name(sha), "rb") as fh:
        return bytes(fh.read())


class Writers:
    """Real writers in threads: two upload new versions of their own document, one comments."""

    def __init__(self, team: Any) -> None:
        self.team = team
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.versions_at: list[float] = []  # monotonic time each version committed
        self.comments = 0
        self.docs = [
            upload(team.editor, team.workspace, f"register-{i}.bin", os.urandom(50_000)).document
            for i in range(2)
        ]
        self.threads = [
            threading.Thread(target=self._run, args=(self._versions, doc)) for doc in self.docs
        ] + [threading.Thread(target=self._run, args=(self._comments, self.docs[0]))]

    def _run(self, work: Any, doc: Any) -> None:
        try:
            while not self.stop.is_set():
                work(doc)
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            connection.close()

    def _versions(self, doc: Any) -> None:
        new_version(self.team.editor, doc, os.urandom(200_000 + secrets.randbelow(100_000)))
        self.versions_at.append(time.monotonic())

    def _comments(self, doc: Any) -> None:
        comment_create(
            actor=self.team.commenter,
            doc_access=doc_access_for(self.team.commenter, doc),
            body=f"Checked line {self.comments} against the ledger.",
        )
        self.comments += 1
        time.sleep(0.02)

    def __enter__(self) -> Writers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)
        assert not any(t.is_alive() for t in self.threads), "a writer never finished"
        if self.errors:
            raise self.errors[0]


@pytest.mark.slow
def test_a_backup_taken_while_people_write_restores_every_version_byte_for_byte(
    team, settings, tmp_path
):
    backup_dir = tmp_path / "backup"
    with Writers(team) as writers:
        deadline = time.monotonic() + 60
        while len(writers.versions_at) < 4:  # the writers are under way
            assert not writers.errors and time.monotonic() < deadline, writers.errors
            time.sleep(0.05)
        before = set(Version.objects.values_list("document_id", "number"))
        comments_before = Comment.objects.count()
        started = time.monotonic()
        taken = commonroom("backup", str(backup_dir), env=this_installation(settings))
        ended = time.monotonic()
        time.sleep(0.2)
    assert taken.returncode == 0, taken.stdout + taken.stderr
    assert "backup written to" in taken.stdout
    written_meanwhile = [t for t in writers.versions_at if started < t < ended]
    assert written_meanwhile, "no version was written while the backup ran"

    original = {
        (d, n): sha for d, n, sha in Version.objects.values_list("document_id", "number", "blob_id")
    }
    with new_installation(tmp_path) as (env, data_dir):
        done = commonroom("restore", str(backup_dir), env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "fsck: checked" in done.stdout and "; ok" in done.stdout
        assert "audit verify --files: ok:" in done.stdout
        assert "search_reindex: Search index rebuilt" in done.stdout
        rows = restored_rows(
            env, data_dir, "SELECT document_id, number, blob_id FROM documents_version"
        )
        [(restored_comments,)] = restored_rows(
            env, data_dir, "SELECT COUNT(*) FROM comments_comment"
        )

    restored = {(uuid.UUID(str(d)), n): sha for d, n, sha in rows}
    assert before <= set(restored), "a version committed before the backup began is missing"
    assert restored_comments >= comments_before
    for key, sha in restored.items():
        assert original[key] == sha, f"{key} points at other bytes after the restore"
        restored_file = data_dir / "files" / blob_storage_name(sha)
        assert restored_file.read_bytes() == original_bytes(sha), f"{key}: bytes differ"
        assert hashlib.sha256(restored_file.read_bytes()).hexdigest() == sha
    # Each document's versions are a run 1..n in the restore, as in the original.
    for doc in writers.docs:
        numbers = sorted(n for d, n in restored if d == doc.pk)
        assert numbers == list(range(1, len(numbers) + 1))


@pytest.fixture
def a_backup(team, tmp_path) -> Path:
    upload(team.editor, team.workspace, "rota.txt", b"Monday: Priya\nTuesday: Tom\n")
    upload(team.editor, team.workspace, "budget.csv", b"line,amount\nstaff,100\n")
    directory = tmp_path / "backup"
    call_command("backup", str(directory), stdout=StringIO())
    return directory


def first_blob_file(directory: Path) -> Path:
    return sorted((directory / "files" / "blobs").rglob("*"), key=str)[-1]


def database_file(directory: Path) -> Path:
    sqlite = directory / backup_module.SQLITE_FILE
    return sqlite if sqlite.exists() else directory / backup_module.PG_FILE


def change_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda d: change_a_byte(first_blob_file(d)), "has changed"),
        (lambda d: change_a_byte(database_file(d)), "database."),
        (lambda d: first_blob_file(d).unlink(), "is missing"),
        (lambda d: (d / MANIFEST).unlink(), "not a finished Commonroom backup"),
        (lambda d: (d / "files" / "blobs" / "stray").write_bytes(b"x"), "is not in the manifest"),
        (
            lambda d: (d / MANIFEST).write_text(
                "".join((d / MANIFEST).read_text().splitlines(keepends=True)[1:])
            ),
            "is not in the manifest",
        ),
    ],
    ids=[
        "byte-in-blob",
        "byte-in-database",
        "missing-blob",
        "no-manifest",
        "extra-file",
        "line-removed",
    ],
)
def test_a_damaged_backup_is_refused_with_a_sentence_before_anything_is_restored(
    a_backup, settings, damage, said
):
    """Checked before the target is even looked at: this installation is not empty, and the
    refusal is still about the damage."""
    damage(a_backup)
    versions = list(Version.objects.values_list("pk", "blob_id"))
    stored = sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())
    with pytest.raises(CommandError) as refused:
        call_command("restore", str(a_backup), stdout=StringIO())
    assert said in str(refused.value)
    assert "Nothing was restored." in str(refused.value)
    assert list(Version.objects.values_list("pk", "blob_id")) == versions
    assert sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()) == stored


@pytest.mark.slow
def test_the_intact_backup_restores_with_its_preview_files(team, settings, tmp_path):
    """The counterpart of the damage cases, and what happens to preview files: backed up; one
    gone before it could be copied (its preview remade meanwhile) has its preview made again."""
    kept = upload(team.editor, team.workspace, "rota.txt", b"Monday: Priya\n").document
    remade = upload(team.editor, team.workspace, "budget.txt", b"staff: 100\n").document
    make_ready_preview(kept, name="kept.png")
    make_ready_preview(remade, name="gone.png")
    gone = PreviewFile.objects.get(name="gone.png")
    default_storage.delete(gone.storage_name)
    out = StringIO()
    call_command("backup", str(tmp_path / "backup"), stdout=out)
    assert "1 preview files" in out.getvalue()
    assert "1 preview files were remade or removed while the backup ran" in out.getvalue()

    kept_file = PreviewFile.objects.get(name="kept.png")
    with new_installation(tmp_path) as (env, data_dir):
        done = commonroom("restore", str(tmp_path / "backup"), env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "1 previews queued to be made again" in done.stdout
        queued = restored_rows(
            env, data_dir, "SELECT args_kwargs FROM django_tasks_database_dbtaskresult"
        )
    assert len(list((data_dir / "files" / "blobs").rglob("*/*/*"))) == 2
    restored_png = data_dir / "files" / kept_file.storage_name
    assert restored_png.read_bytes() == default_storage.open(kept_file.storage_name).read()
    assert not (data_dir / "files" / gone.storage_name).exists()
    assert any(gone.preview_id in str(args) for (args,) in queued)


def test_restore_refuses_a_database_that_is_not_empty(a_backup):
    versions = Version.objects.count()
    with pytest.raises(CommandError, match=r"The target is not empty: the .* database .* tables"):
        call_command("restore", str(a_backup), stdout=StringIO())
    assert Version.objects.count() == versions


@pytest.mark.slow
def test_restore_refuses_file_storage_that_is_not_empty(a_backup, tmp_path):
    with new_installation(tmp_path) as (env, data_dir):
        leftover = data_dir / "files" / "blobs" / "ab" / "cd" / ("ab" * 32)
        leftover.parent.mkdir(parents=True)
        leftover.write_bytes(b"from an earlier installation")
        refused = commonroom("restore", str(a_backup), env=env)
        assert refused.returncode != 0
        assert "The target is not empty: the file storage already holds blobs/" in refused.stderr
        assert leftover.read_bytes() == b"from an earlier installation"


def test_only_the_account_that_took_the_backup_can_enter_it(team, tmp_path):
    old = os.umask(0o022)  # the usual umask, which leaves new files world-readable
    try:
        (tmp_path / "given").mkdir(mode=0o755)  # an empty folder someone made for it
        for directory in (tmp_path / "given", tmp_path / "new" / "backup"):
            call_command("backup", str(directory), stdout=StringIO())
            assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
            assert (directory / backup_module.MANIFEST).exists()
    finally:
        os.umask(old)


def test_backup_refuses_a_directory_that_is_not_empty(team, tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "notes.txt").write_text("keep")
    with pytest.raises(CommandError, match="is not empty: back up into a new or empty directory"):
        call_command("backup", str(tmp_path / "old"), stdout=StringIO())


def test_a_version_purged_and_collected_while_the_backup_copies_files_is_still_backed_up(
    team, tmp_path, monkeypatch
):
    """The database copy names the version; then it is purged and ``gc`` runs before the files
    are copied. The collector must leave the file alone until the backup is done."""
    sha = backed_up_though_purged_and_collected_meanwhile(team, tmp_path, monkeypatch)
    # Once the backup is over, the collector does its work.
    assert documents.blobs_collect_garbage() == 1
    assert not Blob.objects.filter(pk=sha).exists()


def backed_up_though_purged_and_collected_meanwhile(
    team: Any, tmp_path: Path, monkeypatch: Any
) -> str:
    """A backup during which, after its database copy names a version, the version is purged
    and ``gc`` runs (removing nothing: a backup is running), before the files are copied; the
    file is in the backup all the same. Returns the blob's SHA-256."""
    doc = upload(team.editor, team.workspace, "old-minutes.txt", b"minutes of a meeting").document
    sha = str(doc.versions.get().blob_id)
    Blob.objects.filter(pk=sha).update(
        touched_at=Blob.objects.get(pk=sha).created_at.replace(year=2000)
    )
    copy_files = backup_module._copy_files

    def purge_and_collect_first(*args: Any, **kwargs: Any) -> Any:
        documents.document_delete(actor=team.manager, doc_access=doc_access_for(team.manager, doc))
        documents.document_purge(
            actor=team.manager, access=access_for(team.manager, team.workspace), document=doc
        )
        assert documents.blobs_collect_garbage() == 0  # a backup is running
        return copy_files(*args, **kwargs)

    monkeypatch.setattr(backup_module, "_copy_files", purge_and_collect_first)
    out = StringIO()
    call_command("backup", str(tmp_path / "backup"), stdout=out)
    assert "backup written to" in out.getvalue()
    assert (
        tmp_path / "backup" / "files" / blob_storage_name(sha)
    ).read_bytes() == b"minutes of a meeting"
    return sha


def test_the_secret_key_file_is_copied_and_never_printed(team, settings, tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    key = (Path(settings.DATA_DIR) / "secret_key").read_text().strip()
    out = StringIO()
    call_command("backup", str(tmp_path / "backup"), stdout=out)
    copied = tmp_path / "backup" / "secret_key"
    assert copied.read_text().strip() == key
    assert copied.stat().st_mode & 0o077 == 0
    assert "was copied to secret_key" in out.getvalue()
    for said in (out.getvalue(), (tmp_path / "backup" / "backup.json").read_text()):
        assert key not in said


def test_a_secret_key_from_the_environment_is_noted_and_left_out(team, tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "an-environment-key-" + secrets.token_urlsafe(20))
    out = StringIO()
    call_command("backup", str(tmp_path / "backup"), stdout=out)
    assert not (tmp_path / "backup" / "secret_key").exists()
    assert "SECRET_KEY is set in the environment and is not in this backup" in out.getvalue()
    assert os.environ["SECRET_KEY"] not in out.getvalue()


@pytest.mark.skipif("os.environ.get('DATABASE_URL', '').startswith('postgres')")
def test_a_version_still_only_in_the_sqlite_wal_is_in_the_backup(team, tmp_path):
    """Copying the SQLite file alone loses what is committed but not yet checkpointed from the
    ``-wal`` file; the online backup API reads through it."""
    database = Path(connection.settings_dict["NAME"])
    with sqlite3.connect(database) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    version = upload(team.editor, team.workspace, "late.txt", b"committed a moment ago")
    assert Path(f"{database}-wal").stat().st_size > 0
    plain_copy = tmp_path / "plain-copy.sqlite3"
    # Copied by another process: a plain open() and close() of a database file in this process
    # would drop the POSIX locks SQLite holds on it here, and another process could then delete
    # the -wal and -shm files under this process's open connections ("disk I/O error" later).
    subprocess.run(["cp", str(database), str(plain_copy)], check=True, timeout=60)
    with sqlite3.connect(plain_copy) as copied:
        found = copied.execute(
            "SELECT COUNT(*) FROM documents_version WHERE blob_id = ?", [version.blob_id]
        )
        assert found.fetchone()[0] == 0  # the premise: the file alone does not have it yet

    call_command("backup", str(tmp_path / "backup"), stdout=StringIO())
    with sqlite3.connect(tmp_path / "backup" / backup_module.SQLITE_FILE) as backed_up:
        found = backed_up.execute(
            "SELECT COUNT(*) FROM documents_version WHERE blob_id = ?", [version.blob_id]
        )
        assert found.fetchone()[0] == 1
    assert (tmp_path / "backup" / "files" / blob_storage_name(version.blob_id)).exists()


HOLD_THE_BACKUP_LOCK = """
import sys, time, django
django.setup()
from django.db import connection
from commonroom.core import backup, backup_lock
if connection.vendor == "postgresql":
    held = backup._pg_connect()
    backup_lock.postgres_backup_hold(held)
else:
    held = backup_lock.sqlite_backup_hold(connection.settings_dict["NAME"])
    held.__enter__()
print("held", flush=True)
time.sleep(120)
"""


@pytest.mark.slow
def test_a_backup_killed_with_kill_9_leaves_the_collector_free(team, settings):
    """The lock a backup holds dies with its process: gc skips its run while the holder lives,
    and works again after ``kill -9``: at once on SQLite (the kernel drops the file lock with
    the process), within moments on PostgreSQL (the server ends the session, and with it the
    advisory lock, when it sees the client's socket close, which it does on its own time)."""
    Blob.objects.create(
        sha256="e" * 64, size=1, touched_at=team.workspace.created_at.replace(year=2000)
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_BACKUP_LOCK],
        env={**this_installation(settings), "DJANGO_SETTINGS_MODULE": "commonroom.settings"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        assert documents.blobs_collect_garbage() == 0
        assert Blob.objects.filter(pk="e" * 64).exists()
    finally:
        holder.kill()  # SIGKILL: no clean-up runs in the holder
        holder.wait(10)
        assert holder.stdout is not None
        holder.stdout.close()
    removed = documents.blobs_collect_garbage()
    deadline = time.monotonic() + 10
    while removed == 0 and connection.vendor == "postgresql" and time.monotonic() < deadline:
        time.sleep(0.05)
        removed = documents.blobs_collect_garbage()
    assert removed == 1
    assert not Blob.objects.filter(pk="e" * 64).exists()


def test_a_version_whose_file_is_already_missing_makes_the_backup_fail_naming_it(
    team, settings, tmp_path
):
    lost = upload(team.editor, team.workspace, "lost.txt", b"gone before the backup")
    upload(team.editor, team.workspace, "kept.txt", b"still here")
    (Path(settings.MEDIA_ROOT) / blob_storage_name(lost.blob_id)).unlink()
    out = StringIO()
    with pytest.raises(CommandError, match="but it is incomplete"):
        call_command("backup", str(tmp_path / "backup"), stdout=out)
    assert f"The file of blob {lost.blob_id} is missing from storage" in out.getvalue()
    assert (tmp_path / "backup" / MANIFEST).exists()  # the rest is backed up all the same


def a_backup_could_start() -> bool:
    """Whether another process could take the backup lock shared right now (without waiting)."""
    if connection.vendor == "postgresql":
        other = backup_module._pg_connect()
        try:
            row = other.execute(
                "SELECT pg_try_advisory_lock_shared(%s)", (backup_lock.ADVISORY_KEY,)
            ).fetchone()
            return bool(row[0])
        finally:
            other.close()
    fd = os.open(backup_lock.sqlite_lock_path(connection.settings_dict["NAME"]), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


@pytest.mark.parametrize("in_transaction", [True, False])
def test_the_collector_holds_the_lock_for_its_whole_block(team, in_transaction):
    """Inside a transaction or outside one (the sweep of leftovers runs outside), a backup
    cannot start until the collector's block is over."""
    with contextlib.ExitStack() as stack:
        if in_transaction:
            stack.enter_context(transaction.atomic())
        with backup_lock.collector_turn() as free:
            assert free
            Blob.objects.count()  # a statement after taking it: the lock must outlive it
            assert not a_backup_could_start()
    assert a_backup_could_start()


def test_the_files_a_backup_copies_are_declared_by_the_apps_that_own_them():
    """core names no domain app: documents and previews each say, in their ``backup.py``, which
    files their rows name, which storage folder they live in and what a restore puts right."""
    kinds = {kind.key: kind for kind in backup_module.backup_file_kinds()}
    assert list(kinds) == ["blobs", "preview_files"]  # INSTALLED_APPS order: documents first
    assert kinds["blobs"].prefix == "blobs" and not kinds["blobs"].vanished
    assert kinds["preview_files"].prefix == "previews" and kinds["preview_files"].vanished
    assert all(kind.after_restore is not None for kind in kinds.values())
