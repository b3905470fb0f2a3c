"""Converters that misbehave on purpose, for the sandbox's tests. The child offers them only when
``COMMONROOM_PREVIEW_TEST_CONVERTERS=1`` is in its environment (see ``previews/convert.py``)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from commonroom.previews.converters.base import Result


def sleep(source: Path, outdir: Path) -> Result:
    """Never finishes (wall-clock time, not CPU): only the parent's timeout stops it."""
    time.sleep(3600)
    return Result(kind="html")


def slow(source: Path, outdir: Path) -> Result:
    """Takes as many seconds as the file's first word says (at most 60, wall-clock), then
    answers with the file's text: a preview slow in a real way, to stop a worker in the middle
    of one."""
    text = source.read_text()
    time.sleep(min(float(text.split()[0]), 60.0))
    return Result(kind="html", html='<p id="p-1">slow but made</p>', text=text)


def allocate(source: Path, outdir: Path) -> Result:
    """Asks for ever more memory: the address-space limit refuses it."""
    hoard = []
    while True:
        hoard.append(bytearray(64 * 1024 * 1024))


def crash(source: Path, outdir: Path) -> Result:
    """Dies the way a library's C code might: at once, with no answer."""
    os._exit(3)


def noisy(source: Path, outdir: Path) -> Result:
    """Prints to stdout (as libraries sometimes do) and still answers."""
    print("some library chatter")
    sys.stdout.flush()
    return Result(kind="html", html='<p id="p-1">quiet</p>', text="quiet")


def hostile(source: Path, outdir: Path) -> Result:
    """Answers as a child taken over by a hostile file might: script in the HTML."""
    return Result(
        kind="html",
        html='<p id="p-1" onclick="steal()">Hi<script>steal()</script></p>'
        '<img src="x" onerror="steal()"><a href="javascript:steal()">x</a>'
        '<figure id="evil"><img src="{{file:page-1.png}}" loading="lazy"></figure>',
    )


def escape(source: Path, outdir: Path) -> Result:
    """Tries what a converter taken over by a hostile file would: the file it is given names the
    targets (JSON). Answers, in its text, what each attempt got: "allowed" or the error."""
    import json
    import socket
    import subprocess

    targets = json.loads(source.read_text())
    attempts: dict[str, str] = {}

    def attempt(name: str, action: Any) -> None:
        try:
            action()
            attempts[name] = "allowed"
        except OSError as exc:
            attempts[name] = type(exc).__name__

    def tcp() -> None:
        socket.create_connection(("127.0.0.1", targets["tcp_port"]), timeout=2).close()

    def unix() -> None:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(targets["unix_path"])

    def udp() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"x", ("127.0.0.1", targets["tcp_port"]))

    attempt("read a file beside the data", lambda: Path(targets["secret"]).read_bytes())
    attempt("list the folder above", lambda: os.listdir(source.parent.parent))
    attempt("read the server's environment", lambda: Path(targets["environ"]).read_bytes())
    attempt("read /etc/passwd", lambda: Path("/etc/passwd").read_bytes())
    attempt("write outside", lambda: Path(targets["outside"]).write_text("x"))
    attempt("connect over TCP", tcp)
    attempt("send over UDP", udp)
    attempt("connect to a Unix socket", unix)
    attempt("run a program", lambda: subprocess.run(["/bin/true"], check=True))
    attempt("signal the server", lambda: os.kill(targets["server_pid"], 0))
    attempt("write its output", lambda: (outdir / "ok.txt").write_text("x"))
    attempt("read its own file", lambda: source.read_bytes())
    return Result(kind="html", html='<p id="p-1">tried</p>', text=json.dumps(attempts))
