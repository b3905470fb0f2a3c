"""The SQLite backend's pool of closed connections (``core.pooled_sqlite3``, decision 36): a
connection one request closes is taken up by the next, whatever its thread, and only when it is
clean and still the same database file."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connection

from commonroom.core.pooled_sqlite3 import base

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "sqlite", reason="the pool is SQLite's; PostgreSQL does not use it"
    ),
    # Database access allowed (the wrappers here are on files of their own).
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "_size", 2)


def wrapper(path: Path) -> base.DatabaseWrapper:
    settings_dict = {**connection.settings_dict, "NAME": str(path), "TEST": {}}
    return base.DatabaseWrapper(settings_dict, alias=f"pooled-{path.name}")


def database_with_note(path: Path, body: str) -> Path:
    """A new SQLite file at ``path`` whose one table holds one note."""
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE note (body TEXT)")
    raw.execute("INSERT INTO note VALUES (?)", (body,))
    raw.commit()
    raw.close()
    return path


@pytest.fixture
def db_file(tmp_path: Path) -> Iterator[Path]:
    path = database_with_note(tmp_path / "pooled.sqlite3", "kept")
    yield path
    for _, conn in base._idle.pop(str(path), []):
        conn.close()


def raw_of(db: base.DatabaseWrapper) -> Any:
    db.ensure_connection()
    return db.connection


def in_thread(work: Any) -> Any:
    """``work()`` in a thread of its own, as each ASGI request is; its result."""
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(work()))
    thread.start()
    thread.join()
    return box[0]


def test_a_closed_connection_is_taken_up_by_the_next_request_in_another_thread(
    pooled: None, db_file: Path
) -> None:
    def request() -> tuple[int, str]:
        db = wrapper(db_file)
        conn = raw_of(db)
        with db.cursor() as cursor:
            cursor.execute("SELECT body FROM note")
            body = cursor.fetchone()[0]
        db.close()
        return id(conn), body

    first, second = in_thread(request), in_thread(request)
    assert first[1] == second[1] == "kept"
    assert first[0] == second[0]  # the same SQLite connection, its schema already read
    assert base.idle_count(str(db_file)) == 1


def test_without_pooling_closing_closes(db_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "_size", 0)  # as in a process that does not serve
    db = wrapper(db_file)
    conn = raw_of(db)
    db.close()
    assert base.idle_count(str(db_file)) == 0
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")


def test_a_transaction_left_open_is_rolled_back_before_anyone_else_has_it(
    pooled: None, db_file: Path
) -> None:
    db = wrapper(db_file)
    conn = raw_of(db)
    conn.execute("BEGIN")
    conn.execute("INSERT INTO note VALUES ('half done')")
    db.close()
    assert base.idle_count(str(db_file)) == 1
    again = wrapper(db_file)
    assert raw_of(again) is conn
    with again.cursor() as cursor:
        cursor.execute("SELECT body FROM note ORDER BY body")
        assert [row[0] for row in cursor.fetchall()] == ["kept"]
    again.close()


def test_a_connection_closed_inside_an_atomic_block_is_really_closed(
    pooled: None, db_file: Path
) -> None:
    db = wrapper(db_file)
    conn = raw_of(db)
    db.set_autocommit(False)
    db.in_atomic_block = True  # as a request cut short inside transaction.atomic leaves it
    db.close()
    assert base.idle_count(str(db_file)) == 0
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")


def test_a_connection_that_saw_an_error_is_really_closed(pooled: None, db_file: Path) -> None:
    db = wrapper(db_file)
    conn = raw_of(db)
    with pytest.raises(OperationalError), db.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table")
    assert db.errors_occurred
    db.close()
    assert base.idle_count(str(db_file)) == 0
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")


def test_a_database_file_replaced_underneath_is_opened_afresh(
    pooled: None, db_file: Path, tmp_path: Path
) -> None:
    db = wrapper(db_file)
    old = raw_of(db)
    db.close()
    assert base.idle_count(str(db_file)) == 1
    # As a restore does: another file put in its place.
    os.replace(database_with_note(tmp_path / "restored.sqlite3", "restored"), db_file)
    again = wrapper(db_file)
    assert raw_of(again) is not old
    with again.cursor() as cursor:
        cursor.execute("SELECT body FROM note")
        assert cursor.fetchone()[0] == "restored"
    again.close()
    with pytest.raises(sqlite3.ProgrammingError):
        old.execute("SELECT 1")  # the stale one was closed, not kept


def test_the_pool_keeps_at_most_its_size(pooled: None, db_file: Path) -> None:
    dbs = [wrapper(db_file) for _ in range(3)]
    conns = [raw_of(db) for db in dbs]
    assert len({id(c) for c in conns}) == 3
    for db in dbs:
        db.close()
    assert base.idle_count(str(db_file)) == 2
    with pytest.raises(sqlite3.ProgrammingError):
        conns[2].execute("SELECT 1")  # the third was closed


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_never_takes_its_parents_connections(pooled: None, db_file: Path) -> None:
    db = wrapper(db_file)
    raw_of(db)
    db.close()
    assert base.idle_count(str(db_file)) == 1
    pid = os.fork()
    if pid == 0:  # the child: its pool is empty
        os._exit(0 if base.idle_count(str(db_file)) == 0 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert base.idle_count(str(db_file)) == 1  # the parent's are still its own


QMARK_TEXTS = (
    "SELECT %s",
    "SELECT body FROM note WHERE body = %s OR body LIKE '%%ep%%' OR %s = 1",
    "SELECT '%%s' || %s",  # a literal "%s" written as "%%s" stays text
    "SELECT 1",
)


def test_each_statements_text_is_converted_as_djangos_cursor_converts_it(db_file: Path) -> None:
    """A cursor's statement is turned into SQLite's ``?`` style once per text, each text as
    Django's own cursor turns it; a statement given its parameters by name, or none, is
    Django's cursor's own work."""
    db = wrapper(db_file)
    with db.cursor() as cursor:
        assert isinstance(cursor.cursor, base.CursorWrapper)
        for text in QMARK_TEXTS:
            djangos = base.base.SQLiteCursorWrapper.convert_query  # type: ignore[attr-defined]  # not in the stubs
            assert base._qmark(text) == djangos(cursor.cursor, text)
        base._qmark.cache_clear()
        for _ in range(3):
            cursor.execute(QMARK_TEXTS[1], ["kept", 2])
            assert cursor.fetchall() == [("kept",)]
        assert (base._qmark.cache_info().misses, base._qmark.cache_info().hits) == (1, 2)
        cursor.execute(QMARK_TEXTS[2], [7])
        assert cursor.fetchall() == [("%s7",)]
        cursor.execute("SELECT body FROM note WHERE body = %(body)s", {"body": "kept"})
        assert cursor.fetchall() == [("kept",)]
        cursor.execute("SELECT '%' || body FROM note")  # no parameters: the text as it is
        assert cursor.fetchall() == [("%kept",)]
    db.close()
