"""The checkpoint: run by the worker's housekeeping (and by ``audit verify``), it records only
the heads that moved, in the trail and in the file outside the database (0600), optionally
also to syslog; processes checkpointing at once keep the file's lines in one linked order."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import uuid

import pytest
from django.db import connection

from commonroom.audit import checkpoints
from commonroom.audit.models import SYSTEM_CHAIN, Action, AuditEvent
from commonroom.audit.selectors import audit_verify
from commonroom.audit.services import audit_checkpoint, audit_key, audit_record

WS = uuid.UUID("dddddddd-0000-4000-8000-00000000000d")


def lines(settings) -> list[dict]:
    return [json.loads(x) for x in settings.COMMONROOM_AUDIT_CHECKPOINTS.read_text().splitlines()]


def test_the_workers_housekeeping_writes_a_checkpoint(db, settings):
    from commonroom.core.scheduling import Schedule, jobs_all

    def housekeeping() -> None:  # what a worker does at its start (core.scheduling)
        Schedule(jobs_all(), by="test-worker").tick(starting=True)

    audit_record(action=Action.DOCUMENT_VIEWED, workspace_id=WS)
    housekeeping()
    [line] = lines(settings)
    assert set(line["heads"]) == {str(WS), SYSTEM_CHAIN}
    assert settings.COMMONROOM_AUDIT_CHECKPOINTS.stat().st_mode & 0o777 == 0o600
    housekeeping()  # nothing moved: no new line, no new row
    assert len(lines(settings)) == 1
    assert AuditEvent.objects.filter(action=Action.CHAIN_CHECKPOINT).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_process_writes_the_checkpoint_at_its_start(settings):
    """``commonroom worker`` (run to the end of its queue with --batch) keeps house at its
    start: this test's chain heads land in this test's checkpoint file, and verify agrees."""
    from commonroom.live.tests.servers import test_database_url

    audit_record(action=Action.DOCUMENT_VIEWED, workspace_id=WS)
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "COMMONROOM_DATA_DIR": str(settings.DATA_DIR),
        "DJANGO_SETTINGS_MODULE": "commonroom.settings",
    }
    done = subprocess.run(
        [sys.executable, "-m", "commonroom", "worker", "--batch", "--no-startup-delay"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [line] = lines(settings)
    assert set(line["heads"]) == {str(WS), SYSTEM_CHAIN}
    result = audit_verify()
    assert result.ok, result.problems
    assert (result.file_chains_matched, result.trail_chains_matched) == (2, 1)


def test_only_the_heads_that_moved_are_recorded(db, settings):
    other = uuid.uuid4()
    audit_record(action=Action.DOCUMENT_VIEWED, workspace_id=WS)
    audit_record(action=Action.DOCUMENT_VIEWED, workspace_id=other)
    audit_checkpoint()
    audit_record(action=Action.DOCUMENT_VIEWED, workspace_id=other)
    second = audit_checkpoint()
    assert set(second.recorded) == {str(other), SYSTEM_CHAIN}
    audit_record(action=Action.LOGIN_FAILED, actor_email="x@example.org")
    third = audit_checkpoint()
    # Only the system chain moved: the file records it; no checkpoint row is needed.
    assert set(third.recorded) == {SYSTEM_CHAIN}
    assert AuditEvent.objects.filter(action=Action.CHAIN_CHECKPOINT).count() == 2
    assert [set(x["heads"]) for x in lines(settings)] == [
        {str(WS), str(other), SYSTEM_CHAIN},
        {str(other), SYSTEM_CHAIN},
        {SYSTEM_CHAIN},
    ]
    assert audit_verify().ok


def test_each_line_is_sealed_and_linked_to_the_one_before(db, settings):
    for _ in range(3):
        audit_record(action=Action.DOCUMENT_VIEWED, workspace_id=WS)
        audit_checkpoint()
    read = lines(settings)
    assert [x["prev"] for x in read[1:]] == [x["mac"] for x in read[:-1]]
    state = checkpoints.read(settings.COMMONROOM_AUDIT_CHECKPOINTS, audit_key())
    assert state.problems == []
    assert state.latest[str(WS)].seq == 3


@pytest.mark.django_db(transaction=True)
def test_checkpoints_at_once_keep_one_linked_order(settings):
    """Four threads (four database connections) write and checkpoint at the same time."""
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for _ in range(5):
                audit_record(action=Action.DOCUMENT_VIEWED, workspace_id=uuid.UUID(int=n + 1))
                audit_checkpoint()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    state = checkpoints.read(settings.COMMONROOM_AUDIT_CHECKPOINTS, audit_key())
    assert state.problems == []
    assert {state.latest[str(uuid.UUID(int=n + 1))].seq for n in range(4)} == {5}
    result = audit_verify()
    assert result.ok, result.problems
    assert result.file_chains_matched == 5


def test_a_checkpoint_line_goes_to_syslog_too(db, settings):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    try:
        settings.COMMONROOM_AUDIT_SYSLOG = f"127.0.0.1:{receiver.getsockname()[1]}"
        audit_record(action=Action.DOCUMENT_VIEWED, workspace_id=WS)
        result = audit_checkpoint()
        message = receiver.recv(65536).decode()
    finally:
        receiver.close()
    assert "commonroom-audit: " in message
    assert result.line in message
