"""A real server process on a real full disk: uploads answer 507 with the sentence, log one line
each, leave nothing behind, and the same uploads succeed once there is room again.

The server's upload temporary folder (where the ASGI handler spools other bodies and the upload
handler streams files) and its blob storage are on a small tmpfs mounted for the test; the
database stays where the test database is. Two places fill up: the upload's own temporary file,
inside Django (an upload's body is streamed straight into it: core.asgi_body), and the spool of
any other request's body, before Django runs (a form's body over 1 MiB)."""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any

import httpx
import pytest
from django.db import connection
from django.test import Client

from commonroom.accounts.services import token_create
from commonroom.core.tests.small_disk import files_under, fill, small_disk
from commonroom.documents.models import Blob, Document, Version
from commonroom.live.tests.servers import uvicorn_process
from commonroom.workspaces.tests.factories import upload_document

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SENTENCE = "The server's storage is full. Nothing was saved."
MIB = 1024 * 1024
BODY = b"Minutes of the weekly budget meeting, line after line.\n" * (2 * MIB // 55)


def test_uploads_into_a_full_disk_answer_507_and_succeed_once_there_is_room(
    team: Any, capfd: Any
) -> None:
    secret = token_create(actor=team.editor, name="uploader", scope="write").secret
    browser = Client()
    browser.force_login(team.editor)
    session = browser.cookies["sessionid"].value
    with small_disk(8 * 1024) as disk:
        (disk / "tmp").mkdir()
        (disk / "files").mkdir()
        env = {
            "COMMONROOM_UPLOAD_TEMP_DIR": str(disk / "tmp"),
            "COMMONROOM_MEDIA_ROOT": str(disk / "files"),
            "LOG_LEVEL": "WARNING",
        }
        with uvicorn_process(**env) as url, httpx.Client(base_url=url, timeout=30) as http:
            http.cookies.set("sessionid", session)
            http.get(f"/w/{team.workspace.pk}/")
            csrf = http.cookies["csrftoken"]

            def api_upload(name: str, key: str) -> httpx.Response:
                return http.post(
                    f"/api/v1/workspaces/{team.workspace.pk}/documents",
                    files={"file": (name, BODY, "text/plain")},
                    data={"upload_key": key},
                    headers={"Authorization": f"Bearer {secret}"},
                )

            def form_upload(name: str, key: str) -> httpx.Response:
                # What app.js sends for the upload form.
                return http.post(
                    f"/w/{team.workspace.pk}/upload/",
                    files={"files": (name, BODY, "text/plain")},
                    data={"upload_key": key},
                    headers={"Accept": "application/json", "X-CSRFToken": csrf},
                )

            def large_form() -> httpx.Response:
                # Not an upload: its body (over 1 MiB) is spooled before Django runs.
                return http.post(
                    f"/api/v1/workspaces/{team.workspace.pk}/conversations",
                    json={"title": "Budget", "body": "line after line " * (MIB // 8)},
                    headers={"Authorization": f"Bearer {secret}"},
                )

            capfd.readouterr()
            filler = fill(disk, leave_bytes=1 * MIB)  # less room than the file itself
            refused = [
                api_upload("api.txt", "k-api"),
                form_upload("form.txt", "k-form"),
                large_form(),
            ]
            for response in refused:
                assert response.status_code == 507, response.text
                assert response.json() == {"code": "storage_full", "detail": SENTENCE}
            log = capfd.readouterr().err
            assert len([line for line in log.splitlines() if "storage full:" in line]) == 3, log
            assert "Traceback" not in log, log
            # Nothing half-saved: no document, version or blob, no file left on the disk.
            assert not Document.objects.filter(workspace=team.workspace).exists()
            assert not Version.objects.exists() and not Blob.objects.exists()
            assert files_under(disk) == ["filler"]

            filler.unlink()
            stored = [api_upload("api.txt", "k-api"), form_upload("form.txt", "k-form")]
            assert stored[0].status_code == 201, stored[0].text
            assert stored[1].status_code == 200, stored[1].text
            assert json.loads(stored[1].text)["redirect"]
    names = sorted(Document.objects.filter(workspace=team.workspace).values_list("name", flat=True))
    assert names == ["api.txt", "form.txt"]
    assert Version.objects.count() == 2
    (blob,) = Blob.objects.all()
    assert blob.size == len(BODY)


@pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="SQLite's own 'database or disk is full' (PostgreSQL's disk_full is mapped by the "
    "unit tests); the database copied onto the small disk is this run's SQLite test database",
)
def test_sqlite_on_a_full_disk_answers_507_and_saves_nothing(team: Any, capfd: Any) -> None:
    """The database itself is on the full disk: SQLite reports "database or disk is full" as it
    writes a comment's transaction, the API answers 507, and the comment is there once there
    is room and it is sent again."""
    document = upload_document(team.workspace, team.manager, name="minutes.txt")
    secret = token_create(actor=team.editor, name="commenter", scope="write").secret
    # Room for the copy of the test database (it grows over a whole run) and 4 MiB more.
    name = connection.settings_dict["NAME"]
    used = sum(os.stat(p).st_size for p in (name, f"{name}-wal") if os.path.exists(p))
    with small_disk(used // 1024 + 4 * 1024) as disk:
        copy = disk / "commonroom.sqlite3"
        source = sqlite3.connect(connection.settings_dict["NAME"])
        held = sqlite3.connect(copy)
        try:
            source.backup(held)
        finally:
            source.close()
        # Held open (in WAL mode, as the server opens it) so its log and index files stay.
        held.execute("PRAGMA journal_mode=WAL")
        try:
            with (
                uvicorn_process(DATABASE_URL=f"sqlite:///{copy}") as url,
                httpx.Client(base_url=url, timeout=30) as http,
            ):

                def comment(body: str) -> httpx.Response:
                    return http.post(
                        f"/api/v1/workspaces/{team.workspace.pk}/documents/{document.pk}/comments",
                        json={"body": body, "client_key": "agenda-item-4"},
                        headers={"Authorization": f"Bearer {secret}"},
                    )

                assert (
                    http.get(
                        f"/api/v1/workspaces/{team.workspace.pk}",
                        headers={"Authorization": f"Bearer {secret}"},
                    ).status_code
                    == 200
                )
                capfd.readouterr()
                filler = fill(disk)
                refused = comment("Agenda item 4 moves to next week.")
                assert refused.status_code == 507, refused.text
                assert refused.json() == {"code": "storage_full", "detail": SENTENCE}
                log = capfd.readouterr().err
                lines = [line for line in log.splitlines() if "storage full:" in line]
                assert len(lines) == 1 and "database or disk is full" in lines[0], log
                assert "Traceback" not in log, log
                (count,) = held.execute(
                    "SELECT count(*) FROM comments_comment WHERE body LIKE 'Agenda item 4%'"
                ).fetchone()
                assert count == 0

                filler.unlink()
                stored = comment("Agenda item 4 moves to next week.")
                assert stored.status_code == 201, stored.text
            (count,) = held.execute(
                "SELECT count(*) FROM comments_comment WHERE body LIKE 'Agenda item 4%'"
            ).fetchone()
            assert count == 1
        finally:
            held.close()
