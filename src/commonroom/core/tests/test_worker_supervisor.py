"""serve's worker supervisor with real processes: a worker that keeps dying is started again
with a growing back-off (no tight loop), and one that ignores SIGTERM is killed after the
grace."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from commonroom.core.management.commands import serve
from commonroom.core.tests.processes import alive, wait_for


@pytest.mark.slow
def test_a_worker_that_keeps_dying_is_started_again_after_a_growing_back_off(
    tmp_path: Path,
) -> None:
    starts = tmp_path / "starts"
    dying = f"open({str(starts)!r}, 'a').write('x'); raise SystemExit(3)"
    supervisor = serve.WorkerSupervisor([sys.executable, "-c", dying], grace=1)
    began = time.monotonic()
    supervisor.start()
    try:
        # Started at once, again after 1 s, then after 2 s more: the third start comes about
        # 3 s in, the fourth not before 7 s.
        wait_for(
            lambda: starts.exists() and len(starts.read_text()) >= 3,
            timeout=15,
            message="the worker was not started again",
        )
        third = time.monotonic() - began
        time.sleep(2)
        assert len(starts.read_text()) == 3
    finally:
        supervisor.stop()
    assert 2.5 <= third < 10, third


@pytest.mark.slow
def test_a_worker_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"open({str(ready)!r}, 'w').close(); time.sleep(60)"
    )
    supervisor = serve.WorkerSupervisor([sys.executable, "-c", stubborn], grace=1)
    supervisor.start()
    wait_for(ready.exists, timeout=15, message="the worker did not start")
    assert supervisor.process is not None
    pid = supervisor.process.pid
    asked = time.monotonic()
    supervisor.stop()
    took = time.monotonic() - asked
    assert not alive(pid)
    assert 1 <= took < 5, took  # it had its grace, then was killed


def test_serve_gives_its_worker_longer_than_a_preview_may_take(settings: Any) -> None:
    settings.COMMONROOM_PREVIEW_TIMEOUT = 90
    assert serve.worker_grace() == 90 + serve.WORKER_GRACE_EXTRA
    assert serve.WORKER_GRACE_EXTRA > 0
