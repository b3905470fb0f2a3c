"""Tasks queued with the write that calls for them: seen by a worker when that write's
transaction commits, and never if it rolls back.

When the queue is a table of the same database (``django_tasks_db``, as served), the task's row
is written inside the transaction itself, so the write and its task commit together: one commit
(one fsync of the log) rather than the write's and then the task's own. Any other backend (the
immediate one the tests run tasks with, or a queue outside the database) is handed the task
after the commit, as ``transaction.on_commit`` does; a failure to queue it then is logged, not
raised into a change already committed (the housekeeping that looks for lost tasks finds it).
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, router, transaction
from django_tasks.base import Task


def queued_in_database(task: Task[Any, Any], using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether ``task`` is queued as a row of the database ``using``."""
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    return (
        isinstance(task.get_backend(), DatabaseBackend)
        and router.db_for_write(DBTaskResult) == using
    )


def enqueue_at_commit(task: Task[Any, Any], *args: Any, using: str = DEFAULT_DB_ALIAS) -> None:
    """Queue ``task(*args)`` for when the current transaction on ``using`` commits."""
    if queued_in_database(task, using):
        task.enqueue(*args)  # its row commits (or rolls back) with the caller's
    else:
        transaction.on_commit(lambda: task.enqueue(*args), using=using, robust=True)
