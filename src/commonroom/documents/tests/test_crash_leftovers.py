"""A server killed (SIGKILL) in the middle of an upload leaves nothing that outlives it: what it
can leave is reported by ``commonroom fsck``, removed by the sweep at the next start and by
``commonroom gc``; the same bytes upload again; and once purged they are nowhere on disk.

The server is a real ``commonroom serve --no-worker`` process on the test database. To kill it at
a known point, the test holds a database lock the upload's blob claim waits for: by then the
whole file has arrived and been written to its temporary file, and nothing has been stored.
Run twice: with unnamed temporaries (Linux ``O_TMPFILE``: there is nothing to leave), and as on a
system without them (named, locked temporaries: one is left, then swept).
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from commonroom.accounts.models import ApiToken
from commonroom.documents import services
from commonroom.documents.integrity import upload_temporaries
from commonroom.documents.models import Version
from commonroom.documents.tests.factories import access_for, doc_access_for, upload
from commonroom.documents.tests.support import files_holding, multipart
from commonroom.live.tests import servers

MB = 1024 * 1024
# ``commonroom`` as on a system whose Python has no O_TMPFILE (macOS, say).
WITHOUT_O_TMPFILE = "import os; del os.O_TMPFILE; from commonroom.cli import main; main()"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]


@pytest.fixture
def data_dir(tmp_path: Path, settings: Any) -> Path:
    """The server's data folder, which this process's storage settings point at too."""
    data = tmp_path / "data"
    (data / "tmp").mkdir(parents=True)
    settings.MEDIA_ROOT = str(data / "files")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": str(data / "files")}},
    }
    settings.FILE_UPLOAD_TEMP_DIR = str(data / "tmp")
    return data


@contextmanager
def serve(data: Path, *, named_temporaries: bool) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = servers.free_port()
    env = {
        **os.environ,
        "DATABASE_URL": servers.test_database_url(),
        "COMMONROOM_DATA_DIR": str(data),
        # The installation's audit key lives in its data folder; this server has another folder.
        "COMMONROOM_AUDIT_KEY": settings.COMMONROOM_AUDIT_KEY.decode(),
        "COMMONROOM_ENV": "development",
        "DJANGO_SETTINGS_MODULE": "commonroom.settings",
    }
    launch = ["-c", WITHOUT_O_TMPFILE] if named_temporaries else ["-m", "commonroom"]
    log = data.parent / f"serve-{port}.log"  # outside the data folder the tests walk
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *launch, "serve", "--no-worker", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        servers.wait_until_up(f"http://127.0.0.1:{port}")
        assert process.poll() is None, "another process answered on the port serve was given"
        yield process, port
    except BaseException:
        print(f"--- {log.name} ---\n{log.read_text(errors='replace')[-4000:]}")
        raise
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def send_upload(port: int, path: str, token: str, content: bytes) -> socket.socket:
    body, ctype = multipart([("based_on", "1")], [("file", "minutes.bin", content, "text/plain")])
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(head + body)
    return sock


def read_answer(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    with closing(sock.makefile("rb")) as fh:
        status = int(fh.readline().split()[1])
        length = 0
        while (line := fh.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, json.loads(fh.read(length))


def wait_for_open_temporary(pid: int, folder: Path, size: int, timeout: float = 30) -> None:
    """Until process ``pid`` holds open a file in ``folder`` (named or not) of ``size`` bytes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith(f"{folder}/") and os.stat(f"/proc/{pid}/fd/{fd}").st_size == (
                    size
                ):
                    return
            except OSError:
                continue  # closed meanwhile
        time.sleep(0.005)
    raise AssertionError("the server never held the whole upload in a temporary file")


@contextmanager
def blob_claims_held() -> Iterator[None]:
    """Make every upload's blob claim wait: SQLite's write lock, or PostgreSQL's table lock."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("LOCK TABLE documents_blob IN EXCLUSIVE MODE")
        else:
            cursor.execute("UPDATE documents_blob SET size = size WHERE 0")  # take the lock
        yield


def fsck_output() -> str:
    out = io.StringIO()
    call_command("fsck", stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("named_temporaries", [False, True], ids=["unnamed", "named"])
@pytest.mark.django_db(transaction=True)
def test_a_server_killed_mid_upload_leaves_nothing_that_outlives_the_sweep(
    team: Any, data_dir: Path, named_temporaries: bool
) -> None:
    doc = upload(team.editor, team.workspace, "minutes.bin", b"v1").document
    out = io.StringIO()
    call_command("token", "create", team.editor.email, "sync", "--scope", "write", stdout=out)
    token = out.getvalue().strip()
    path = f"/api/v1/workspaces/{team.workspace.pk}/documents/{doc.pk}/versions"
    content = os.urandom(24 * MB)
    needle = content[: 64 * 1024]

    with serve(data_dir, named_temporaries=named_temporaries) as (server, _port):
        # The token's last use was just recorded: the request writes nothing before the claim.
        ApiToken.objects.update(last_used_at=timezone.now())
        with blob_claims_held():
            sock = send_upload(_port, path, token, content)
            wait_for_open_temporary(server.pid, data_dir / "tmp", len(content))
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=10)
        sock.close()

    assert Version.objects.filter(document=doc).count() == 1
    left = upload_temporaries()
    report = fsck_output()
    assert report.rstrip().endswith("ok")
    if not named_temporaries:
        # Nothing named ever held the bytes: the kernel freed them with the process.
        assert left == []
        assert files_holding(data_dir, needle) == []
        assert "TEMPORARY" not in report
    else:
        assert [(t.size, t.in_use) for t in left] == [(len(content), False)]
        assert files_holding(data_dir, needle) == [f"tmp/{Path(left[0].path).name}"]
        assert f"TEMPORARY {left[0].path} ({len(content)} bytes, 0 min old; left by an upload" in (
            report
        )
        # The sweep serve runs at start keeps it within the grace period, though nobody holds
        # it: a file must be both old and free (one an older version writes has no lock) ...
        assert services.storage_sweep(blobs=False).temporaries == 0
        assert [t.path for t in upload_temporaries()] == [left[0].path]
        # ... and the first start after the grace period sweeps it away.
        an_hour_ago = time.time() - 3700
        os.utime(left[0].path, (an_hour_ago, an_hour_ago))

    with serve(data_dir, named_temporaries=named_temporaries) as (server, port):
        assert upload_temporaries() == []
        assert files_holding(data_dir, needle) == []
        # The same bytes upload again.
        status, answer = read_answer(send_upload(port, path, token, content))
        assert status == 201, answer
        assert answer["number"] == 2
    stored = Version.objects.get(document=doc, number=2)
    assert (data_dir / "files" / stored.blob.storage_name).read_bytes() == content
    assert fsck_output().rstrip().endswith("ok")

    # Purged, and collected, the bytes are nowhere under the data folder.
    services.document_delete(actor=team.manager, doc_access=doc_access_for(team.manager, doc))
    services.document_purge(
        actor=team.manager, access=access_for(team.manager, team.workspace), document=doc
    )
    call_command("gc", "--grace-minutes", "0", stdout=io.StringIO())
    assert files_holding(data_dir, needle) == []


@pytest.mark.django_db(transaction=True)
def test_an_upload_in_progress_for_longer_than_the_grace_is_never_swept(
    team: Any, data_dir: Path
) -> None:
    """A named temporary (as on a system without unnamed files) that looks hours old, because
    the upload has been waiting that long, is held by its server: the sweep leaves it, even with
    no grace at all, and the upload then completes with every byte."""
    doc = upload(team.editor, team.workspace, "minutes.bin", b"v1").document
    out = io.StringIO()
    call_command("token", "create", team.editor.email, "sync", "--scope", "write", stdout=out)
    token = out.getvalue().strip()
    path = f"/api/v1/workspaces/{team.workspace.pk}/documents/{doc.pk}/versions"
    content = os.urandom(4 * MB)

    with serve(data_dir, named_temporaries=True) as (server, port):
        ApiToken.objects.update(last_used_at=timezone.now())
        with blob_claims_held():
            sock = send_upload(port, path, token, content)
            wait_for_open_temporary(server.pid, data_dir / "tmp", len(content))
            [waiting] = upload_temporaries()
            assert waiting.in_use
            hours_ago = time.time() - 3 * 3600
            os.utime(waiting.path, (hours_ago, hours_ago))

            swept = services.storage_sweep(grace=timedelta(0), blobs=False)

            assert swept.temporaries == 0
            assert Path(waiting.path).read_bytes() == content
        status, answer = read_answer(sock)
    assert status == 201, answer
    stored = Version.objects.get(document=doc, number=answer["number"])
    assert (data_dir / "files" / stored.blob.storage_name).read_bytes() == content
    assert upload_temporaries() == []
