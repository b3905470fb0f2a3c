"""The `commonroom` command: demo seed, deploy check, serve's wiring."""

from __future__ import annotations

import contextlib
import io
import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone
from docx import Document as DocxDocument
from docx.table import Table as DocxTable

from commonroom.audit.selectors import audit_verify
from commonroom.comments.models import Comment
from commonroom.documents.models import Document, blob_storage_name
from commonroom.documents.selectors import document_access, version_readers
from commonroom.workspaces.models import Membership, Workspace


def run_demo(monkeypatch, password: str | None) -> str:
    if password is None:
        monkeypatch.delenv("COMMONROOM_DEMO_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("COMMONROOM_DEMO_PASSWORD", password)
    out = io.StringIO()
    call_command("demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_demo_seeds_people_workspace_and_two_versions(monkeypatch):
    out = run_demo(monkeypatch, "a-chosen-demo-password")
    ws = Workspace.objects.get(name="Weekly budget meeting")
    roles = dict(Membership.objects.filter(workspace=ws).values_list("user__email", "role"))
    assert roles == {
        "priya@example.org": "manager",
        "tom@example.org": "editor",
        "aisha@example.org": "commenter",
        "sam@example.org": "commenter",
        "nina@example.org": "viewer",
    }
    # Nina's access ends in five days: the people page shows it, with "Extend".
    ends = dict(Membership.objects.filter(workspace=ws).values_list("user__email", "access_until"))
    assert ends.pop("nina@example.org") == timezone.localdate() + timedelta(days=5)
    assert set(ends.values()) == {None}
    doc = Document.objects.get(workspace=ws)
    assert doc.name == "minutes-2026-11-24.docx"
    assert list(doc.versions.order_by("number").values_list("number", flat=True)) == [1, 2]
    assert doc.versions.values("blob").distinct().count() == 2
    # Sam's download of version 2 is its one reading so far.
    priya = get_user_model().objects.get(email="priya@example.org")
    access = document_access(user=priya, workspace_id=ws.pk, document_id=doc.pk)
    readers = version_readers(doc_access=access, number=2)
    assert [r.person.email for r in readers.read] == ["sam@example.org"]
    assert authenticate(email="aisha@example.org", password="a-chosen-demo-password")
    assert "priya@example.org" in out and "a-chosen-demo-password" in out
    assert audit_verify().ok


@pytest.mark.django_db
def test_demo_prints_the_configured_site_address(monkeypatch, settings):
    settings.SITE_URL = "https://commonroom.trust.example"
    out = run_demo(monkeypatch, "a-chosen-demo-password")
    assert "Sign in at https://commonroom.trust.example/accounts/login/" in out
    assert ":8000" not in out
    assert "nina@example.org" in out and "viewer, guest" in out


@pytest.mark.django_db
def test_demo_second_run_keeps_data_and_random_password_is_printed_once(monkeypatch):
    first = run_demo(monkeypatch, None)
    line = next(x for x in first.splitlines() if x.startswith("Password for all of them:"))
    password = line.split(":", 1)[1].strip()
    assert authenticate(email="priya@example.org", password=password)
    second = run_demo(monkeypatch, None)
    assert "already seeded" in second
    assert password not in second
    assert Workspace.objects.filter(name="Weekly budget meeting").count() == 1
    assert Document.objects.get().versions.count() == 2
    assert authenticate(email="priya@example.org", password=password)


@pytest.mark.django_db
def test_demo_password_variable_resets_password_on_existing_demo(monkeypatch):
    run_demo(monkeypatch, None)
    run_demo(monkeypatch, "the-scripted-password")
    assert authenticate(email="tom@example.org", password="the-scripted-password")


@pytest.mark.embedded_database
def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "COMMONROOM_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "commonroom.example.nhs.uk",
        "COMMONROOM_DATA_DIR": str(tmp_path),
    }
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "commonroom", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.no_database
def test_production_refuses_to_start_without_secret_key(tmp_path):
    env = {**os.environ, "COMMONROOM_ENV": "production", "COMMONROOM_DATA_DIR": str(tmp_path)}
    env.pop("SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "-m", "commonroom", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.no_database
@pytest.mark.parametrize("mode", ["requried", "Required", "on"])
def test_an_unknown_preview_confinement_refuses_to_start(tmp_path, mode):
    """A mistyped "required" is refused, not read as "best-effort" (which converts unconfined
    where the kernel lacks a layer)."""
    env = {**os.environ, "COMMONROOM_DATA_DIR": str(tmp_path), "COMMONROOM_PREVIEW_CONFINE": mode}
    result = subprocess.run(
        [sys.executable, "-m", "commonroom", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert (
        f"COMMONROOM_PREVIEW_CONFINE must be best-effort or required, not {mode!r}" in result.stderr
    )
    env["COMMONROOM_PREVIEW_CONFINE"] = "required"
    accepted = subprocess.run(
        [sys.executable, "-m", "commonroom", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr


@pytest.mark.django_db
def test_fsck_command_reports_an_altered_blob_and_fails(team, make_upload, settings):
    from pathlib import Path

    from django.core.management.base import CommandError

    from commonroom.documents.models import blob_storage_name
    from commonroom.documents.services import document_upload
    from commonroom.workspaces.selectors import workspace_access

    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    version = document_upload(
        actor=team.manager, access=access, uploaded=make_upload("a.txt", b"the minutes")
    )
    out = io.StringIO()
    call_command("fsck", stdout=out)
    assert "checked 1 blobs" in out.getvalue()
    assert out.getvalue().rstrip().endswith("ok")

    stored = Path(settings.MEDIA_ROOT) / blob_storage_name(version.blob_id)
    stored.write_bytes(b"the minutez")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("fsck", stdout=out)
    assert f"ALTERED   {version.blob_id}" in out.getvalue()
    assert f"document {version.document_id} version 1" in out.getvalue()


@pytest.mark.django_db
def test_gc_command_removes_only_unreferenced_blobs(team, make_upload):
    from datetime import timedelta

    from django.utils import timezone

    from commonroom.documents.models import Blob
    from commonroom.documents.services import document_upload
    from commonroom.workspaces.selectors import workspace_access

    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    kept = document_upload(actor=team.manager, access=access, uploaded=make_upload("a.txt", b"a"))
    Blob.objects.create(sha256="f" * 64, size=1, touched_at=timezone.now() - timedelta(days=2))
    out = io.StringIO()
    call_command("gc", stdout=out)
    assert "removed 1 unreferenced blob(s)" in out.getvalue()
    assert list(Blob.objects.values_list("pk", flat=True)) == [kept.blob_id]


def _children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (Linux /proc)."""
    from pathlib import Path

    found: set[int] = set()
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):  # a thread that just ended
            found.update(int(c) for c in children.read_text().split())
    return found


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    from pathlib import Path

    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.embedded_database
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_to_serve_stops_its_worker_and_exits_0(tmp_path):
    import signal
    import socket
    import time
    import urllib.request
    from pathlib import Path

    env = {**os.environ, "COMMONROOM_DATA_DIR": str(tmp_path), "COMMONROOM_ENV": "development"}
    env.pop("DATABASE_URL", None)  # its own embedded database, never the test run's
    subprocess.run(
        [sys.executable, "-m", "commonroom", "migrate", "-v", "0"], env=env, check=True, timeout=120
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve = subprocess.Popen(
        [sys.executable, "-m", "commonroom", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = None
    try:
        deadline = time.monotonic() + 60
        while True:
            assert serve.poll() is None, "serve ended before answering"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "serve never answered /healthz"
            time.sleep(0.2)
        workers = [
            pid
            for pid in _children(serve.pid)
            if b"commonroom\0worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(workers) == 1, workers
        worker = workers[0]

        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=15) == 0  # a stop asked for is a clean stop
        deadline = time.monotonic() + 3
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker), "the worker outlived serve"
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
        if worker is not None and _alive(worker):
            os.kill(worker, signal.SIGKILL)


def _minutes_items(content: bytes) -> dict[int, list[str]]:
    """The numbered items of the demo minutes ("2. Month 7 position") and the text under each,
    table cells included, in document order."""
    items: dict[int, list[str]] = {}
    current: list[str] = []
    for block in DocxDocument(io.BytesIO(content)).iter_inner_content():
        if isinstance(block, DocxTable):
            current.extend(cell.text for row in block.rows for cell in row.cells)
            continue
        number = re.match(r"(\d+)\. ", block.text)
        if block.style is not None and block.style.name.startswith("Heading") and number:
            current = items.setdefault(int(number.group(1)), [])
        else:
            current.append(block.text)
    return items


@pytest.mark.django_db
def test_the_demo_comments_point_at_what_the_minutes_say(monkeypatch):
    """Each seeded comment names an item or an action of the version it is on, and what it
    says about it is true there."""
    run_demo(monkeypatch, "a-chosen-demo-password")
    comments = {c.author.email: c for c in Comment.objects.select_related("version", "author")}

    def items_of(comment: Comment) -> dict[int, list[str]]:
        with default_storage.open(blob_storage_name(comment.version.blob_id)) as f:
            return _minutes_items(f.read())

    aisha = comments["aisha@example.org"]
    said = re.match(r"Item (\d+): the community services figure", aisha.body)
    assert said is not None, aisha.body
    assert "Community" in items_of(aisha)[int(said.group(1))]

    sam = comments["sam@example.org"]
    said = re.match(r"\*\*Action (\d+)\*\* has no owner yet", sam.body)
    assert said is not None, sam.body
    action = int(said.group(1))
    actions = items_of(sam)[3]  # "3. Actions"
    assert 1 <= action <= len(actions)
    owners = ("Priya", "Tom", "Aisha", "Sam", "Nina")
    assert not any(actions[action - 1].startswith(f"{name} to ") for name in owners)
