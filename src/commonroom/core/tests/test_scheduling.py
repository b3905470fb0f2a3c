"""The schedule (core.scheduling): due times, a claim that exactly one of many racing processes
wins, jobs run in or after their claim, a failure that stops nothing else. Two real servers
running the jobs once: test_shared_state_processes.py."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from commonroom.core.models import ScheduledJob
from commonroom.core.process import machine
from commonroom.core.scheduling import Job, Schedule, daily, every, job_claim, jobs_all

LONDON = ZoneInfo("Europe/London")


class Runs:
    """A job's run function that counts its calls."""

    def __init__(self, fail: bool = False) -> None:
        self.count = 0
        self.fail = fail
        self.lock = threading.Lock()

    def __call__(self) -> int:
        with self.lock:
            self.count += 1
        if self.fail:
            raise RuntimeError("this job always fails")
        return 0


def met(job: Job, due_at: datetime) -> None:
    """The job as a worker first met it, before ``due_at``."""
    ScheduledJob.objects.create(name=job.key, due_at=due_at - timedelta(days=1))


# --- Due times ---------------------------------------------------------------------------------


def test_every_gives_the_same_due_times_in_every_process():
    due = every(lambda: 120)
    at = datetime(2026, 12, 3, 10, 1, 59, tzinfo=UTC)
    assert due(at) == datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    assert due(at + timedelta(seconds=1)) == datetime(2026, 12, 3, 10, 2, tzinfo=UTC)
    # The same moment seen in another time zone is the same due time.
    assert due(at.astimezone(LONDON)) == due(at)


def test_daily_is_the_hour_on_the_wall_clock_across_a_change_of_the_clocks(settings):
    settings.TIME_ZONE = "Europe/London"
    due = daily(lambda: 7)
    # The clocks went forward at 01:00 on 29 March 2026: 07:00 on both sides of it.
    before = due(datetime(2026, 3, 29, 6, 0, tzinfo=LONDON))
    after = due(datetime(2026, 3, 29, 7, 0, tzinfo=LONDON))
    assert before == datetime(2026, 3, 28, 7, 0, tzinfo=LONDON)
    assert after == datetime(2026, 3, 29, 7, 0, tzinfo=LONDON)
    assert after.astimezone(UTC) - before.astimezone(UTC) == timedelta(hours=23)


# --- The claim -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_job_met_for_the_first_time_counts_from_now():
    runs = Runs()
    job = Job("test-job", every(lambda: 60), runs, in_claim=True)
    due_at = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    assert not job_claim(job=job, due_at=due_at, by="w1")
    assert runs.count == 0
    assert ScheduledJob.objects.get(name="test-job").due_at == due_at
    # Its next due time is claimed once, by whoever asks first.
    assert job_claim(job=job, due_at=due_at + timedelta(minutes=1), by="w2")
    assert not job_claim(job=job, due_at=due_at + timedelta(minutes=1), by="w1")
    assert runs.count == 1
    row = ScheduledJob.objects.get(name="test-job")
    assert (row.due_at, row.run_by) == (due_at + timedelta(minutes=1), "w2")
    # A process with a slow clock, asking for an earlier due time, never runs it again.
    assert not job_claim(job=job, due_at=due_at, by="w3")
    assert runs.count == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("in_claim", [True, False])
def test_of_many_processes_claiming_one_due_time_at_once_exactly_one_wins(in_claim):
    """Eight threads, each with its own database connection, claim the same due time at the
    same moment (PostgreSQL: the UPDATEs wait on the row and the losers find the condition
    false; SQLite: IMMEDIATE transactions take turns). One wins; an in-claim job runs once."""
    runs = Runs()
    job = Job("raced", every(lambda: 60), runs, in_claim=in_claim)
    due_at = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    met(job, due_at)
    start = threading.Barrier(8)
    won: list[bool] = []

    def claim(n: int) -> None:
        try:
            start.wait()
            won.append(job_claim(job=job, due_at=due_at, by=f"w{n}"))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(won) == [False] * 7 + [True]
    assert runs.count == (1 if in_claim else 0)  # otherwise the winner's Schedule runs it
    assert ScheduledJob.objects.get(name="raced").run_by.startswith("w")


@pytest.mark.django_db
def test_an_in_claim_job_that_fails_gives_its_claim_back():
    """The enqueue failed: the claim rolls back with it, so another worker can still run it."""
    job = Job("enqueue", every(lambda: 60), Runs(fail=True), in_claim=True)
    due_at = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    met(job, due_at)
    with pytest.raises(RuntimeError):
        job_claim(job=job, due_at=due_at, by="w1")
    assert ScheduledJob.objects.get(name="enqueue").due_at < due_at
    job_ok = Job("enqueue", every(lambda: 60), Runs(), in_claim=True)
    assert job_claim(job=job_ok, due_at=due_at, by="w2")


@pytest.mark.django_db
def test_a_per_machine_job_is_claimed_once_per_machine():
    job = Job("sweep", every(lambda: 60), Runs(), per_machine=True)
    assert job.key == f"sweep@{machine()}"
    due_at = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    met(job, due_at)
    ScheduledJob.objects.create(name="sweep@another-machine", due_at=due_at - timedelta(days=1))
    assert job_claim(job=job, due_at=due_at, by="here")
    assert ScheduledJob.objects.get(name="sweep@another-machine").due_at < due_at


# --- A worker's schedule -----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_schedule_runs_each_due_time_once_and_a_failing_job_stops_nothing(caplog):
    now = [datetime(2026, 12, 3, 10, 0, 30, tzinfo=UTC)]
    failing, fine, at_start = Runs(fail=True), Runs(), Runs()
    jobs = [
        Job("failing", every(lambda: 60), failing),
        Job("fine", every(lambda: 60), fine),
        Job("at-start", every(lambda: 60), at_start, at_start=True),
    ]
    for job in jobs:
        met(job, now[0])
    schedule = Schedule(jobs, by="w1", clock=lambda: now[0])
    other = Schedule(jobs, by="w2", clock=lambda: now[0])

    with caplog.at_level(logging.INFO, logger="commonroom.schedule"):
        assert schedule.tick(starting=True) == ["fine", "at-start"]
        # Another worker starting in the same minute: the housekeeping runs in it too (at
        # start), the rest was claimed.
        assert other.tick(starting=True) == ["at-start"]
        assert schedule.tick() == [] and other.tick() == []  # nothing new is due
    assert (failing.count, fine.count, at_start.count) == (1, 1, 2)
    assert "schedule: failing (due 2026-12-03T10:00:00+00:00) failed" in caplog.text
    assert "RuntimeError: this job always fails" in caplog.text

    now[0] += timedelta(minutes=1)
    assert other.tick() == ["fine", "at-start"]
    assert schedule.tick() == []
    assert (failing.count, fine.count, at_start.count) == (2, 2, 3)


def test_every_app_s_jobs_are_found(db: Any):
    names = {job.key for job in jobs_all()}
    assert names == {
        "tasks-requeue-abandoned",
        "previews-requeue-stuck",
        f"preview-work-sweep@{machine()}",
        "notification-digests",
        "live-events-prune",
        f"audit-checkpoint@{machine()}",
        "audit-readings-prune",
        "approval-reminders",
        "webdav-leftovers-sweep",
        "workspace-access-end-dates",
    }
