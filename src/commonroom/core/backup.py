"""``commonroom backup DIR`` and ``commonroom restore DIR``: a backup that provably restores.

A backup is taken while the server runs and people write, in this order:

1. take the backup lock shared (``core/backup_lock.py``): the collector deletes nothing until the
   backup ends, and a collector already running is waited for;
2. copy the database as one consistent snapshot: SQLite's online backup API (it reads through the
   WAL, so committed writes still in ``-wal`` are in the copy), or ``pg_dump`` inside an exported
   REPEATABLE READ snapshot, in which the list of files to copy is read too;
3. copy every file in storage that copy names, a chunk at a time (local disk or a bucket:
   ``core/stored_files.py``), each checked against its SHA-256 when its row gives one. Which
   files those are, each app says in its ``backup.py`` (``BACKUP_FILES``: a list of
   :class:`FileKind`, found the way :mod:`commonroom.core.scheduling` finds ``schedule.py``, so
   ``core`` names no domain app): documents lists the blobs its versions refer to, previews the
   preview files. A version commits only after its blob is durable, so every blob the copy
   refers to is already complete; the collector cannot remove one meanwhile (1);
4. note the secret key and the audit key (each copied when it lives in the data directory,
   never printed); the audit checkpoint file was copied first of all, before the database, so
   every checkpoint in it is of rows the database copy holds;
5. write ``backup.json`` (what is in it) and, last, ``manifest.sha256``: the SHA-256 of every
   other file, in ``sha256sum`` format. A directory without it is not a finished backup.

A file of a kind that may be remade (a preview file: its preview was remade meanwhile) and is
gone by the time it is copied is listed in ``backup.json``; after restoring, each kind's app
puts right the rows whose files were not in the backup (previews re-queues those previews, and
the worker makes them again).

Restore goes only into an empty database and empty file storage. It checks every SHA-256 of the
manifest first (and refuses a file the manifest does not list), then writes the files through the
storage API (a large one into a bucket as a multipart upload), reading each back and
checking its SHA-256, then the database, then brings the schema up to this version
(``migrate``), then lets each kind's app put right the rows whose files the backup did not hold
(documents drops unreferenced blob rows whose file was never written: an upload caught between
claiming its blob and writing it; previews re-queues previews whose files are absent). The
command then runs ``fsck``, ``audit verify --files`` and ``search_reindex`` and reports each.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.utils.module_loading import module_has_submodule

from commonroom.core import stored_files
from commonroom.core.backup_lock import postgres_backup_hold, sqlite_backup_hold

FORMAT = "commonroom-backup/1"
MANIFEST = "manifest.sha256"
INFO = "backup.json"
FILES = "files"  # storage names below this folder: files/blobs/ab/cd/<sha>, files/previews/...
SECRET_KEY_FILE = "secret_key"  # noqa: S105 (a file name, not a secret)
AUDIT_KEY_FILE = "audit_key"
# The installation's records-signing identity (certificates/signing.py), when it lives in the
# data directory: its folder there, and the two files' names in a backup.
RECORDS_SIGNING_FOLDER = "records-signing"
RECORDS_SIGNING_FILES = {
    "key.pem": "records_signing_key.pem",
    "cert.pem": "records_signing_cert.pem",
}
AUDIT_CHECKPOINTS_FILE = "audit-checkpoints.jsonl"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
CHUNK = stored_files.CHUNK


class BackupRefused(Exception):
    """The backup or restore cannot go ahead; the message is a sentence for the operator."""


@dataclass(frozen=True)
class StoredFile:
    """A file in storage that a row of the database copy names."""

    name: str  # its storage name, which is also its path under files/ in the backup
    sha256: str = ""  # what its contents' SHA-256 must be, when the row says ("": not known)
    needed: bool = True  # False: copied only when whole and matching (a claim nothing uses yet)
    what: str = ""  # how a sentence names it ("blob <sha>"); its storage name when empty


@dataclass(frozen=True)
class FileKind:
    """One kind of file in storage that an app's rows name, as the app's ``backup.py`` declares
    it in ``BACKUP_FILES``."""

    key: str  # its count's key in backup.json ("blobs")
    label: str  # how the report counts it ("version files")
    prefix: str  # the storage folder its files live in: restore wants it empty
    # The files the database copy names, read with a DB-API cursor inside the copy's snapshot
    # (SQLite: on the copy itself; PostgreSQL: in the exported snapshot pg_dump reads).
    listed: Callable[[Any], list[StoredFile]]
    # A sentence for needed files gone by the time they are copied, "{n}" their number; such a
    # file is then not a problem (remade meanwhile) but listed. Empty: a gone file is a problem.
    vanished: str = ""
    # After a restore, given the storage names restored: puts right the rows whose files the
    # backup did not hold; returns a sentence for the operator, or "" when there were none.
    after_restore: Callable[[set[str]], str] | None = None


def backup_file_kinds() -> list[FileKind]:
    """Every app's ``BACKUP_FILES``, in the order of ``INSTALLED_APPS``."""
    kinds: list[FileKind] = []
    for config in apps.get_app_configs():
        if module_has_submodule(config.module, "backup"):
            kinds.extend(getattr(import_module(f"{config.name}.backup"), "BACKUP_FILES", []))
    return kinds


@dataclass
class BackupReport:
    directory: Path
    engine: str
    storage: str = ""  # where the files were copied from: the bucket, or the folder
    counts: dict[str, int] = field(default_factory=dict)  # FileKind.key: files copied
    labels: dict[str, str] = field(default_factory=dict)  # FileKind.key: its label
    bytes: int = 0
    absent: dict[str, list[str]] = field(default_factory=dict)  # FileKind.key: files gone
    vanished: list[str] = field(default_factory=list)  # a sentence per kind with files gone
    problems: list[str] = field(default_factory=list)  # needed files missing or altered
    secret_key: str = ""
    audit_key: str = ""
    records_signing: str = ""
    audit_checkpoints: str = ""


@dataclass
class RestoreReport:
    engine: str
    storage: str = ""  # where the files were put: the bucket, or the folder
    files: int = 0
    bytes: int = 0
    put_right: list[str] = field(default_factory=list)  # what each app did after the restore
    secret_key: str = ""
    audit_key: str = ""
    records_signing: str = ""
    audit_checkpoints: str = ""
    migrated: str = ""


# --- Shared ----------------------------------------------------------------------------------


def _engine() -> str:
    vendor = connection.vendor
    if vendor not in ("sqlite", "postgresql"):
        raise BackupRefused(f"Backups support SQLite and PostgreSQL, not {vendor}.")
    return vendor


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pg_env() -> tuple[dict[str, str], str]:
    """Environment for pg_dump / pg_restore naming this process's database, and its name."""
    db: dict[str, Any] = connection.settings_dict
    env = {**os.environ}
    for var, key in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER")):
        if db.get(key):
            env[var] = str(db[key])
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    if (db.get("OPTIONS") or {}).get("sslmode"):
        env["PGSSLMODE"] = str(db["OPTIONS"]["sslmode"])
    return env, str(db["NAME"])


def _run_pg_tool(args: list[str], env: dict[str, str]) -> None:
    if shutil.which(args[0]) is None:
        raise BackupRefused(
            f"{args[0]} was not found: PostgreSQL backups need the PostgreSQL client tools "
            "(pg_dump, pg_restore) of the server's major version."
        )
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupRefused(f"{args[0]} failed: {result.stderr.strip()}")


# --- Backup ----------------------------------------------------------------------------------


@dataclass
class _Snapshot:
    files: dict[str, list[StoredFile]]  # FileKind.key: the files the database copy names


def _snapshot_lists(cursor: Any) -> _Snapshot:
    return _Snapshot({kind.key: kind.listed(cursor) for kind in backup_file_kinds()})


def _copy_sqlite(target: Path) -> _Snapshot:
    source = sqlite3.connect(connection.settings_dict["NAME"], timeout=30)
    copy = sqlite3.connect(target)
    try:
        # One step (pages=-1): a single read transaction, so one consistent state. Writers go on
        # meanwhile (WAL); the copy includes what is committed but not yet checkpointed.
        source.backup(copy, pages=-1)
        # A file that stands alone (no -wal beside it), readable from read-only media.
        copy.execute("PRAGMA journal_mode=DELETE")
        return _snapshot_lists(copy.cursor())
    finally:
        copy.close()
        source.close()


def _copy_postgres(target: Path, pg_connection: Any) -> _Snapshot:
    env, name = _pg_env()
    with pg_connection.transaction():
        pg_connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot = pg_connection.execute("SELECT pg_export_snapshot()").fetchone()[0]
        # pg_dump reads the very state this transaction sees, so the list of files read below
        # matches the dump exactly.
        _run_pg_tool(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot}",
                f"--file={target}",
                name,
            ],
            env,
        )
        return _snapshot_lists(pg_connection.cursor())


def _pg_connect() -> Any:
    import psycopg

    db: dict[str, Any] = connection.settings_dict
    params = {
        "dbname": db["NAME"],
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "sslmode": (db.get("OPTIONS") or {}).get("sslmode"),
    }
    return psycopg.connect(autocommit=True, **{k: v for k, v in params.items() if v})


def _copy_out(name: str, directory: Path) -> tuple[int, str] | None:
    """Copy storage file ``name`` to ``directory/files/name`` a chunk at a time; (size, sha256),
    or None if it is gone."""
    dest = directory / FILES / name
    with stored_files.reading(name) as source:
        if source is None:
            return None
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".partial-{dest.name}")
        h = hashlib.sha256()
        size = 0
        with tmp.open("wb") as out:
            while chunk := source.read(CHUNK):
                h.update(chunk)
                out.write(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
    tmp.replace(dest)
    return size, h.hexdigest()


def _stored_sha256(name: str) -> tuple[int, str] | None:
    """(size, sha256) of storage file ``name`` as storage now gives it back; None if absent."""
    with stored_files.reading(name) as source:
        if source is None:
            return None
        h = hashlib.sha256()
        size = 0
        while chunk := source.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


# At least this big, a file goes into a bucket as a multipart upload of parts this size (S3's
# smallest part); a smaller one in one PUT, which holds no more than that in memory.
MULTIPART = 5 * 1024 * 1024


def _copy_in(name: str, path: Path) -> None:
    """Put the backup's ``path`` into storage as ``name``. On disk, ``save`` writes it durably.
    Into a bucket, a large file goes through the storage's file object opened for writing: a
    multipart upload whose parts leave memory as they are sent, where ``save`` would hand it to
    boto3's transfer manager, which holds up to ten 8 MiB parts at once."""
    with path.open("rb") as fh:
        if not stored_files.in_bucket() or path.stat().st_size < MULTIPART:
            saved = default_storage.save(name, File(fh, name=Path(name).name))
            if saved != name:
                raise BackupRefused(f"The storage saved {name} as {saved}; the restore stopped.")
            return
        with default_storage.open(name, "wb") as out:
            while chunk := fh.read(CHUNK):
                out.write(chunk)


def _secret_key_out(directory: Path) -> dict[str, Any]:
    key_file = Path(settings.DATA_DIR) / "secret_key"
    if os.environ.get("SECRET_KEY"):
        return {
            "source": "environment",
            "included": False,
            "note": "SECRET_KEY is set in the environment and is not in this backup: keep it "
            "apart (for example in the password safe) and set it again when restoring.",
        }
    if key_file.exists():
        dest = directory / SECRET_KEY_FILE
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key_file.read_bytes())
            out.flush()
            os.fsync(out.fileno())
        return {
            "source": "data directory",
            "included": True,
            "note": f"The secret key lives in the data directory and was copied to "
            f"{SECRET_KEY_FILE}: this backup must be kept as safe as the key itself.",
        }
    return {"source": "none", "included": False, "note": "No secret key was found."}


def _audit_key_out(directory: Path) -> dict[str, Any]:
    """The audit trail's HMAC key, treated as the secret key is: without it the restored chains
    cannot be verified (nor written to)."""
    if os.environ.get("COMMONROOM_AUDIT_KEY"):
        return {
            "source": "environment",
            "included": False,
            "note": "COMMONROOM_AUDIT_KEY is set in the environment and is not in this backup: "
            "keep it apart (for example in the password safe) and set it again when restoring.",
        }
    key_file = Path(settings.DATA_DIR) / "audit_key"
    if key_file.exists():
        _write_private(directory / AUDIT_KEY_FILE, key_file.read_bytes())
        return {
            "source": "data directory",
            "included": True,
            "note": f"The audit key lives in the data directory and was copied to "
            f"{AUDIT_KEY_FILE}: this backup must be kept as safe as the key itself.",
        }
    return {"source": "none", "included": False, "note": "No audit key was found."}


def _records_signing_out(directory: Path) -> dict[str, Any]:
    """The key and certificate that sign final records' certificate PDFs, treated as the audit
    key is: without them the restored installation signs with a new identity, and certificates
    it signed before no longer verify against it."""
    if os.environ.get("COMMONROOM_RECORDS_SIGNING_KEY"):
        return {
            "source": "environment",
            "included": False,
            "note": "COMMONROOM_RECORDS_SIGNING_KEY names the records-signing key, which is not "
            "in this backup: keep it apart and configure it again when restoring.",
        }
    folder = Path(settings.DATA_DIR) / RECORDS_SIGNING_FOLDER
    if all((folder / name).is_file() for name in RECORDS_SIGNING_FILES):
        for name, saved in RECORDS_SIGNING_FILES.items():
            _write_private(directory / saved, (folder / name).read_bytes())
        return {
            "source": "data directory",
            "included": True,
            "note": "The records-signing key and certificate live in the data directory and were "
            "copied: this backup must be kept as safe as the key itself.",
        }
    return {
        "source": "none",
        "included": False,
        "note": "No records-signing key was found (none is made before the first certificate).",
    }


def _write_private(dest: Path, data: bytes) -> None:
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _audit_checkpoints_out(directory: Path) -> dict[str, Any]:
    """Copy the audit checkpoint file (its complete lines). Called before the database is
    copied: every checkpoint in the copy is then of rows the database copy holds."""
    source = Path(settings.COMMONROOM_AUDIT_CHECKPOINTS)
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        return {"included": False, "lines": 0, "note": "There is no audit checkpoint file yet."}
    data = data[: data.rfind(b"\n") + 1]  # a line being appended right now is left out
    _write_private(directory / AUDIT_CHECKPOINTS_FILE, data)
    lines = data.count(b"\n")
    return {
        "included": True,
        "lines": lines,
        "note": f"The audit checkpoint file ({lines} checkpoints) was copied to "
        f"{AUDIT_CHECKPOINTS_FILE}.",
    }


def _prepare_directory(directory: Path) -> None:
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BackupRefused(
            f"{directory} is not empty: back up into a new or empty directory, so that nothing "
            "in it is mistaken for part of the backup."
        )
    directory.mkdir(parents=True, exist_ok=True)
    # The database holds password hashes, second-factor secrets and every comment: only the
    # account that runs the backup may enter the folder, whatever its umask.
    directory.chmod(0o700)


def _copy_files(
    snapshot: _Snapshot, directory: Path, report: BackupReport, sums: dict[str, str]
) -> set[Path]:
    """Copy the files the database copy names; returns the folders written."""
    dirs: set[Path] = set()
    for kind in backup_file_kinds():
        report.counts[kind.key] = 0
        report.labels[kind.key] = kind.label
        absent = report.absent.setdefault(kind.key, [])
        for stored in snapshot.files.get(kind.key, []):
            what = stored.what or stored.name
            copied = _copy_out(stored.name, directory)
            if not stored.needed:
                # Kept when its whole file is there, dropped by restore when it is not.
                if copied is not None and copied[1] == (stored.sha256 or copied[1]):
                    sums[f"{FILES}/{stored.name}"] = copied[1]
                    dirs.add((directory / FILES / stored.name).parent)
                elif copied is not None:
                    (directory / FILES / stored.name).unlink()
                continue
            if copied is None:
                if kind.vanished:
                    absent.append(stored.name)
                else:
                    report.problems.append(
                        f"The file of {what} is missing from storage though the database "
                        "refers to it (run `commonroom fsck`)."
                    )
                continue
            size, digest = copied
            if stored.sha256 and digest != stored.sha256:
                report.problems.append(
                    f"The file of {what} no longer matches its SHA-256 (run `commonroom fsck`)."
                )
            sums[f"{FILES}/{stored.name}"] = digest
            dirs.add((directory / FILES / stored.name).parent)
            report.counts[kind.key] += 1
            report.bytes += size
        if absent:
            report.vanished.append(kind.vanished.format(n=len(absent)))
    return dirs


def backup_create(*, directory: Path) -> BackupReport:
    """Take a consistent backup into ``directory`` (new or empty) while the server runs."""
    engine = _engine()
    _prepare_directory(directory)
    report = BackupReport(directory=directory, engine=engine, storage=stored_files.described())
    sums: dict[str, str] = {}
    db_file = SQLITE_FILE if engine == "sqlite" else PG_FILE
    checkpoints = _audit_checkpoints_out(directory)
    report.audit_checkpoints = checkpoints["note"]
    if checkpoints["included"]:
        sums[AUDIT_CHECKPOINTS_FILE] = _file_sha256(directory / AUDIT_CHECKPOINTS_FILE)
    with contextlib.ExitStack() as held:
        # The lock is held from before the database copy until the last file is copied.
        if engine == "sqlite":
            held.enter_context(sqlite_backup_hold(connection.settings_dict["NAME"]))
            snapshot = _copy_sqlite(directory / db_file)
        else:
            pg_connection = held.enter_context(_pg_connect())  # closing it releases the lock
            postgres_backup_hold(pg_connection)
            snapshot = _copy_postgres(directory / db_file, pg_connection)
        sums[db_file] = _file_sha256(directory / db_file)
        dirs = _copy_files(snapshot, directory, report, sums)

    key = _secret_key_out(directory)
    report.secret_key = key["note"]
    if key["included"]:
        sums[SECRET_KEY_FILE] = _file_sha256(directory / SECRET_KEY_FILE)
    audit_key = _audit_key_out(directory)
    report.audit_key = audit_key["note"]
    if audit_key["included"]:
        sums[AUDIT_KEY_FILE] = _file_sha256(directory / AUDIT_KEY_FILE)
    signing = _records_signing_out(directory)
    report.records_signing = signing["note"]
    if signing["included"]:
        for name in RECORDS_SIGNING_FILES.values():
            sums[name] = _file_sha256(directory / name)
    info = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "database": {"engine": engine, "file": db_file},
        "storage": report.storage,
        "secret_key": key,
        "audit_key": audit_key,
        "records_signing": signing,
        "audit_checkpoints": checkpoints,
        **report.counts,
        "bytes": report.bytes,
        "absent": {key: names for key, names in report.absent.items() if names},
        "problems": report.problems,
    }
    _write_durably(directory / INFO, json.dumps(info, indent=2).encode())
    sums[INFO] = _file_sha256(directory / INFO)
    for d in dirs.copy():
        dirs.update(p for p in d.parents if p.is_relative_to(directory / FILES))
    for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        _fsync_dir(d)  # deepest first: each new entry is durable before its parent's
    lines = "".join(f"{digest}  {path}\n" for path, digest in sorted(sums.items()))
    _write_durably(directory / MANIFEST, lines.encode())
    return report


def _write_durably(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write ``data`` to ``path`` whole or not at all (a crash leaves the old file or none);
    ``private``: readable by this account only (0600), for keys."""
    tmp = path.with_name(f".partial-{path.name}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o666)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)
    _fsync_dir(path.parent)


# --- Restore ---------------------------------------------------------------------------------


def _read_manifest(directory: Path) -> dict[str, str]:
    path = directory / MANIFEST
    if not path.is_file():
        raise BackupRefused(
            f"{directory} has no {MANIFEST}: it is not a finished Commonroom backup "
            "(a backup writes its manifest last). Nothing was restored."
        )
    sums: dict[str, str] = {}
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        bad_name = not name or name.startswith("/") or ".." in Path(name).parts
        if not sep or len(digest) != 64 or bad_name:
            raise BackupRefused(
                f"Line {number} of {MANIFEST} is damaged: the backup cannot be trusted. "
                "Nothing was restored."
            )
        sums[name] = digest
    return sums


def backup_check(*, directory: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """Check every file of the backup against the manifest; returns (manifest, backup.json).
    Refuses, with a sentence, a missing, changed or unlisted file."""
    directory = directory.resolve()
    if not directory.is_dir():
        raise BackupRefused(f"{directory} is not a directory. Nothing was restored.")
    sums = _read_manifest(directory)
    damaged: list[str] = []
    for name, digest in sums.items():
        path = directory / name
        if not path.is_file():
            damaged.append(f"{name} is missing")
        elif _file_sha256(path) != digest:
            damaged.append(f"{name} has changed (its SHA-256 is not the one recorded)")
    listed = set(sums) | {MANIFEST}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.relative_to(directory).as_posix() not in listed:
            damaged.append(f"{path.relative_to(directory).as_posix()} is not in the manifest")
    if damaged:
        shown = "; ".join(damaged[:5]) + (
            f"; and {len(damaged) - 5} more" if len(damaged) > 5 else ""
        )
        raise BackupRefused(f"The backup in {directory} is damaged: {shown}. Nothing was restored.")
    try:
        info = json.loads((directory / INFO).read_text())
    except (OSError, ValueError) as exc:
        raise BackupRefused(f"{INFO} cannot be read ({exc}). Nothing was restored.") from exc
    if info.get("format") != FORMAT:
        raise BackupRefused(
            f"This backup's format is {info.get('format')!r}; this version restores {FORMAT}."
        )
    return sums, info


def _storage_has(prefix: str) -> bool:
    try:
        dirs, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return bool(dirs or [f for f in files if not f.startswith(".partial-")])


def _refuse_unless_empty(engine: str) -> None:
    tables = connection.introspection.table_names()
    where = "the SQLite database" if engine == "sqlite" else "the PostgreSQL database"
    if tables:
        raise BackupRefused(
            f"The target is not empty: {where} {connection.settings_dict['NAME']} already has "
            f"{len(tables)} tables. Restore only into an empty data directory or a new, empty "
            "database; nothing was changed."
        )
    for prefix in sorted({kind.prefix for kind in backup_file_kinds()}):
        if _storage_has(prefix):
            raise BackupRefused(
                f"The target is not empty: the file storage already holds {prefix}/ "
                f"({stored_files.described()}). Restore only into an empty data directory or an "
                "empty bucket; nothing was changed."
            )


def _files_in(sums: dict[str, str]) -> Iterator[str]:
    prefix = f"{FILES}/"
    return (name[len(prefix) :] for name in sorted(sums) if name.startswith(prefix))


def restore_from(*, directory: Path) -> RestoreReport:
    """Restore the backup in ``directory`` into this installation's empty database and storage."""
    directory = directory.resolve()
    engine = _engine()
    sums, info = backup_check(directory=directory)
    backed_up = info["database"]["engine"]
    if backed_up != engine:
        raise BackupRefused(
            f"This is a backup of a {backed_up} database and the target is {engine}: restore "
            "into the same kind of database. Nothing was restored."
        )
    _refuse_unless_empty(engine)
    report = RestoreReport(engine=engine)

    report.storage = stored_files.described()
    restored: set[str] = set()
    for name in _files_in(sums):
        _copy_in(name, directory / FILES / name)
        # Read back from storage and checked, so a file the storage kept otherwise (a failed
        # upload, a proxy's rewrite) stops the restore here rather than at the first download.
        back = _stored_sha256(name)
        if back is None or back[1] != sums[f"{FILES}/{name}"]:
            said = "is not there" if back is None else "reads back with another SHA-256"
            raise BackupRefused(
                f"{name} was written to {report.storage} but {said}; the restore stopped after "
                f"{report.files} files. Empty the database and the storage before trying again."
            )
        restored.add(name)
        report.files += 1
        report.bytes += back[0]

    db_file = directory / info["database"]["file"]
    if engine == "sqlite":
        connection.close()
        source = sqlite3.connect(f"{db_file.as_uri()}?mode=ro&immutable=1", uri=True)
        target = sqlite3.connect(connection.settings_dict["NAME"], timeout=30)
        try:
            source.backup(target, pages=-1)
        finally:
            target.close()
            source.close()
    else:
        connection.close()
        env, name = _pg_env()
        _run_pg_tool(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={name}",
                str(db_file),
            ],
            env,
        )

    report.secret_key = _secret_key_in(directory, info)
    report.audit_key = _audit_key_in(directory, info)
    report.records_signing = _records_signing_in(directory, info)
    report.audit_checkpoints = _audit_checkpoints_in(directory, info)
    out = _Collect()
    call_command("migrate", interactive=False, verbosity=1, stdout=out)
    report.migrated = (
        "schema up to date" if "No migrations to apply" in out.text else "schema migrated"
    )
    for kind in backup_file_kinds():
        if kind.after_restore is not None and (said := kind.after_restore(restored)):
            report.put_right.append(said)
    return report


class _Collect:
    """A stdout for call_command that keeps what was written."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def flush(self) -> None:
        pass

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _secret_key_in(directory: Path, info: dict[str, Any]) -> str:
    key = info.get("secret_key") or {}
    if os.environ.get("SECRET_KEY"):
        return "SECRET_KEY is set in the environment; it is used as it is."
    if key.get("included"):
        dest = Path(settings.DATA_DIR) / "secret_key"
        _write_durably(dest, (directory / SECRET_KEY_FILE).read_bytes(), private=True)
        return f"The secret key from the backup was put in {dest}."
    return (
        "This backup holds no secret key: set SECRET_KEY to the key the backed-up installation "
        "used, or everyone signs in again and password-reset links already sent stop "
        "working."
    )


def _audit_key_in(directory: Path, info: dict[str, Any]) -> str:
    """Put the backup's audit key in place, and use it from now on in this process (the
    migration that may follow and ``audit verify`` need it)."""
    key = info.get("audit_key") or {}
    if os.environ.get("COMMONROOM_AUDIT_KEY"):
        return (
            "COMMONROOM_AUDIT_KEY is set in the environment; it is used as it is (it must be "
            "the backed-up installation's, or the audit trail does not verify)."
        )
    if key.get("included"):
        dest = Path(settings.DATA_DIR) / "audit_key"
        data = (directory / AUDIT_KEY_FILE).read_bytes()
        _write_durably(dest, data, private=True)
        settings.COMMONROOM_AUDIT_KEY = data.strip()
        return f"The audit key from the backup was put in {dest}."
    if "audit_key" not in info:
        return "This backup was made before the audit trail was keyed; the migration keys it."
    return (
        "This backup holds no audit key: set COMMONROOM_AUDIT_KEY to the key the backed-up "
        "installation used, or its audit trail cannot be verified."
    )


def _records_signing_in(directory: Path, info: dict[str, Any]) -> str:
    """Put the backup's records-signing key and certificate back in the data directory (the
    folder 0700, the key 0600), so certificates signed before the backup still verify."""
    signing = info.get("records_signing") or {}
    if not signing.get("included"):
        return "The backup holds no records-signing key."
    if os.environ.get("COMMONROOM_RECORDS_SIGNING_KEY"):
        return (
            "COMMONROOM_RECORDS_SIGNING_KEY is set; it is used as it is, and the backup's "
            "records-signing key was not put back."
        )
    folder = Path(settings.DATA_DIR) / RECORDS_SIGNING_FOLDER
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name, saved in RECORDS_SIGNING_FILES.items():
        _write_durably(folder / name, (directory / saved).read_bytes(), private=True)
    return f"The records-signing key and certificate from the backup were put in {folder}."


def _audit_checkpoints_in(directory: Path, info: dict[str, Any]) -> str:
    checkpoints = info.get("audit_checkpoints") or {}
    if not checkpoints.get("included"):
        return "The backup holds no audit checkpoint file."
    dest = Path(settings.COMMONROOM_AUDIT_CHECKPOINTS)
    if dest.exists() and dest.stat().st_size:
        return f"{dest} already has checkpoints: it was kept, and the backup's was not used."
    dest.parent.mkdir(parents=True, exist_ok=True)
    _write_durably(dest, (directory / AUDIT_CHECKPOINTS_FILE).read_bytes(), private=True)
    lines = checkpoints.get("lines", 0)
    return f"The audit checkpoint file from the backup ({lines} checkpoints) was put in {dest}."
