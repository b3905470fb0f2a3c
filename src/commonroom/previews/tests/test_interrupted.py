"""Previews whose making was interrupted are made after all: a pending preview with no task gets
one again, and the converter's work folder of a dead process (a copy of a document) is removed.
(Killing a real worker in the middle of a preview: core/tests/test_serve_processes.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from commonroom.core.process import process_started
from commonroom.previews import services
from commonroom.previews.convert import TEST_CONVERTERS_ENV
from commonroom.previews.models import Preview, PreviewStatus
from commonroom.previews.sandbox import run_converter
from commonroom.previews.tasks import make_preview
from commonroom.previews.tests.test_confine import _kernel_can_confine
from commonroom.previews.tests.test_confine import listeners as listeners  # the fixture
from commonroom.workspaces.tests.factories import upload_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def database_tasks(settings: Any) -> None:
    """Tasks go to the database queue (nothing runs them here; an upload's task is written in
    its transaction, core.task_queue)."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def pending_preview(team: Any, *, minutes_ago: int) -> Preview:
    doc = upload_document(team.workspace, team.manager, name="notes.txt", content=b"Lost task")
    preview = Preview.objects.get(blob__versions__document=doc)
    assert preview.status == PreviewStatus.PENDING
    tasks_for(preview).delete()  # its task lost (the queue cleared, say)
    Preview.objects.filter(pk=preview.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return preview


def tasks_for(preview: Preview) -> Any:
    return DBTaskResult.objects.filter(
        task_path=make_preview.module_path, args_kwargs__args__0=preview.blob_id
    )


@pytest.mark.usefixtures("database_tasks")
def test_a_pending_preview_with_no_task_gets_one_once(team: Any) -> None:
    young = pending_preview(team, minutes_ago=1)
    assert services.previews_requeue_stuck() == 0  # its task may still be on its way
    assert not tasks_for(young).exists()
    Preview.objects.filter(pk=young.pk).update(created_at=timezone.now() - timedelta(minutes=3))
    assert services.previews_requeue_stuck() == 1
    assert list(tasks_for(young).values_list("status", flat=True)) == [TaskResultStatus.READY]
    # Twice: its task is waiting, nothing more is enqueued.
    assert services.previews_requeue_stuck() == 0
    assert tasks_for(young).count() == 1


@pytest.mark.usefixtures("database_tasks")
def test_a_preview_being_made_is_left_alone(team: Any) -> None:
    preview = pending_preview(team, minutes_ago=10)
    row = DBTaskResult.objects.get(pk=make_preview.enqueue(preview.blob_id).id)
    row.claim("a-live-worker")
    assert services.previews_requeue_stuck() == 0
    assert tasks_for(preview).count() == 1


@pytest.mark.usefixtures("database_tasks")
def test_a_preview_tried_three_times_fails_with_a_sentence(team: Any) -> None:
    preview = pending_preview(team, minutes_ago=10)
    row = DBTaskResult.objects.get(pk=make_preview.enqueue(preview.blob_id).id)
    for worker in ("one", "two"):
        row.claim(worker)
    row.set_failed(SystemExit(1))  # stopped twice in the middle of it
    assert services.previews_requeue_stuck() == 1  # two attempts: once more
    again = tasks_for(preview).exclude(pk=row.pk).get()
    again.claim("three")
    again.set_failed(SystemExit(1))
    assert services.previews_requeue_stuck() == 0
    preview.refresh_from_db()
    assert preview.status == PreviewStatus.FAILED
    assert preview.message == "The preview could not be made. Download the file to read it."


def test_the_work_folders_of_dead_processes_are_swept(
    settings: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    settings.DATA_DIR = tmp_path
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # no other test's leftovers
    root = services.preview_work_root()
    process = subprocess.Popen(["sleep", "30"])
    started = process_started(process.pid)
    process.kill()
    process.wait()
    dead = root / f"{process.pid}.{started}" / "commonroom-preview-x"
    dead.mkdir(parents=True)
    (dead / "minutes.docx").write_bytes(b"a copy of a document")
    own = services._work_folder()
    (own / "commonroom-preview-y").mkdir()
    stranger = root / "not-a-process"
    stranger.mkdir()

    assert services.preview_work_sweep() == 1
    assert not dead.parent.exists()
    assert (own / "commonroom-preview-y").is_dir()  # a live process's work is never touched
    assert stranger.is_dir()
    assert own == root / f"{os.getpid()}.{process_started(os.getpid())}"
    assert root.is_relative_to(tmp_path)  # in the data directory, not the system's temp folder


def test_work_folders_older_versions_left_in_the_system_temp_folder_are_swept(
    settings: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    settings.DATA_DIR = tmp_path / "data"
    system_temp = tmp_path / "tmp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    left = system_temp / "commonroom-preview-abc123"
    left.mkdir()
    (left / "minutes.docx").write_bytes(b"a copy of a document")
    an_hour_ago = time.time() - services.LEGACY_AFTER - 60
    os.utime(left, (an_hour_ago, an_hour_ago))
    in_use = system_temp / "commonroom-preview-def456"  # an older worker converting right now
    in_use.mkdir()
    other = system_temp / "something-else"
    other.mkdir()
    os.utime(other, (an_hour_ago, an_hour_ago))

    assert services.preview_work_sweep() == 1
    assert not left.exists()
    assert in_use.is_dir() and other.is_dir()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
def test_a_converter_in_the_data_directory_reads_no_other_work_folder(
    settings: Any,
    tmp_path: Any,
    monkeypatch: Any,
    listeners: dict[str, object],
) -> None:
    """Work folders now live in the data directory: a converter taken over by a hostile file
    still reads only its own file, not another process's copy of a document beside it, nor the
    data directory's files."""
    _kernel_can_confine()
    monkeypatch.setenv(TEST_CONVERTERS_ENV, "1")
    settings.DATA_DIR = tmp_path
    other = services.preview_work_root() / "1.1" / "commonroom-preview-other"
    other.mkdir(parents=True)
    (other / "board-papers.docx").write_text("another workspace's document")
    (tmp_path / "secret_key").write_text("not for converters")
    work = services._work_folder() / "commonroom-preview-mine"
    (work / "out").mkdir(parents=True)
    source = work / "hostile.txt"
    source.write_text(
        json.dumps(
            {
                "secret": str(other / "board-papers.docx"),
                "environ": str(tmp_path / "secret_key"),
                "outside": str(other / "planted"),
                "tcp_port": listeners["tcp_port"],
                "unix_path": str(listeners["unix_path"]),
                "server_pid": os.getpid(),
            }
        )
    )
    outcome = run_converter("test-escape", source, work / "out")
    assert outcome.ok and outcome.result is not None, outcome.message
    attempts = json.loads(outcome.result.text)
    assert attempts["read its own file"] == "allowed"
    assert attempts["read a file beside the data"] != "allowed"
    assert attempts["read the server's environment"] != "allowed"
    assert attempts["list the folder above"] != "allowed"
    assert not (other / "planted").exists()
