"""The server's processes keep their memory and environment from other processes of the user."""

from __future__ import annotations

import ctypes
import sys

import pytest

from commonroom.core.process import PR_GET_DUMPABLE


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_a_commonroom_process_is_not_dumpable() -> None:
    # Django has started in this process (the test settings), so the core app's ready() ran.
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0
