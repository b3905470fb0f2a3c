"""What the least an upload's work costs on this machine, without HTTP, Django or the app.

The 1 GiB upload's budget is a ratio to ``dd bs=1M conv=fsync``. Whatever serves it, the bytes
must cross the loopback socket from the client's process into the server's, be hashed
(SHA-256: the blob's name), be written into a file, and be fsynced, on the same two CPUs that
run the client. This module times those steps bare, one after another and then together in
the fewest Python calls (1 MiB ``recv_into`` a reused buffer, ``hashlib`` and ``os.write`` on
it, no copy), each beside ``dd`` in the same run, so that the upload's own figure can be read
against what the machine allows at all::

    PYTHONPATH=src:. python -m bench.upload_floor            # 1 GiB, 3 rounds
    BENCH_UPLOAD_MB=256 BENCH_UPLOAD_ROUNDS=5 python -m bench.upload_floor

It prints figures and writes nothing but its scratch files (in ``BENCH_DIR``, on the disk
measured), which it removes.
"""

from __future__ import annotations

import hashlib
import os
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from multiprocessing import Process
from pathlib import Path

from bench.config import MIB, Config
from bench.upload import MB, dd_write

CHUNK = MIB


def _send(port: int, size: int) -> None:
    """The client: ``size`` bytes of one random MiB repeated, to 127.0.0.1:``port``."""
    block = os.urandom(CHUNK)
    with socket.create_connection(("127.0.0.1", port)) as conn:
        view = memoryview(block)
        left = size
        while left:
            left -= conn.send(view[: min(left, CHUNK)])


def _received(size: int, each: Callable[[memoryview], None]) -> float:
    """Seconds to receive ``size`` bytes from a client process, ``each`` called on every
    piece as it arrives (into one reused buffer)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        client = Process(target=_send, args=(port, size))
        client.start()
        conn, _ = server.accept()
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        started = time.perf_counter()
        with conn:
            left = size
            while left:
                got = conn.recv_into(buffer, min(left, CHUNK))
                if not got:
                    raise RuntimeError("the client stopped early")
                each(view[:got])
                left -= got
        seconds = time.perf_counter() - started
        client.join()
    return seconds


def _write_fsynced(directory: Path, size: int) -> float:
    block = os.urandom(CHUNK)
    with tempfile.NamedTemporaryFile(dir=directory) as scratch:
        os.sync()
        started = time.perf_counter()
        left = size
        while left:
            left -= os.write(scratch.fileno(), block[: min(left, CHUNK)])
        os.fsync(scratch.fileno())
        return time.perf_counter() - started


def _hashed(size: int) -> float:
    block = os.urandom(CHUNK)
    digest = hashlib.sha256()
    started = time.perf_counter()
    for _ in range(size // CHUNK):
        digest.update(block)
    digest.hexdigest()
    return time.perf_counter() - started


def _all_of_it(directory: Path, size: int) -> float:
    """Received, hashed and written as it arrives, then fsynced: the upload's work, bare."""
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=directory) as scratch:
        fd = scratch.fileno()

        def each(piece: memoryview) -> None:
            digest.update(piece)
            os.write(fd, piece)

        os.sync()
        started = time.perf_counter()
        _received(size, each)
        os.fsync(fd)
        return time.perf_counter() - started


def _all_of_it_two_threads(directory: Path, size: int) -> float:
    """The same, the SHA-256 in a thread of its own beside the receiving and writing one (each
    piece a copy handed over through a queue of four: hashlib lets go of the interpreter's
    lock while it hashes, as the socket and the write do)."""
    import queue
    import threading

    digest = hashlib.sha256()
    pieces: queue.Queue[bytes | None] = queue.Queue(maxsize=4)

    def hashing() -> None:
        while (piece := pieces.get()) is not None:
            digest.update(piece)

    hasher = threading.Thread(target=hashing)
    with tempfile.NamedTemporaryFile(dir=directory) as scratch:
        fd = scratch.fileno()

        def each(piece: memoryview) -> None:
            pieces.put(bytes(piece))
            os.write(fd, piece)

        os.sync()
        started = time.perf_counter()
        hasher.start()
        _received(size, each)
        pieces.put(None)
        hasher.join()
        os.fsync(fd)
        return time.perf_counter() - started


def main() -> None:
    config = Config.from_env()
    size_mib = config.upload_mb
    size = size_mib * MIB
    config.base_dir.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="floor-", dir=config.base_dir))
    steps: dict[str, list[float]] = {}
    dd: list[float] = []
    try:
        for _ in range(config.upload_rounds):
            dd.append(dd_write(directory, size_mib).mb_per_s)
            for name, seconds in (
                ("loopback socket alone (client process to server process)", _received(size, bool)),
                ("SHA-256 alone", _hashed(size)),
                ("write and fsync alone", _write_fsynced(directory, size)),
                ("received, hashed, written, fsynced", _all_of_it(directory, size)),
                (
                    "the same, hashed in a second thread",
                    _all_of_it_two_threads(directory, size),
                ),
            ):
                steps.setdefault(name, []).append(size / MB / seconds)
        dd.append(dd_write(directory, size_mib).mb_per_s)
    finally:
        for leftover in directory.iterdir():
            leftover.unlink()
        directory.rmdir()
    dd_median = statistics.median(dd)
    load = os.getloadavg()[0]
    print(f"{size_mib} MiB, {config.upload_rounds} rounds, load {load:.2f} at the end")
    runs = ", ".join(f"{v:,.0f}" for v in dd)
    print(f"dd bs=1M conv=fsync: {runs} MB/s (median {dd_median:,.0f})")
    print("| Step, bare | MB/s (median, of the rounds) | / dd's median |")
    print("|---|---:|---:|")
    for name, rates in steps.items():
        median = statistics.median(rates)
        spread = f"{min(rates):,.0f}-{max(rates):,.0f}"
        print(f"| {name} | {median:,.0f} ({spread}) | {median / dd_median:.2f} |")


if __name__ == "__main__":
    main()
