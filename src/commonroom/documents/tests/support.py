"""Helpers for the documents tests: files on disk and multipart bodies written by hand."""

from __future__ import annotations

import os
from collections.abc import Sequence


def files_under(root: str | os.PathLike[str]) -> list[str]:
    """Every file below ``root``, hidden ones included, as paths relative to it."""
    found: list[str] = []
    for folder, _dirs, names in os.walk(root):
        found.extend(os.path.relpath(os.path.join(folder, n), root) for n in names)
    return sorted(found)


def files_holding(root: str | os.PathLike[str], needle: bytes) -> list[str]:
    """Every file below ``root`` whose bytes contain ``needle``, relative to it. Never point it
    at a folder holding a live SQLite database: reading that file here and closing it drops the
    locks SQLite holds on it in this process."""
    found = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as fh:
                if needle in fh.read():
                    found.append(os.path.relpath(path, root))
    return sorted(found)


def multipart(
    fields: Sequence[tuple[str, str]] = (),
    files: Sequence[tuple[str, str, bytes, str]] = (),
    boundary: str = "commonroom-test-boundary-7MA4YWxkTrZu0gW",
) -> tuple[bytes, str]:
    """A multipart/form-data body written by hand, so that file names reach the server exactly
    as a hostile client would send them (the test client would tidy them first).

    ``files`` holds (field, raw file name, bytes, declared content type)."""
    out = bytearray()
    for name, value in fields:
        out += f"--{boundary}\r\n".encode()
        out += f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    for field, filename, content, ctype in files:
        out += f"--{boundary}\r\n".encode()
        out += (
            f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: {ctype}\r\n\r\n"
        ).encode()
        out += content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def png_bytes(width: int = 1, height: int = 1) -> bytes:
    """A real, tiny PNG image."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
