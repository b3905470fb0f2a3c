"""The checkpoint file: each checkpoint's chain heads, appended outside the database.

One JSON line per checkpoint::

    {"at": "2026-12-03T07:30:00.000000Z", "heads": {"<chain>": [seq, "<hash>"], ...},
     "prev": "<mac of the line before>", "mac": "<HMAC of at, heads and prev>"}

A line names the chains whose head moved since the file's previous record of them (the first
line names every chain). Lines are only ever appended (``O_APPEND``, one ``write`` per line,
then ``fsync``) under an ``flock``, so the lines of several processes of one machine follow
one another in the order their checkpoints were written. Someone who can write the database but
not this file cannot make ``audit verify`` forget a row the file names: a chain cut back below
a recorded seq, or rewritten so that the recorded row's hash changed, no longer matches.

The MAC (keyed with the audit key, and linking each line to the one before) shows a line changed
by someone without the key. A last line without its newline is one a crash cut short: it is
left out and said so, never an error, and the next checkpoint cuts it off before appending.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import logging.handlers
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("commonroom.audit.checkpoint")


@dataclass(frozen=True)
class Record:
    """What one line of the file says of one chain."""

    seq: int
    hash: str
    at: str
    line: int


@dataclass
class FileState:
    """What the file says so far: the latest record of each chain, and anything wrong in it."""

    path: Path
    exists: bool = False
    lines: int = 0
    latest: dict[str, Record] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    last_mac: str = ""
    last_at: str = ""
    offset: int = 0  # bytes read (complete lines only)
    inode: int = 0


def line_mac(key: bytes, *, at: str, heads: dict[str, list[Any]], prev: str) -> str:
    body = json.dumps(
        {"at": at, "heads": heads, "prev": prev}, sort_keys=True, separators=(",", ":")
    )
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def _take_line(state: FileState, raw: bytes, key: bytes) -> None:
    state.lines += 1
    number = state.lines
    try:
        entry = json.loads(raw)
        at, heads, prev, mac = entry["at"], entry["heads"], entry["prev"], entry["mac"]
        if not isinstance(heads, dict):
            raise TypeError("heads")
    except (ValueError, KeyError, TypeError):
        state.problems.append(f"checkpoint file line {number} cannot be read: it was altered")
        return
    if not hmac.compare_digest(line_mac(key, at=at, heads=heads, prev=prev), str(mac)):
        state.problems.append(
            f"checkpoint file line {number} ({at}) was altered, or written with another audit key"
        )
        return
    if prev != state.last_mac:
        state.problems.append(
            f"checkpoint file line {number} ({at}) does not follow line {number - 1}: "
            "lines were removed or reordered"
        )
    state.last_mac = str(mac)
    state.last_at = str(at)
    for chain, pair in heads.items():
        seq, digest = int(pair[0]), str(pair[1])
        before = state.latest.get(chain)
        if before is not None and (
            seq < before.seq or (seq == before.seq and digest != before.hash)
        ):
            state.problems.append(
                f"checkpoint file line {number}: chain {chain} went back from row {before.seq} "
                f"(line {before.line}) to row {seq}"
            )
            continue
        state.latest[chain] = Record(seq, digest, str(at), number)


def read(path: Path, key: bytes, state: FileState | None = None) -> FileState:
    """Read the file from where ``state`` stopped (or from the start): complete lines only."""
    if state is None:
        state = FileState(path=path)
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        state.exists = False
        return state
    except OSError as exc:
        state.problems.append(f"the checkpoint file {path} cannot be read: {exc.strerror or exc}")
        return state
    with fh:
        info = os.fstat(fh.fileno())
        if state.inode and (info.st_ino != state.inode or info.st_size < state.offset):
            # Replaced or cut short since it was last read: read it again from the start.
            state = FileState(path=path)
            state.notes.append(f"{path} was replaced or cut short; read again from the start")
        state.exists = True
        state.inode = info.st_ino
        fh.seek(state.offset)
        for raw in fh:
            if not raw.endswith(b"\n"):
                state.notes.append(
                    f"the last line of {path} is incomplete (a crash while it was written); "
                    "it was left out"
                )
                break
            state.offset += len(raw)
            _take_line(state, raw, key)
    return state


_cache: dict[Path, FileState] = {}


def read_cached(path: Path, key: bytes) -> FileState:
    """The file as this process last read it, brought up to date by reading only what was
    appended since (the checkpoint of a long-lived worker reads the whole file once)."""
    state = read(path, key, _cache.get(path))
    _cache[path] = state
    return state


@contextlib.contextmanager
def appending(path: Path) -> Iterator[int]:
    """The file opened for appending (created 0600 if need be), under an exclusive ``flock``
    held until the block ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if created:
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def append(fd: int, key: bytes, state: FileState, heads: dict[str, list[Any]]) -> str:
    """Append one checkpoint line (durably) and take it into ``state``; returns the line."""
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    mac = line_mac(key, at=at, heads=heads, prev=state.last_mac)
    line = json.dumps(
        {"at": at, "heads": heads, "prev": state.last_mac, "mac": mac},
        sort_keys=True,
        separators=(",", ":"),
    )
    data = (line + "\n").encode()
    size = _drop_torn_tail(fd)
    written = 0
    try:
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
    except OSError:
        os.ftruncate(fd, size)  # no half line left for the next one to run into
        raise
    state.offset += len(data)
    _take_line(state, data, key)
    return line


def _drop_torn_tail(fd: int) -> int:
    """Cut a line a crash left half-written (never complete, never read) so that the next line
    starts on a line of its own; returns the file's size."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    start = max(0, size - 65536)
    tail = os.pread(fd, size - start, start)
    cut = start + tail.rfind(b"\n") + 1 if b"\n" in tail else 0
    os.ftruncate(fd, cut)
    log.warning("audit checkpoint: removed an incomplete last line of the checkpoint file")
    return cut


_syslog: dict[str, logging.Handler] = {}


def to_syslog(address: str, line: str) -> None:
    """Send a checkpoint line to syslog: ``address`` is a socket path (``/dev/log``) or
    ``host:port`` (UDP). A syslog that cannot be reached is logged, never an error: the file
    is the record."""
    handler = _syslog.get(address)
    try:
        if handler is None:
            target: str | tuple[str, int]
            if address.startswith("/"):
                target = address
            else:
                host, _, port = address.rpartition(":")
                target = (host or "127.0.0.1", int(port or 514))
            handler = logging.handlers.SysLogHandler(
                address=target, facility=logging.handlers.SysLogHandler.LOG_AUTHPRIV
            )
            handler.ident = "commonroom-audit: "
            _syslog[address] = handler
        handler.handle(
            logging.LogRecord(
                "commonroom.audit.checkpoint", logging.INFO, __file__, 0, line, None, None
            )
        )
    except (OSError, ValueError):
        log.warning("audit checkpoint: syslog at %s cannot be reached", address, exc_info=True)
