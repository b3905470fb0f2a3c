"""A task queued with a write (``core.task_queue``) is seen when the write commits and never if
it rolls back: in the same transaction when the queue is the database's own table, after the
commit with any other backend."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from commonroom.core.task_queue import enqueue_at_commit, queued_in_database

pytestmark = pytest.mark.django_db(transaction=True)

ran: list[str] = []


@task()
def noted(word: str) -> str:
    ran.append(word)
    return word


class Undone(Exception):
    pass


@pytest.fixture
def database_queue(settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def _rows() -> int:
    return DBTaskResult.objects.filter(task_path=noted.module_path).count()


def _rows_seen_elsewhere() -> int:
    """The rows another connection sees (a worker's): only what is committed."""
    seen: list[int] = []

    def look() -> None:
        try:
            seen.append(_rows())
        finally:
            connections.close_all()

    thread = threading.Thread(target=look)
    thread.start()
    thread.join()
    return seen[0]


def test_the_database_queue_takes_the_task_in_the_writes_transaction(
    database_queue: None,
) -> None:
    assert queued_in_database(noted)
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        enqueue_at_commit(noted, "kept")
        assert _rows() == 1  # written now, in this transaction
        assert _rows_seen_elsewhere() == 0  # a worker cannot see it before the commit
    inserts = [q["sql"] for q in queries.captured_queries if "dbtaskresult" in q["sql"].lower()]
    assert inserts and all(not sql.startswith("COMMIT") for sql in inserts)
    assert [q["sql"] for q in queries.captured_queries][-1] == "COMMIT"  # one commit, with it
    assert _rows_seen_elsewhere() == 1


def test_the_database_queue_loses_the_task_with_a_write_rolled_back(database_queue: None) -> None:
    with pytest.raises(Undone), transaction.atomic():
        enqueue_at_commit(noted, "lost")
        raise Undone
    assert _rows() == 0


def test_another_backend_is_handed_the_task_after_the_commit_only() -> None:
    # The tests' own backend runs a task at once: queued at the commit, never before it.
    assert not queued_in_database(noted)
    ran.clear()
    with transaction.atomic():
        enqueue_at_commit(noted, "after")
        assert ran == []
    assert ran == ["after"]
    with pytest.raises(Undone), transaction.atomic():
        enqueue_at_commit(noted, "never")
        raise Undone
    assert ran == ["after"]
