"""Shared fixtures: people in every role, a real SMTP server on loopback, upload helpers."""

from __future__ import annotations

import os
import re
import socket
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

ROLES = ["viewer", "commenter", "editor", "manager"]


@pytest.fixture(autouse=True)
def _test_settings(settings: Any, tmp_path: Any, monkeypatch: Any) -> Iterator[None]:
    """Every test gets its own blob storage and upload temp folders, an empty cache (rate-limit
    counters live there), real Argon2 hashes at the cheapest parameters, and static files looked
    up when asked for rather than indexed by every new test client."""
    from django.core.cache import cache

    from commonroom.accounts.tests.hashers import TEST_PASSWORD_HASHERS

    settings.PASSWORD_HASHERS = TEST_PASSWORD_HASHERS
    settings.WHITENOISE_AUTOREFRESH = True
    media = tmp_path / "files"
    settings.MEDIA_ROOT = str(media)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "commonroom.documents.storage.DurableFileSystemStorage",
            "OPTIONS": {"location": str(media)},
        },
    }
    tmp = tmp_path / "upload-tmp"
    tmp.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # The audit checkpoints a test writes outside the database name that test's rows only
    # (and so do those of the servers and workers it starts).
    settings.COMMONROOM_AUDIT_CHECKPOINTS = tmp_path / "audit-checkpoints.jsonl"
    monkeypatch.setenv("COMMONROOM_AUDIT_CHECKPOINTS", str(settings.COMMONROOM_AUDIT_CHECKPOINTS))
    # Background tasks run at once, in the test's thread.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    cache.clear()
    yield
    cache.clear()


@dataclass
class Team:
    """A workspace with one person in each role, plus an outsider who belongs to none."""

    workspace: Any
    manager: Any
    editor: Any
    commenter: Any
    viewer: Any
    outsider: Any
    by_role: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def team(db: Any) -> Team:
    from commonroom.accounts.tests.factories import UserFactory
    from commonroom.workspaces.tests.factories import add_member, make_workspace

    manager = UserFactory(email="priya@example.org", full_name="Priya Shah")
    ws = make_workspace(manager=manager)
    editor = add_member(ws, UserFactory(email="tom@example.org"), "editor")
    commenter = add_member(ws, UserFactory(email="sam@example.org"), "commenter")
    viewer = add_member(ws, UserFactory(email="viewer@example.org"), "viewer")
    outsider = UserFactory(email="outsider@example.org")
    t = Team(ws, manager, editor, commenter, viewer, outsider)
    t.by_role = {
        "manager": manager,
        "editor": editor,
        "commenter": commenter,
        "viewer": viewer,
        "non-member": outsider,
        "anonymous": None,
    }
    return t


def upload_file(
    name: str = "minutes.txt", content: bytes = b"hello", ctype: str = "text/plain"
) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=ctype)


@pytest.fixture
def make_upload() -> Any:
    return upload_file


# --- A real SMTP server on loopback ------------------------------------------------------------


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)
    event: threading.Event = field(default_factory=threading.Event)

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[Message]:
        import time

        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            self.event.wait(0.05)
            self.event.clear()
        assert len(self.messages) >= count, f"expected {count} emails, got {len(self.messages)}"
        return self.messages

    @staticmethod
    def body(message: Message) -> str:
        payload = message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[Mailbox]:
    """aiosmtpd on 127.0.0.1; Django's SMTP backend pointed at it."""
    from aiosmtpd.controller import Controller

    box = Mailbox()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.messages.append(message_from_bytes(envelope.content))
            box.event.set()
            return "250 OK"

    port = _free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture(scope="session", autouse=True)
def _sqlite_connections_pooled() -> None:
    """The test process keeps the embedded database's closed connections as a serving process
    does (core.pooled_sqlite3, decision 36), whether or not a test has imported the ASGI
    application (which turns it on): every test runs the way the server does."""
    from django.conf import settings

    from commonroom.core.pooled_sqlite3.base import pool_connections

    pool_connections(getattr(settings, "SQLITE_POOL_SIZE", 0))


# Tables whose rows Django derives from the models alone (post_migrate fills them): a flush
# between tests keeps them rather than empty them for post_migrate to fill again.
_KEPT_BY_FLUSH = frozenset({"django_content_type", "auth_permission"})


@pytest.fixture(scope="session", autouse=True)
def _flush_between_tests_quickly() -> Iterator[None]:
    """Between tests that commit (``transactional_db``), Django empties every table, then runs
    post_migrate, which makes the content types and four permissions per model again: 0.16 s a
    test, on both databases, for rows that are the same each time and that nothing here reads
    (Commonroom's permissions are its own). The flush keeps those two tables, so post_migrate
    finds its rows there. On PostgreSQL the flush is also a ``DELETE`` of each table rather
    than Django's one ``TRUNCATE``, which makes new files for some sixty tables and their
    indexes: 0.6 s a test, against 0.05 s (a test's tables hold a few rows; every foreign key
    Django makes on PostgreSQL is deferred to the commit, so the order does not matter). A
    flush that resets sequences or cascades is Django's own. Only this test process flushes
    this way; ``commonroom flush`` on a real database is Django's.

    post_migrate, once those two tables are kept, would only read them (0.11 s a test), so the
    flush does not send it; its only receivers are the two that fill them, and a new one fails
    here rather than be skipped unseen."""
    from django.core.management.commands import flush
    from django.db.models.signals import post_migrate

    receivers = sorted(
        f"{r.__module__}.{r.__qualname__}"
        for r in (
            ref() if isinstance(ref, weakref.ReferenceType) else ref
            for _, ref, *_ in post_migrate.receivers
        )
        if r is not None
    )
    assert receivers == [
        "django.contrib.auth.management.create_permissions",
        "django.contrib.contenttypes.management.create_contenttypes",
    ], f"post_migrate has a receiver the test flush would skip: {receivers}"

    django_sql_flush = flush.sql_flush
    django_post_migrate = flush.emit_post_migrate_signal

    def sql_flush(
        style: Any, connection: Any, reset_sequences: bool = True, allow_cascade: bool = False
    ) -> list[str]:
        if reset_sequences or allow_cascade:
            return django_sql_flush(
                style, connection, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        tables = [
            t
            for t in connection.introspection.django_table_names(
                only_existing=True, include_views=False
            )
            if t not in _KEPT_BY_FLUSH
        ]
        if connection.vendor != "postgresql":
            return list(connection.ops.sql_flush(style, tables))
        delete = style.SQL_KEYWORD("DELETE FROM")
        return [
            "SET CONSTRAINTS ALL DEFERRED;",
            *(f"{delete} {style.SQL_FIELD(connection.ops.quote_name(t))};" for t in tables),
        ]

    def post_migrate_kept(verbosity: int, interactive: bool, db: str, **kwargs: Any) -> None:
        """Nothing to do: the flush kept what post_migrate's receivers make."""

    flush.sql_flush = sql_flush  # type: ignore[assignment]
    flush.emit_post_migrate_signal = post_migrate_kept  # type: ignore[assignment]
    try:
        yield
    finally:
        flush.sql_flush = django_sql_flush
        flush.emit_post_migrate_signal = django_post_migrate


def _database_line() -> str:
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    where = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded"
    return f"commonroom database: {engine} ({where})"


# --- Word files the tests build ----------------------------------------------------------------

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_KEPT_TABLE_STYLES = {"TableNormal", "TableGrid"}


def _lean_word_template() -> bytes:
    """python-docx's default template without its 150 unused table styles and its Word 2010
    ``stylesWithEffects.xml``: 790 KB of XML that no test is about, which every preview of a
    test's document parsed (0.7 s of a 1 s conversion). What is left is the size of a Word
    document's own styles; every paragraph, character, list and "Table Grid" style stays."""
    import io
    import zipfile

    import docx.api
    from lxml import etree

    dropped = "word/stylesWithEffects.xml"
    out = io.BytesIO()
    with (
        zipfile.ZipFile(docx.api._default_docx_path()) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            if info.filename == dropped:
                continue
            data = source.read(info.filename)
            if info.filename == "word/styles.xml":
                root = etree.fromstring(data)
                for style in root.findall(f"{{{_W}}}style"):
                    if (
                        style.get(f"{{{_W}}}type") == "table"
                        and style.get(f"{{{_W}}}styleId") not in _KEPT_TABLE_STYLES
                    ):
                        root.remove(style)
                data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
            elif info.filename in ("[Content_Types].xml", "word/_rels/document.xml.rels"):
                root = etree.fromstring(data)
                for child in list(root):
                    if (child.get("PartName") or "").lstrip("/") == dropped or child.get(
                        "Target"
                    ) == dropped.removeprefix("word/"):
                        root.remove(child)
                data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
            target.writestr(info, data)
    return out.getvalue()


def pytest_configure(config: Any) -> None:
    """``docx.Document()`` in a test starts from the lean template (:func:`_lean_word_template`)."""
    import io

    import docx.api

    lean = _lean_word_template()
    docx.api._default_docx_path = lambda: io.BytesIO(lean)  # type: ignore[assignment]


# --- The two runs of `make test` share what does not depend on the database ----------------------

SHARE_ENV = "COMMONROOM_TEST_SHARE"  # "sqlite" or "postgres": which run of `make test` this is
DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
}
# A module whose tests start processes of their own, or reach a database some other way than
# through a fixture, runs in both whatever its tests ask for.
_REACHES_DATABASE = re.compile(r"DATABASE_URL|subprocess|connection|transaction|serving|servers")
# A browser test runs in both only when its module starts server processes of its own on the
# database under test; one served from a thread of the test's process (``asgi_server``) or by
# ``live_server`` checks pages, which the database does not change.
_STARTS_PROCESSES = re.compile(r"DATABASE_URL|subprocess|uvicorn_process")
_left_to_the_other_run: list[str] = []


def _module_says(pattern: re.Pattern[str], path: Any, cache: dict[Any, bool]) -> bool:
    key = (pattern.pattern, path)
    if key not in cache:
        cache[key] = bool(pattern.search(path.read_text(encoding="utf-8")))
    return cache[key]


def _uses_no_database(item: Any, cache: dict[Any, bool]) -> bool:
    return (
        item.get_closest_marker("django_db") is None
        and not DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        and not _module_says(_REACHES_DATABASE, item.path, cache)
    )


@pytest.hookimpl(trylast=True)  # after tests/e2e/conftest.py has marked its tests
def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """`make test` runs the suite on SQLite and on PostgreSQL side by side on two cores; what
    the database cannot change is run by one of them only, so neither waits for the other:

    - tests that reach no database (no database fixture or mark, and a module that starts no
      process and touches no connection) run in the PostgreSQL run only;
    - browser tests (tests/e2e), whose pages are what they check, run in the SQLite run only
      (the default installation), except those whose module starts its own server processes
      on the database under test (a server in a thread of the test's process does not count).
    - tests marked ``own_database`` (the production topology: its own PostgreSQL database,
      whatever the run's) run in the PostgreSQL run only;
    - tests marked ``no_database`` (they start processes, so the text of their module keeps
      them in both by the rule above, but none of them touches a database: the deploy files,
      nginx and collectstatic) run in the PostgreSQL run only, as other tests that reach no
      database do;
    - tests marked ``embedded_database`` (their processes make an embedded SQLite database of
      their own, whatever the run's: the data folder's modes, ``serve``'s shutdown, the
      production checks) run in the SQLite run only;
    - tests marked ``one_run("sqlite")`` or ``one_run("postgres")`` run in that run only: their
      subject is not the database, though they use one (the relay between processes without
      Redis, which only the embedded installation uses; a browser riding out a Redis outage;
      the upload body guard; state shared through Redis by two servers).

    Everything else, every service, selector, view, API, live and process test, runs on both.
    Without ``COMMONROOM_TEST_SHARE`` (a plain ``pytest``) every test runs. What a run leaves to
    the other is counted in its summary."""
    share = os.environ.get(SHARE_ENV, "")
    if not share:
        return
    if share not in ("sqlite", "postgres"):
        raise pytest.UsageError(f"{SHARE_ENV} must be sqlite or postgres, not {share!r}")
    cache: dict[Any, bool] = {}
    kept, left = [], []
    for item in items:
        one_run = item.get_closest_marker("one_run")
        if one_run is not None:
            (kept if one_run.args[0] == share else left).append(item)
            continue
        if share == "sqlite":
            other = (
                _uses_no_database(item, cache)
                or item.get_closest_marker("own_database") is not None
                or item.get_closest_marker("no_database") is not None
            )
        else:
            other = item.get_closest_marker("embedded_database") is not None or (
                item.get_closest_marker("e2e") is not None
                and not _module_says(_STARTS_PROCESSES, item.path, cache)
            )
        (left if other else kept).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept
        what = (
            "tests that reach no database or bring their own, or are marked for it"
            if share == "sqlite"
            else "browser tests, tests that touch no database or an embedded one of their own, "
            "and tests marked for it"
        )
        runs = "PostgreSQL" if share == "sqlite" else "SQLite"
        _left_to_the_other_run.append(
            f"{len(left)} {what} are left to the {runs} run of `make test` ({SHARE_ENV}={share})"
        )


def pytest_report_header(config: Any) -> str:
    return _database_line()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say which database the run used, even in quiet mode: the suite runs on two."""
    terminalreporter.write_line(_database_line())
    for line in _left_to_the_other_run:
        terminalreporter.write_line(line)
