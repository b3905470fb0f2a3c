"""PostgreSQL out of reach (restarted, stopped, a connection it ended) answers 503 with one
sentence wherever a request meets it, and logs one line, not a traceback: in the JSON API, on
pages (a page drawn without the database), for a page's script, and in Django's handler500
(a session or a sign-in read in a middleware).

The errors are real: a connection refused by a port nothing listens on, psycopg's pool giving
up, and, on PostgreSQL, this test's own server session ended by the server
(``pg_terminate_backend``, what a fast stop or restart does to every session), and a worker's
way to the server cut for a while (a forwarder that drops its connections and refuses new
ones): the worker lives through it."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django_tasks_db.models import DBTaskResult
from psycopg_pool import ConnectionPool, PoolTimeout

from commonroom.accounts.models import TokenScope
from commonroom.accounts.services import token_create
from commonroom.core.exceptions import (
    DATABASE_UNAVAILABLE_MESSAGE,
    database_unavailable_cause,
    storage_full_cause,
)
from commonroom.core.middleware import ApplicationErrorMiddleware, server_error

SENTENCE = (
    "The database cannot be reached just now. "
    "Try again in a minute, and check first whether what you sent was saved."
)


def _nowhere() -> str:
    """A PostgreSQL address on which nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql://nobody@127.0.0.1:{port}/nothing"


def refused() -> psycopg.OperationalError:
    """psycopg's own error for a server that is not there."""
    try:
        psycopg.connect(_nowhere(), connect_timeout=2)
    except psycopg.OperationalError as exc:
        return exc
    raise AssertionError("a connection to nowhere was made")


def pool_gave_up() -> PoolTimeout:
    """psycopg_pool's error when no connection could be had in time (the serving processes'
    pool, settings.DB_POOL_SIZE)."""
    pool = ConnectionPool(_nowhere(), min_size=1, open=False, timeout=0.5)
    pool.open(wait=False)
    try:
        pool.getconn()
    except PoolTimeout as exc:
        return exc
    finally:
        pool.close(timeout=0)
    raise AssertionError("the pool lent a connection to nowhere")


def database_log(caplog: Any) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "commonroom.database"]


def test_the_message_is_the_sentence() -> None:
    assert DATABASE_UNAVAILABLE_MESSAGE == SENTENCE


def test_the_server_out_of_reach_is_recognised_wherever_it_sits_in_the_chain() -> None:
    away = refused()
    assert away.sqlstate is None
    assert database_unavailable_cause(away) is away
    gave_up = pool_gave_up()
    assert database_unavailable_cause(gave_up) is gave_up
    ended = psycopg.errors.AdminShutdown("terminating connection due to administrator command")
    assert database_unavailable_cause(ended) is ended
    starting = psycopg.errors.CannotConnectNow("the database system is starting up")
    assert database_unavailable_cause(starting) is starting
    # Django wraps the database's error in its own; the cause is kept.
    try:
        raise OperationalError(*away.args) from away
    except OperationalError as wrapped:
        assert database_unavailable_cause(wrapped) is away
    # SQLite's one writer's lock not had within the busy timeout: answered the same way.
    locked = sqlite3.OperationalError("database is locked")
    try:
        raise OperationalError(*locked.args) from locked
    except OperationalError as wrapped:
        assert database_unavailable_cause(wrapped) is locked
    # Not an outage: the server answered, with a refusal of its own (nor a full disk, which
    # is 507), and SQLite's other errors.
    for other in (
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        psycopg.errors.DiskFull("could not extend file: No space left on device"),
        sqlite3.OperationalError("no such table: x"),
        OperationalError("database is locked"),  # Django's, without SQLite's own as its cause
        ValueError("no"),
    ):
        assert database_unavailable_cause(other) is None, other
    assert storage_full_cause(away) is None


def boundary(request: Any, exc: Exception) -> HttpResponse | None:
    return ApplicationErrorMiddleware(lambda r: HttpResponse()).process_exception(request, exc)


def test_a_page_answers_503_drawn_without_the_database_and_logs_one_line(
    rf: RequestFactory, caplog: Any
) -> None:
    """No database access in this test at all: the page needs none (error.html's layout would
    read the header's counts from it)."""
    response = boundary(rf.get("/w/x/"), refused())
    assert response is not None
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert response["Retry-After"] == "60"
    assert SENTENCE in response.content.decode()
    assert response._has_been_logged  # type: ignore[attr-defined]
    (record,) = database_log(caplog)
    assert record.levelno == logging.ERROR
    assert record.exc_info is None
    assert "GET /w/x/ answered 503" in record.getMessage()
    assert "\n" not in record.getMessage()
    scripted = boundary(rf.post("/w/x/comments/", headers={"HX-Request": "true"}), refused())
    assert scripted is not None and scripted.status_code == 503
    assert scripted.content.decode() == SENTENCE
    as_json = boundary(rf.post("/w/x/upload/", headers={"Accept": "application/json"}), refused())
    assert as_json is not None and as_json.status_code == 503
    assert json.loads(as_json.content) == {"code": "database_unavailable", "detail": SENTENCE}
    # The API has its own boundary.
    assert boundary(rf.get("/api/v1/me"), refused()) is None


def test_handler500_answers_the_database_out_of_reach_outside_any_view_with_503(
    rf: RequestFactory, caplog: Any
) -> None:
    try:
        raise OperationalError("connection failed") from pool_gave_up()
    except OperationalError:
        api = server_error(rf.get("/api/v1/me"))
        page = server_error(rf.get("/"))
    assert api.status_code == 503
    assert json.loads(api.content)["code"] == "database_unavailable"
    assert page.status_code == 503 and SENTENCE in page.content.decode()
    assert len(database_log(caplog)) == 2


def _end_this_session() -> None:
    """This thread's server session ended by the server, from another connection, as a fast
    stop ends every session; waits until it is gone."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 10
        while other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            assert time.monotonic() < deadline, "the session did not end"
            time.sleep(0.05)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL server's session")
@pytest.mark.django_db(transaction=True)
def test_a_request_whose_session_the_server_ended_answers_503_and_the_next_one_is_served(
    team: Any, caplog: Any
) -> None:
    secret = token_create(actor=team.editor, name="outage", scope=TokenScope.WRITE).secret
    headers = {"Authorization": f"Bearer {secret}"}
    api = Client(raise_request_exception=False)
    assert api.get("/api/v1/me", headers=headers).status_code == 200
    _end_this_session()
    ended = api.get("/api/v1/me", headers=headers)
    assert ended.status_code == 503
    assert ended.json() == {"code": "database_unavailable", "detail": SENTENCE}
    (record,) = database_log(caplog)
    assert record.exc_info is None and "GET /api/v1/me answered 503" in record.getMessage()
    # A served request's connection is closed as it ends (the test client keeps it): the next
    # request opens a new one.
    connection.close()
    assert api.get("/api/v1/me", headers=headers).status_code == 200

    # A page: its session is read by a middleware, before any view (handler500).
    browser = Client(raise_request_exception=False)
    browser.force_login(team.editor)
    _end_this_session()
    page = browser.get(f"/w/{team.workspace.pk}/")
    assert page.status_code == 503
    assert SENTENCE in page.content.decode()
    connection.close()
    assert browser.get(f"/w/{team.workspace.pk}/").status_code == 200


class CuttableLink:
    """A TCP forwarder on a loopback port to the PostgreSQL server: :meth:`cut` ends every
    connection through it and refuses new ones (accepted, then closed at once) until
    :meth:`mend`. What a process using it sees is the server gone: its connections lost, new
    ones failing."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.up = threading.Event()
        self.up.set()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if not self.up.is_set():
                client.close()
                continue
            server = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up.clear()
        with self.lock:
            ends, self.sockets = self.sockets, []
        for end in ends:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def mend(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()


OUTAGE_SECONDS = 5


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL server's session")
@pytest.mark.django_db(transaction=True)
def test_a_worker_lives_through_the_database_going_away_and_takes_the_next_task(
    settings: Any, tmp_path: Path
) -> None:
    """A real ``commonroom worker`` whose way to PostgreSQL is cut for five seconds (its
    connections lost, new ones refused), without a pool so that each of its polls meets the
    outage at once. django-tasks-db's loop would end the process on the first; it logs one line
    a try, lives on, and runs the task queued once the database is back."""
    from commonroom.core.models import WorkerLease
    from commonroom.live.tasks import prune_events
    from commonroom.live.tests.servers import test_database_url

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    db = connection.settings_dict
    link = CuttableLink(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
    url = test_database_url().replace(f":{db['PORT'] or 5432}/", f":{link.port}/")
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DB_POOL_SIZE": "0",
        "COMMONROOM_DATA_DIR": str(settings.DATA_DIR),
        "TMPDIR": str(tmp_path),
    }
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "commonroom", "worker", "--no-startup-delay"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not WorkerLease.objects.exists():
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.2)
        link.cut()
        time.sleep(OUTAGE_SECONDS)
        assert worker.poll() is None, f"the worker ended:\n{log.read_text()}"
        link.mend()
        task = prune_events.enqueue()
        deadline = time.monotonic() + 60
        while (status := DBTaskResult.objects.get(pk=task.id).status) != "SUCCESSFUL":
            assert status in {"READY", "RUNNING"}, status
            assert worker.poll() is None, f"the worker ended:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"the task was not run:\n{log.read_text()}"
            time.sleep(0.2)
        assert "worker: the database cannot be reached" in log.read_text()
    finally:
        worker.terminate()
        assert worker.wait(timeout=60) == 0, log.read_text()
        link.close()


# A serving process's transaction (a pool, as `serve` has) whose connection is lost inside it:
# how long until the error leaves the atomic block. Run in a process of its own; told on stdin
# when the way to the server has been cut.
IN_A_TRANSACTION = """
import json, sys, time
import django
django.setup()
from django.db import connection, transaction
assert connection.settings_dict["OPTIONS"].get("pool"), "no pool"
try:
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            print("in", flush=True)
            sys.stdin.readline()
            started = time.monotonic()
            cursor.execute("SELECT 1")
except Exception as exc:
    print(json.dumps({"seconds": time.monotonic() - started, "error": type(exc).__name__}))
"""


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL server's session")
@pytest.mark.django_db(transaction=True)
def test_a_transaction_whose_connection_was_lost_fails_at_once_with_a_pool(
    settings: Any, tmp_path: Path
) -> None:
    """Django's ``Atomic`` opens a new connection after a failed rollback; from the pool that
    waited (30 s, or until the server was back). core.pooled_postgresql lets it fail at once."""
    from commonroom.live.tests.servers import test_database_url

    db = connection.settings_dict
    link = CuttableLink(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url().replace(f":{db['PORT'] or 5432}/", f":{link.port}/"),
        "DB_POOL_SIZE": "2",
        "DJANGO_SETTINGS_MODULE": "commonroom.settings",
        "COMMONROOM_DATA_DIR": str(settings.DATA_DIR),
        "TMPDIR": str(tmp_path),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", IN_A_TRANSACTION],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "in"
        link.cut()
        child.stdin.write("go\n")
        child.stdin.flush()
        result = json.loads(child.stdout.readline())
    finally:
        child.kill()
        child.wait()
        link.close()
    assert result["error"] == "OperationalError"
    assert result["seconds"] < 5, result


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's one writer's lock")
@pytest.mark.django_db(transaction=True)
def test_on_sqlite_a_write_that_waits_past_the_busy_timeout_answers_503_and_writes_nothing(
    team: Any, caplog: Any
) -> None:
    """The embedded server past what it can write: another writer holds SQLite's lock longer
    than the busy timeout (shortened here from 30 s). The comment is answered 503 with the
    sentence, not 500; nothing of it is written; once the lock is free, it goes through."""
    from commonroom.comments.models import Comment
    from commonroom.workspaces.tests.factories import upload_document

    document = upload_document(team.workspace, team.manager, name="minutes.txt")
    secret = token_create(actor=team.editor, name="busy", scope=TokenScope.WRITE).secret
    headers = {"Authorization": f"Bearer {secret}"}
    url = f"/api/v1/workspaces/{team.workspace.pk}/documents/{document.pk}/comments"
    api = Client(raise_request_exception=False)
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    try:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout = 300")
        other.execute("BEGIN IMMEDIATE")  # the one writer's lock, held
        busy = api.post(
            url, {"body": "Point one"}, content_type="application/json", headers=headers
        )
        assert busy.status_code == 503, busy.content
        assert busy.json() == {"code": "database_unavailable", "detail": SENTENCE}
        assert busy["Retry-After"] == "60"
        (record,) = database_log(caplog)
        assert record.exc_info is None and "answered 503" in record.getMessage()
        other.execute("ROLLBACK")
        assert not Comment.objects.filter(body="Point one").exists()
        again = api.post(
            url, {"body": "Point one"}, content_type="application/json", headers=headers
        )
        assert again.status_code == 201, again.content
        assert Comment.objects.filter(body="Point one").count() == 1
    finally:
        other.close()
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout = 30000")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="psycopg's own refusal")
@pytest.mark.django_db
def test_a_query_psycopg_refuses_to_send_is_a_fault_not_an_outage() -> None:
    """psycopg refuses a query bound on the server with more than 65,535 parameters with an
    OperationalError of no SQLSTATE, as it does a lost connection (Django binds on the client,
    so its own queries never meet this; psycopg's own cursor does); the connection is
    still sound, so it is a fault (a 500 with its traceback), not "the database cannot be
    reached"."""
    connection.ensure_connection()
    raw = connection.connection
    with pytest.raises(psycopg.OperationalError) as refused, psycopg.Cursor(raw) as bound:
        bound.execute("SELECT 1 WHERE 1 IN (" + ",".join(["%s"] * 70000) + ")", range(70000))
    assert refused.value.sqlstate is None
    assert database_unavailable_cause(refused.value) is None
    with connection.cursor() as cursor:  # still sound
        cursor.execute("SELECT 1")


def test_an_error_raised_while_an_outage_was_handled_is_a_fault_of_its_own() -> None:
    away = psycopg.OperationalError("connection refused")
    try:
        try:
            raise away
        except psycopg.OperationalError:
            raise ValueError("a bug in the handler") from None
    except ValueError as bug:
        assert bug.__context__ is away
        assert database_unavailable_cause(bug) is None


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's one writer's lock")
@pytest.mark.django_db(transaction=True)
def test_webdav_answers_the_database_out_of_reach_with_503_and_its_sentence(
    team: Any, caplog: Any
) -> None:
    """/dav/ is routed before Django's middleware: its own error responder answers the same
    503 and sentence (a desktop drive or Office, during a PostgreSQL restart or with SQLite's
    lock held past its busy timeout), not a 500 with a traceback."""
    from commonroom.webdav.tests.client import Dav

    dav = Dav(team.editor)
    signing_in = Dav(team.manager)
    # The editor's token was used a moment ago: its next use writes nothing while it signs in,
    # so the PUT meets the lock in the provider; the manager's first use writes when it signs in.
    assert dav.request("PROPFIND", "/", headers={"Depth": "0"}).status_code == 207
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    try:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout = 300")
        other.execute("BEGIN IMMEDIATE")
        for client in (dav, signing_in):
            busy = client.request("PUT", f"/{team.workspace.name}/notes.txt", content=b"Beds\n")
            assert busy.status_code == 503, busy.text
            assert busy.text == SENTENCE + "\n"
            assert busy.headers["Retry-After"] == "60"
        assert len([r for r in database_log(caplog) if "answered 503" in r.getMessage()]) == 2
        other.execute("ROLLBACK")
        again = dav.request("PUT", f"/{team.workspace.name}/notes.txt", content=b"Beds\n")
        assert again.status_code == 201, again.text
    finally:
        other.close()
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout = 30000")
