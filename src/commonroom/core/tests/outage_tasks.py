"""Tasks for the worker's tests: one cut off by the database going away, one that fails."""

from __future__ import annotations

import psycopg
from django.db import OperationalError
from django_tasks import task


@task()
def cut_off_by_the_database() -> None:
    """As a task's query meets PostgreSQL shutting down (a restart): Django's error, psycopg's
    as its cause."""
    cause = psycopg.errors.AdminShutdown("terminating connection due to administrator command")
    raise OperationalError(*cause.args) from cause


@task()
def fails_on_its_own() -> None:
    raise ValueError("a fault of the task's own")
