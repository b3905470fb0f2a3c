"""Upload benchmark: a multipart upload streamed to the real API, beside a raw ``dd`` write.

The client streams the body from one random 1 MiB block repeated (never the whole body in memory)
and checks the SHA-256 and size the server reports, so a figure is only printed for an upload that
arrived whole. The server's memory is read from /proc while it works.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.config import MIB
from bench.server import Server

MB = 1_000_000  # throughput is in MB/s (10^6 bytes), as dd prints it


@dataclass(frozen=True)
class UploadResult:
    size_bytes: int
    seconds: float
    sent_seconds: float
    server_cpu_seconds: float
    server_loop_cpu_seconds: float  # of which uvicorn's event loop (the rest: the view's thread)
    client_cpu_seconds: float  # this process while it sent (httpx, and the memory sampler)
    sha256: str
    rss_before_kib: int
    peak_kib: int
    rss_after_kib: int

    @property
    def mb_per_s(self) -> float:
        return self.size_bytes / MB / self.seconds


@dataclass(frozen=True)
class DdResult:
    size_bytes: int
    seconds: float

    @property
    def mb_per_s(self) -> float:
        return self.size_bytes / MB / self.seconds


def expected_sha256(block: bytes, count: int) -> str:
    digest = hashlib.sha256()
    for _ in range(count):
        digest.update(block)
    return digest.hexdigest()


def multipart_body(
    block: bytes, count: int, filename: str, note: str, sent: list[float]
) -> tuple[str, int, Iterator[bytes]]:
    """(content type, length, chunks) of a multipart body holding ``block`` ``count`` times.
    When the last chunk has been handed to the socket, the time is appended to ``sent``."""
    boundary = "bench" + secrets.token_hex(16)
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="note"\r\n\r\n'
        f"{note}\r\n"
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunks() -> Iterator[bytes]:
        yield head
        for _ in range(count):
            yield block
        yield tail
        sent.append(time.perf_counter())

    length = len(head) + len(block) * count + len(tail)
    return f"multipart/form-data; boundary={boundary}", length, chunks()


def timed_upload(
    client: httpx.Client,
    url: str,
    token: str,
    body: Any,
    content_type: str,
    length: int,
) -> tuple[httpx.Response, float, float, float]:
    """POST an upload's multipart ``body`` to ``url``: the answer, when it started
    (``time.perf_counter``), the seconds from then to the answer, and the CPU seconds this
    process spent sending it."""
    client_before = time.process_time()
    started = time.perf_counter()
    response = client.post(
        url,
        content=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": content_type,
            "Content-Length": str(length),
        },
    )
    seconds = time.perf_counter() - started
    return response, started, seconds, time.process_time() - client_before


def upload(
    *, server: Server, token: str, workspace_id: str, block: bytes, count: int
) -> UploadResult:
    """POST a file of ``count`` times ``block`` to the documents API and time it to the answer."""
    expected = expected_sha256(block, count)
    size = len(block) * count
    sent: list[float] = []
    content_type, length, body = multipart_body(
        block, count, f"bench-upload-{size // MIB}MiB.bin", "benchmark upload", sent
    )
    os.sync()  # earlier writes are not charged to this upload
    rss_before = server.rss_kib()
    can_reset = server.reset_peak()
    with (
        httpx.Client(timeout=httpx.Timeout(None, connect=10)) as client,
        server.sampling_rss() as sampler,
    ):
        cpu_before = server.cpu_seconds()
        loop_before = server.loop_cpu_seconds()
        response, started, seconds, client_cpu = timed_upload(
            client,
            f"{server.url}/api/v1/workspaces/{workspace_id}/documents",
            token,
            body,
            content_type,
            length,
        )
        cpu = server.cpu_seconds() - cpu_before
        loop_cpu = server.loop_cpu_seconds() - loop_before
    stored_version(response, expected, size)
    peak = max(sampler.max_kib, server.peak_kib() if can_reset else 0)
    return UploadResult(
        size_bytes=size,
        seconds=seconds,
        sent_seconds=(sent[0] - started) if sent else seconds,
        server_cpu_seconds=cpu,
        server_loop_cpu_seconds=loop_cpu,
        client_cpu_seconds=client_cpu,
        sha256=expected,
        rss_before_kib=rss_before,
        peak_kib=peak,
        rss_after_kib=server.rss_kib(),
    )


def stored_version(response: httpx.Response, expected: str, size: int) -> dict[str, Any]:
    """The version the documents API answered an upload with, once its SHA-256 and size are
    those sent; SystemExit otherwise, so that no figure is printed for an upload that did not
    arrive whole."""
    if response.status_code != 201:
        raise SystemExit(f"upload answered {response.status_code}: {response.text[:500]}")
    version: dict[str, Any] = response.json()["version"]
    if version["sha256"] != expected or version["size"] != size:
        raise SystemExit(
            f"upload arrived altered: server has {version['size']} bytes, {version['sha256']}; "
            f"sent {size} bytes, {expected}"
        )
    return version


def dd_available() -> bool:
    return shutil.which("dd") is not None


def dd_write(directory: Path, size_mib: int) -> DdResult:
    """``dd if=/dev/zero of=<directory>/dd.bin bs=1M count=<size> conv=fsync``, timed."""
    target = directory / "dd.bin"
    os.sync()
    started = time.perf_counter()
    try:
        subprocess.run(
            ["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={size_mib}", "conv=fsync"],
            check=True,
            capture_output=True,
        )
        seconds = time.perf_counter() - started
    finally:
        target.unlink(missing_ok=True)
    return DdResult(size_bytes=size_mib * MIB, seconds=seconds)
