"""``commonroom serve`` configured for S3 from its environment alone (``COMMONROOM_STORAGE=s3``
and the ``AWS_*`` variables, as an installation sets them), against moto's S3 server in a
process of its own: a file larger than one part streams in and lands in the bucket, its preview
is made by the worker from the bucket, a download is a redirect the client follows to the
bytes, WebDAV's GET reads the bucket; an outage of the store is a 503 with a sentence and
leaves nothing, and once the store is back uploads and reads work again."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django_tasks_db.models import DBTaskResult

from commonroom.accounts.services import token_create
from commonroom.accounts.tests.factories import UserFactory
from commonroom.core.tests.s3_server import S3Server, s3_server_started
from commonroom.core.tests.serving import serving
from commonroom.documents.models import Blob, Document, Version, blob_storage_name
from commonroom.documents.tests.support import multipart
from commonroom.previews.models import Preview, PreviewStatus
from commonroom.workspaces.tests.factories import make_workspace

pytestmark = pytest.mark.django_db(transaction=True)

MB = 1024 * 1024
AWAY = "The file store cannot be reached just now, so nothing was saved. Try again in a minute."


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server_started() as server:
        yield server


def wait_for_preview(sha256: str, timeout: float = 60) -> Preview:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = Preview.objects.filter(blob_id=sha256).first()
        if found is not None and found.status != PreviewStatus.PENDING:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no preview of {sha256} in {timeout} s")


def test_serve_keeps_its_files_in_s3_and_rides_out_an_outage(s3: S3Server, tmp_path: Path) -> None:
    bucket = f"served-{uuid.uuid4().hex[:12]}"
    s3.make_bucket(bucket)
    tom: Any = UserFactory(email="tom@example.org")
    workspace = make_workspace(manager=tom, name="Board")
    secret = token_create(actor=tom, name="script", scope="write").secret
    headers = {"Authorization": f"Bearer {secret}"}
    bucket_client: Any = s3.client()
    # Over s3transfer's 8 MiB threshold: stored in several parts.
    big = (b"Line of the annual report.\n" * (12 * MB // 27 + 1))[: 12 * MB]

    def upload(served_url: str, name: str, content: bytes) -> httpx.Response:
        body, ctype = multipart([], [("file", name, content, "text/plain")])
        return httpx.post(
            f"{served_url}/api/v1/workspaces/{workspace.pk}/documents",
            content=body,
            headers={**headers, "Content-Type": ctype},
            timeout=60,
        )

    with serving(tmp_path, **s3.environment(bucket)) as served:
        created = upload(served.url, "report.txt", big)
        assert created.status_code == 201, created.text
        doc_id = created.json()["document"]["id"]
        sha = hashlib.sha256(big).hexdigest()
        stored = bucket_client.get_object(Bucket=bucket, Key=blob_storage_name(sha))
        assert hashlib.sha256(stored["Body"].read()).hexdigest() == sha
        assert wait_for_preview(sha).status == PreviewStatus.READY

        content = f"{served.url}/api/v1/workspaces/{workspace.pk}/documents/{doc_id}"
        content += "/versions/1/content"
        redirect = httpx.get(content, headers=headers)
        assert redirect.status_code == 302
        assert redirect.headers["location"].startswith(s3.url + "/")
        followed = httpx.get(content, headers=headers, follow_redirects=True, timeout=60)
        assert followed.status_code == 200
        assert hashlib.sha256(followed.content).hexdigest() == sha
        dav = httpx.get(
            f"{served.url}/dav/Board/report.txt", auth=(str(tom.email), secret), timeout=60
        )
        assert dav.status_code == 200
        assert hashlib.sha256(dav.content).hexdigest() == sha

        counts = (Document.objects.count(), Version.objects.count(), Blob.objects.count())
        tasks = DBTaskResult.objects.count()
        s3.stop()
        try:
            started = time.monotonic()
            refused = upload(served.url, "agenda.txt", b"Agenda.\n")
            assert time.monotonic() - started < 10
            assert refused.status_code == 503
            assert refused.json() == {"code": "storage_unavailable", "detail": AWAY}
            away = httpx.get(content, headers=headers)
            assert away.status_code == 503
            assert away.json()["code"] == "storage_unavailable"
            dav_away = httpx.get(
                f"{served.url}/dav/Board/report.txt", auth=(str(tom.email), secret), timeout=60
            )
            assert dav_away.status_code == 503
            assert "The file store cannot be reached just now" in dav_away.text
            assert (
                Document.objects.count(),
                Version.objects.count(),
                Blob.objects.count(),
            ) == counts
            assert DBTaskResult.objects.count() == tasks
        finally:
            s3.start()

        # Back; moto kept nothing, so the bucket and the object are put back as a restore would.
        s3.make_bucket(bucket)
        bucket_client.put_object(Bucket=bucket, Key=blob_storage_name(sha), Body=big)
        again = httpx.get(content, headers=headers, follow_redirects=True, timeout=60)
        assert hashlib.sha256(again.content).hexdigest() == sha
        later = upload(served.url, "agenda.txt", b"Agenda.\n")
        assert later.status_code == 201, later.text
        key = blob_storage_name(hashlib.sha256(b"Agenda.\n").hexdigest())
        assert bucket_client.get_object(Bucket=bucket, Key=key)["Body"].read() == b"Agenda.\n"
