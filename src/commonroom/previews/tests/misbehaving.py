"""Converters that misbehave on purpose, for the sandbox's tests. The child offers them only when
``COMMONROOM_PREVIEW_TEST_CONVERTERS=1`` is in its environment (see ``previews/convert.py``)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from commonroom.previews.converters.base import Result


def sleep(source: Path, outdir: Path) -> Result:
    """Never finishes (wall-clock time, not CPU): only the parent's timeout stops it."""
    time.sleep(3600)
    return Result(kind="html")


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
