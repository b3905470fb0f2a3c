"""This process's ASGI application under uvicorn in a thread, on a loopback port, and the raw
HTTP/1.1 a test speaks to it over a socket: to send headers and part of a body, then wait or
go away, as a browser, a script or an attacker would. The server runs in this process, so a
test's settings apply to it and its open files are this process's."""

from __future__ import annotations

import os
import socket
import threading
import time
from contextlib import closing


class Server:
    """``commonroom.asgi.application`` (everything a request meets in production) under uvicorn."""

    def __init__(self) -> None:
        import uvicorn

        from commonroom.asgi import application

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            application, lifespan="off", log_level="critical", ws="none", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, args=([self.sock],), daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()

    def wait_idle(self, timeout: float = 10) -> None:
        """Until every connection has closed and every request has finished."""
        state = self.server.server_state
        deadline = time.monotonic() + timeout
        while state.connections or state.tasks:
            assert time.monotonic() < deadline, "the server did not finish the request"
            time.sleep(0.02)

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    with closing(sock.makefile("rb")) as fh:
        status_line = fh.readline()
        length = 0
        while (line := fh.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        data = fh.read(length)
    return int(status_line.split()[1]), data


def open_temp_files() -> list[str]:
    """Files this process holds open that have no name any more (spooled temporary files)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.endswith("(deleted)"):
            found.append(target)
    return found
