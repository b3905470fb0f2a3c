"""Requests really in flight: a piece of work run in a thread of its own (its own database
connection, as a second server process would have), held at a chosen statement while the test
changes the world, then let go.

``InFlight(work, after='"workspaces_membership"')`` runs ``work`` and pauses it just after the
first SQL statement that contains that text has run (``nth`` for a later one): for a request,
the first reading of the person's membership is its permission check, so what the test does
while it is held happens between the check and the write. ``waits_for_lock`` tells whether a
piece of work is held up by a lock another holds: on PostgreSQL it is seen in
``pg_stat_activity``; SQLite shows nothing from outside, so there it can only be given time (and
every write transaction there begins ``IMMEDIATE``, holding the one write lock of the database
until it ends: see ``settings.DATABASES``). ``fail_at`` makes one statement fail, as a dropped
connection would, to reach a service's failure path.

Nothing is mocked: the statements run on the real database, the hook only waits between them
(Django's ``connection.execute_wrapper``, installed on the thread's own connection only).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from django.db import DatabaseError, connection

T = TypeVar("T")
HOLD_LIMIT = 60.0  # seconds a held piece of work waits to be let go before it gives up


def on_postgresql() -> bool:
    return connection.vendor == "postgresql"


class InFlight(Generic[T]):
    def __init__(
        self,
        work: Callable[[], T],
        *,
        after: str | None = None,
        nth: int = 1,
        name: str = "",
        fail_at: str | None = None,
    ) -> None:
        self.work = work
        self.after = after
        self.nth = nth
        self.fail_at = fail_at  # the first statement containing it fails, as a lost connection
        self.name = name or getattr(work, "__name__", "work")
        self.held = threading.Event()
        self.done = threading.Event()
        self.backend_pid: int | None = None
        self._connected = threading.Event()
        self._go = threading.Event()
        self._seen = 0
        self._result: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"in-flight {self.name}")

    # --- in the work's thread ---------------------------------------------------------------

    def _hook(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if self.fail_at is not None and self.fail_at in sql:
            self.fail_at = None
            raise DatabaseError("the test made this statement fail")
        result = execute(sql, params, many, context)
        if self.after is not None and not self.held.is_set() and self.after in sql:
            self._seen += 1
            if self._seen == self.nth:
                self.held.set()
                if not self._go.wait(HOLD_LIMIT):
                    raise RuntimeError(f"{self.name} was held and never let go")
        return result

    def _run(self) -> None:
        try:
            connection.ensure_connection()
            if on_postgresql():
                self.backend_pid = connection.connection.info.backend_pid
            self._connected.set()
            with connection.execute_wrapper(self._hook):
                self._result = self.work()
        except BaseException as exc:  # handed to the test's thread by result()
            self._error = exc
        finally:
            connection.close()
            self._connected.set()
            self.done.set()

    # --- in the test's thread ---------------------------------------------------------------

    def start(self) -> InFlight[T]:
        """Start the work; with ``after``, return once it is held there."""
        self._thread.start()
        self._connected.wait(HOLD_LIMIT)
        if self.after is not None:
            wait_for_either(self.held, self.done, what=f"{self.name} to reach {self.after!r}")
            if not self.held.is_set():
                self.result()  # it ended without reaching the statement: show why
                raise AssertionError(f"{self.name} ended without running {self.after!r}")
        return self

    def release(self) -> T:
        """Let the held work go on, and return what it returned (or raise what it raised)."""
        self._go.set()
        return self.result()

    def result(self) -> T:
        self._go.set()
        self._thread.join(HOLD_LIMIT)
        assert not self._thread.is_alive(), f"{self.name} never finished"
        if self._error is not None:
            raise self._error
        return self._result

    def outcome(self) -> Any:
        """What it returned, or the exception it raised (for work expected to be refused)."""
        try:
            return self.result()
        except Exception as exc:
            return exc


def wait_for_either(*events: threading.Event, what: str, timeout: float = HOLD_LIMIT) -> None:
    deadline = time.monotonic() + timeout
    while not any(e.is_set() for e in events):
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        events[0].wait(0.005)


def waits_for_lock(work: InFlight[Any], *, sqlite_grace: float = 0.5) -> bool:
    """Whether ``work`` (started, not held) is waiting for a lock rather than going on.

    PostgreSQL: True as soon as its backend is seen waiting on a lock, False if it finishes
    first. SQLite: a writer that finds the database's write lock taken waits inside SQLite,
    unseen; True if it has not finished after ``sqlite_grace`` seconds."""
    if not on_postgresql():
        return not work.done.wait(sqlite_grace)
    from django.db import connections

    assert work.backend_pid is not None
    deadline = time.monotonic() + HOLD_LIMIT
    with connections["default"].cursor() as cursor:
        while not work.done.is_set():
            cursor.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [work.backend_pid]
            )
            row = cursor.fetchone()
            if row is not None and row[0] == "Lock":
                return True
            if time.monotonic() > deadline:
                raise AssertionError(f"{work.name} neither waited nor finished")
            time.sleep(0.002)
    return False


@contextmanager
def held(work: InFlight[T]) -> Iterator[InFlight[T]]:
    """``work`` started and held; let go (and its thread joined) however the block ends."""
    work.start()
    try:
        yield work
    finally:
        work._go.set()
        work._thread.join(HOLD_LIMIT)


def one_after_another(
    first: Callable[[], Any],
    second: Callable[[], Any],
    *,
    first_held_after: str,
    nth: int = 1,
    meanwhile: Callable[[], None] | None = None,
) -> tuple[Any, Any, bool]:
    """``first`` held inside its transaction just after ``first_held_after`` ran (``nth``
    time), which is when it holds its lock; ``second`` started meanwhile and, once it is seen
    waiting (or has finished), ``meanwhile()`` run in the test's thread; then ``first`` let go.
    Returns what each returned (or the exception it raised) and whether ``second`` was seen
    waiting for a lock."""
    a = InFlight(first, after=first_held_after, nth=nth, name="first")
    with held(a):
        b = InFlight(second, name="second").start()
        waited = waits_for_lock(b)
        if meanwhile is not None:
            meanwhile()
    return a.outcome(), b.outcome(), waited
