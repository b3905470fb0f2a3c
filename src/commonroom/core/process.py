"""Hardening of the server's own processes."""

from __future__ import annotations

import ctypes
import sys

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def not_dumpable() -> bool:
    """Make this process non-dumpable (Linux): another process of the same user, such as a
    preview child taken over by a hostile file, can then no longer read this one's memory or
    environment (``SECRET_KEY``, ``DATABASE_URL``) through /proc. Returns whether it is so."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        return int(libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False
