"""``commonroom serve`` and its worker as real processes, stopped and killed with real signals:
work interrupted by a killed worker is finished after its restart, a killed serve leaves nothing
behind, a SIGTERM is a clean stop (exit 0) that lets the preview in hand finish."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from commonroom.core.models import WorkerLease
from commonroom.core.process import machine, process_started
from commonroom.core.tests.processes import alive, children, cmdline, descendants, wait_for
from commonroom.core.tests.serving import shared_redis
from commonroom.live.tests import servers
from commonroom.previews import convert
from commonroom.previews.models import Preview, PreviewStatus
from commonroom.previews.services import preview_work_root
from commonroom.previews.tasks import make_preview
from commonroom.workspaces.tests.factories import upload_document

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

CONVERTER = b"commonroom.previews.convert"


@pytest.fixture
def slow_preview(settings: Any, monkeypatch: Any) -> None:
    """Uploads go to the database queue, and a ``.slow`` file is previewed by the test-only
    converter that takes as many seconds as the file's first word says."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    monkeypatch.setenv(convert.TEST_CONVERTERS_ENV, "1")
    monkeypatch.setitem(convert.BY_EXTENSION, ".slow", "test-slow")


@contextmanager
def serve(tmp_path: Path, *args: str, **extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """``commonroom serve`` on the test database (``extra`` added to its environment), killed at
    the end whatever happened."""
    env = {
        **os.environ,
        "DATABASE_URL": servers.test_database_url(),
        "COMMONROOM_DATA_DIR": str(settings.DATA_DIR),
        "COMMONROOM_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "COMMONROOM_PREVIEW_TEST_CONVERTERS": "1",
        "COMMONROOM_PREVIEW_TIMEOUT": "20",
        "LOG_LEVEL": "WARNING",
        "TMPDIR": str(tmp_path),  # its sweep of the system's temp folder stays in the test's
        **extra,
    }
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "commonroom", "serve", "--port", str(servers.free_port()), *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    everything: set[int] = set()
    try:
        yield process
    finally:
        everything |= descendants(process.pid)
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in everything:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        log.close()
        print((tmp_path / "serve.log").read_text(errors="replace")[-5000:])  # shown on failure


def worker_of(serve_pid: int, *, not_: int | None = None) -> int:
    """serve's worker process (another than ``not_``), or 0 while there is none."""
    for pid in children(serve_pid):
        if b"commonroom worker" in cmdline(pid) and pid != not_:
            return pid
    return 0


def converter_under(pid: int) -> int:
    return next((p for p in descendants(pid) if CONVERTER in cmdline(p)), 0)


def status(preview: Preview) -> str:
    preview.refresh_from_db()
    return str(preview.status)


@pytest.mark.usefixtures("slow_preview")
def test_a_preview_whose_worker_was_killed_is_made_after_the_restart(
    team: Any, tmp_path: Path
) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.slow", content=b"8 s")
    preview = Preview.objects.get(blob__versions__document=doc)
    with serve(tmp_path) as process:
        worker = wait_for(lambda: worker_of(process.pid), timeout=60, message="no worker")
        child = wait_for(lambda: converter_under(worker), timeout=60, message="no converter")
        work = [p for p in preview_work_root().glob(f"{worker}.*/commonroom-preview-*")]
        assert len(work) == 1, work  # the copy of the document, under the data directory
        assert status(preview) == PreviewStatus.PENDING

        os.kill(worker, signal.SIGKILL)
        # It had seconds of work left: only its worker's death stops it this soon.
        wait_for(lambda: not alive(child), timeout=3, message="the converter outlived its worker")
        again = wait_for(
            lambda: worker_of(process.pid, not_=worker), timeout=30, message="no new worker"
        )
        restarted = time.monotonic()
        wait_for(
            lambda: status(preview) == PreviewStatus.READY,
            timeout=60,
            message="the preview was not made within a minute of the restart",
        )
        print(f"preview ready {time.monotonic() - restarted:.1f} s after the restart")
        assert "8 s" in preview.text
        # The same task, given back and claimed by the new worker: not a second one.
        done = DBTaskResult.objects.filter(task_path=make_preview.module_path, status="SUCCESSFUL")
        wait_for(done.exists, timeout=10, message="the task was not recorded as done")
        assert DBTaskResult.objects.count() == 1 and len(done.get().worker_ids) == 2
        assert not work[0].parent.exists()  # the killed worker's work folder was swept
        assert alive(again) and worker_of(process.pid, not_=again) == 0  # one worker

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert not alive(again)


@pytest.mark.usefixtures("slow_preview")
def test_killing_serve_takes_its_worker_converter_and_uvicorn_workers_with_it(
    team: Any, tmp_path: Path
) -> None:
    upload_document(team.workspace, team.manager, name="minutes.slow", content=b"40 s")
    redis = shared_redis()  # several server processes need the shared cache
    with serve(tmp_path, "--workers", "2", **redis.env) as process:
        worker = wait_for(lambda: worker_of(process.pid), timeout=60, message="no worker")
        wait_for(lambda: converter_under(worker), timeout=60, message="no converter")
        wait_for(
            lambda: len(descendants(process.pid)) >= 4,  # worker, converter, 2 uvicorn workers
            timeout=60,
            message="uvicorn's workers did not start",
        )
        everything = descendants(process.pid)
        port = int(cmdline(process.pid).split(b"--port ")[1].split()[0])

        process.kill()
        process.wait()
        deadline = time.monotonic() + 15
        while (left := {p for p in everything if alive(p)}) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not left, [cmdline(p) for p in left]
        with socket.socket() as s:  # nothing holds the port: a restart can listen on it
            s.bind(("127.0.0.1", port))


@pytest.mark.usefixtures("slow_preview")
def test_sigterm_lets_the_preview_in_hand_finish_and_exits_0(team: Any, tmp_path: Path) -> None:
    """The stop a service manager asks for: the worker finishes its preview (serve gives it
    longer than a preview may take), then everything stops and serve exits 0."""
    doc = upload_document(team.workspace, team.manager, name="minutes.slow", content=b"6 s")
    preview = Preview.objects.get(blob__versions__document=doc)
    with serve(tmp_path) as process:
        worker = wait_for(lambda: worker_of(process.pid), timeout=60, message="no worker")
        wait_for(lambda: converter_under(worker), timeout=60, message="no converter")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert not alive(worker)
        assert status(preview) == PreviewStatus.READY


def test_two_workers_starting_at_once_finish_a_dead_workers_preview_once(
    team: Any, settings: Any, tmp_path: Path
) -> None:
    """Two ``commonroom worker --batch`` started together over one task left RUNNING by a
    killed worker (and its preview pending long enough to look stuck): the task is given back
    once and made once; no second task is enqueued."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    doc = upload_document(team.workspace, team.manager, name="notes.txt", content=b"Interrupted")
    preview = Preview.objects.get(blob__versions__document=doc)
    Preview.objects.filter(pk=preview.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    killed = subprocess.Popen(["sleep", "30"])
    WorkerLease.objects.create(
        worker_id="killed",
        machine=machine(),
        pid=killed.pid,
        process_started=process_started(killed.pid) or 0,
    )
    DBTaskResult.objects.get(task_path=make_preview.module_path).claim("killed")
    killed.kill()
    killed.wait()

    env = {
        **os.environ,
        "DATABASE_URL": servers.test_database_url(),
        "COMMONROOM_DATA_DIR": str(settings.DATA_DIR),
        "COMMONROOM_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "TMPDIR": str(tmp_path),
    }
    command = [sys.executable, "-m", "commonroom", "worker", "--batch", "--no-startup-delay"]
    workers = [subprocess.Popen(command, env=env) for _ in range(2)]
    try:
        assert [w.wait(timeout=60) for w in workers] == [0, 0]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    assert status(preview) == PreviewStatus.READY
    task = DBTaskResult.objects.get(task_path=make_preview.module_path)
    assert task.status == "SUCCESSFUL"
    assert task.worker_ids[0] == "killed" and len(task.worker_ids) == 2
    assert not WorkerLease.objects.exists()  # the dead one forgotten, the two given up
