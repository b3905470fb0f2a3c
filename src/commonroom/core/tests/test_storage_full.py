"""A full disk (ENOSPC, EDQUOT, or the database saying it is full) answers 507 with one sentence
wherever it happens, and logs one line, not a traceback: on pages, in the JSON API, for the
upload form's script, and before Django runs (the ASGI body spool).

The errors are real: writes to /dev/full, SQLite at its page limit, uploads into a tmpfs that
has no room left (small_disk.py)."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import sqlite3
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError
from django.http import HttpResponse
from django.test import Client, RequestFactory

from commonroom.core.exceptions import STORAGE_FULL_MESSAGE, storage_full_cause
from commonroom.core.middleware import (
    ApplicationErrorMiddleware,
    StorageFullGuard,
    server_error,
)
from commonroom.core.tests.small_disk import files_under, fill, small_disk

SENTENCE = "The server's storage is full. Nothing was saved."


def enospc() -> OSError:
    """The error a real write to a full device raises."""
    try:
        with open("/dev/full", "wb", buffering=0) as full:
            full.write(b"minutes")
    except OSError as exc:
        return exc
    raise AssertionError("/dev/full took the bytes")


def sqlite_full() -> sqlite3.OperationalError:
    """SQLite's own SQLITE_FULL, from a database held at its page limit."""
    db = sqlite3.connect(":memory:")
    try:
        db.execute("CREATE TABLE t (x BLOB)")
        (pages,) = db.execute("PRAGMA page_count").fetchone()
        db.execute(f"PRAGMA max_page_count = {pages}")
        db.execute("INSERT INTO t VALUES (?)", (b"\0" * 100_000,))
    except sqlite3.OperationalError as exc:
        return exc
    finally:
        db.close()
    raise AssertionError("SQLite took a row past its page limit")


def storage_log(caplog: Any) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "commonroom.storage"]


def test_the_message_is_the_sentence() -> None:
    assert STORAGE_FULL_MESSAGE == SENTENCE


def test_a_full_disk_or_database_is_recognised_wherever_it_sits_in_the_chain() -> None:
    import psycopg

    disk = enospc()
    assert disk.errno == errno.ENOSPC
    assert storage_full_cause(disk) is disk
    quota = OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))
    assert storage_full_cause(quota) is quota
    sqlite = sqlite_full()
    assert "database or disk is full" in str(sqlite)
    assert storage_full_cause(sqlite) is sqlite
    # Django wraps a database's error in its own; the cause is kept.
    try:
        raise OperationalError(*sqlite.args) from sqlite
    except OperationalError as wrapped:
        assert storage_full_cause(wrapped) is not None
    # An error raised while handling a full disk (a cleanup failing, say) still counts.
    try:
        try:
            raise disk
        except OSError:
            raise RuntimeError("could not finish the upload") from None
    except RuntimeError as outer:
        assert outer.__context__ is disk
        assert storage_full_cause(outer) is disk
    pg_full = psycopg.errors.DiskFull("could not extend file: No space left on device")
    assert storage_full_cause(pg_full) is pg_full
    for other in (
        OSError(errno.EACCES, "Permission denied"),
        OSError(errno.EIO, "Input/output error"),
        ValueError("no"),
        OperationalError("database is locked"),
    ):
        assert storage_full_cause(other) is None, other


def boundary(request: Any, exc: Exception) -> HttpResponse | None:
    return ApplicationErrorMiddleware(lambda r: HttpResponse()).process_exception(request, exc)


@pytest.mark.django_db
def test_a_page_answers_507_with_the_sentence_and_logs_one_line(
    team: Any, rf: RequestFactory, caplog: Any
) -> None:
    request = rf.post(f"/w/{team.workspace.pk}/upload/")
    request.user = team.editor
    request.session = {}  # type: ignore[assignment]
    response = boundary(request, enospc())
    assert response is not None
    assert response.status_code == 507
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "The server&#x27;s storage is full. Nothing was saved." in page
    assert "Something went wrong" not in page
    # Django does not log it again as a server error.
    assert response._has_been_logged  # type: ignore[attr-defined]
    (record,) = storage_log(caplog)
    assert record.levelno == logging.ERROR
    assert record.exc_info is None
    assert "No space left on device" in record.getMessage()
    assert f"POST /w/{team.workspace.pk}/upload/" in record.getMessage()


def test_the_upload_forms_script_reads_json_and_a_pages_script_a_sentence(
    rf: RequestFactory,
) -> None:
    as_json = boundary(rf.post("/w/x/upload/", headers={"Accept": "application/json"}), enospc())
    assert as_json is not None and as_json.status_code == 507
    assert json.loads(as_json.content) == {"code": "storage_full", "detail": SENTENCE}
    scripted = boundary(rf.post("/w/x/comments/", headers={"HX-Request": "true"}), sqlite_full())
    assert scripted is not None and scripted.status_code == 507
    assert scripted.content.decode() == SENTENCE
    # Any other error is left to Django (a 500 and its traceback: it is a bug).
    assert boundary(rf.post("/w/x/upload/"), ValueError("a bug")) is None
    # The API has its own boundary.
    assert boundary(rf.post("/api/v1/workspaces/x/documents"), enospc()) is None


def test_handler500_answers_a_full_disk_outside_any_view_with_507(
    rf: RequestFactory, caplog: Any
) -> None:
    request = rf.post("/w/x/upload/", headers={"Accept": "application/json"})
    try:
        raise enospc()
    except OSError:
        response = server_error(request)
    assert response.status_code == 507
    assert json.loads(response.content)["code"] == "storage_full"
    assert len(storage_log(caplog)) == 1
    try:
        raise ValueError("a bug")
    except ValueError:
        other = server_error(rf.get("/"))
    assert other.status_code == 500


def run_guarded(app: Any, path: str, accept: bytes = b"") -> tuple[int, bytes, list[str]]:
    """Run ``app`` behind the guard with a three-part body; return the status, the body, and
    which parts were read (by the app, then the guard)."""
    parts: list[dict[str, Any]] = [
        {"type": "http.request", "body": b"a" * 10, "more_body": True},
        {"type": "http.request", "body": b"b" * 10, "more_body": True},
        {"type": "http.request", "body": b"c" * 10, "more_body": False},
    ]
    read: list[str] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        message = parts.pop(0) if parts else {"type": "http.disconnect"}
        read.append(message["body"][:1].decode() if "body" in message else message["type"])
        return message

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = {"type": "http", "method": "POST", "path": path, "headers": [(b"accept", accept)]}
    asyncio.run(StorageFullGuard(app)(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]), read


def test_a_full_disk_while_the_body_is_spooled_answers_507_after_reading_the_rest(
    caplog: Any,
) -> None:
    async def spooling_app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        with open("/dev/full", "wb", buffering=0) as spool:
            spool.write(b"first part")

    status, body, read = run_guarded(spooling_app, "/api/v1/workspaces/x/documents")
    assert status == 507
    assert json.loads(body) == {"code": "storage_full", "detail": SENTENCE}
    # The rest of the body was read (and dropped) before answering, so a browser still
    # sending it reads the answer instead of a dropped connection.
    assert read == ["a", "b", "c"]
    status, body, _ = run_guarded(spooling_app, "/w/x/upload/", accept=b"application/json")
    assert (status, json.loads(body)["detail"]) == (507, SENTENCE)
    status, body, _ = run_guarded(spooling_app, "/w/x/upload/")
    assert (status, body.decode()) == (507, SENTENCE)
    assert len(storage_log(caplog)) == 3
    assert all(r.exc_info is None for r in storage_log(caplog))

    async def buggy_app(scope: Any, receive: Any, send: Any) -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        run_guarded(buggy_app, "/w/x/upload/")


# --- Real uploads into a real full disk, through the whole Django stack ------------------------


@pytest.fixture
def full_upload_temp(settings: Any) -> Any:
    """Django's upload temporary folder on a 256 KiB tmpfs with no room left."""
    with small_disk(256) as disk:
        temp = disk / "tmp"
        temp.mkdir()
        settings.FILE_UPLOAD_TEMP_DIR = str(temp)
        fill(disk)
        yield disk


PDF = b"%PDF-1.4\n" + b"0" * 200_000


def nothing_saved(team: Any, disk: Path) -> None:
    from commonroom.documents.models import Blob, Document

    assert not Document.objects.filter(workspace=team.workspace, name="big.pdf").exists()
    assert not Blob.objects.filter(size=len(PDF)).exists()
    assert files_under(disk) == ["filler"]


@pytest.mark.django_db
def test_the_upload_form_answers_507_json_on_a_full_disk(
    team: Any, full_upload_temp: Path, caplog: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    # The form as a browser sends it: the CSRF check itself parses the upload (outside any
    # view), so this goes through handler500.
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(team.editor)
    client.get(f"/w/{team.workspace.pk}/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        f"/w/{team.workspace.pk}/upload/",
        {"files": SimpleUploadedFile("big.pdf", PDF, "application/pdf")},
        headers={"Accept": "application/json", "X-CSRFToken": token},
    )
    assert response.status_code == 507, response.content
    assert response.json() == {"code": "storage_full", "detail": SENTENCE}
    nothing_saved(team, full_upload_temp)
    assert len(storage_log(caplog)) == 1
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.django_db
def test_the_upload_page_and_the_api_answer_507_on_a_full_disk(
    team: Any, full_upload_temp: Path, caplog: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from commonroom.accounts.services import token_create

    client = Client(raise_request_exception=False)
    client.force_login(team.editor)
    page = client.post(
        f"/w/{team.workspace.pk}/upload/",
        {"files": SimpleUploadedFile("big.pdf", PDF, "application/pdf")},
    )
    assert page.status_code == 507
    assert "The server&#x27;s storage is full. Nothing was saved." in page.content.decode()
    secret = token_create(actor=team.editor, name="uploader", scope="write").secret
    api = Client(raise_request_exception=False).post(
        f"/api/v1/workspaces/{team.workspace.pk}/documents",
        {"file": SimpleUploadedFile("big.pdf", PDF, "application/pdf")},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert api.status_code == 507
    assert api.json() == {"code": "storage_full", "detail": SENTENCE}
    nothing_saved(team, full_upload_temp)
    assert len(storage_log(caplog)) == 2
    assert not [r for r in caplog.records if r.exc_info]
