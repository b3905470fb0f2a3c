"""Blobs in an S3 bucket, against a real S3 server (moto's, in a process of its own on
loopback; ``core.tests.s3_server``): uploads through the API and the page land under their
content address and read back byte for byte, identical bytes are sent to the store once, an
Office upload's stamp is read from the upload itself (no GET of what was just sent),
previews are made from the bucket, downloads answer a redirect to a short-lived signed URL
after the same checks and audit as ever, and a store that is away gives a sentence (503), not
a stack trace, and leaves nothing behind; once it is back, all works again."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from commonroom.accounts.services import token_create
from commonroom.audit.models import AuditEvent
from commonroom.core.exceptions import StorageUnavailable
from commonroom.core.tests.s3_server import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    S3Server,
    s3_server_started,
)
from commonroom.documents import services, stamping
from commonroom.documents.integrity import blobs_fsck
from commonroom.documents.models import Blob, Document, Version, blob_storage_name
from commonroom.documents.stamping import Stamp
from commonroom.documents.tasks import collect_garbage
from commonroom.documents.tests.factories import doc_access_for, upload
from commonroom.documents.tests.office_files import (
    DOCX,
    custom_xml,
    docx_bytes,
    edited_docx,
    with_custom_part,
)
from commonroom.documents.tests.support import multipart
from commonroom.documents.uploads import TemporaryUploadedFile
from commonroom.previews.models import Preview, PreviewStatus
from commonroom.settings import s3_blob_storage
from commonroom.webdav.tests.client import Dav
from commonroom.workspaces.models import Workspace
from commonroom.workspaces.tests.factories import make_workspace

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server_started() as server:
        yield server


@pytest.fixture
def bucket(s3: S3Server, settings: Any, monkeypatch: Any) -> str:
    """A fresh bucket, and this test's blobs kept in it as ``COMMONROOM_STORAGE=s3`` would."""
    if s3.process is None:  # a test stopped it (an outage) and failed before starting it again
        s3.start()
    name = f"t-{uuid.uuid4().hex[:16]}"
    s3.make_bucket(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": s3_blob_storage(bucket=name, endpoint_url=s3.url, region=REGION),
    }
    return name


def objects(s3: S3Server, bucket: str) -> dict[str, bytes]:
    client: Any = s3.client()
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def api_client(user: Any, scope: str = "write") -> Client:
    secret = token_create(actor=user, name="script", scope=scope).secret
    return Client(headers={"Authorization": f"Bearer {secret}"})


def post_file(client: Client, url: str, name: str, content: bytes, **extra: Any) -> Any:
    body, content_type = multipart([], [("file", name, content, "text/plain")])
    return client.post(url, body, content_type=content_type, **extra)


def documents_url(workspace: Any) -> str:
    return f"/api/v1/workspaces/{workspace.pk}/documents"


def content_url(doc: Any, number: int) -> str:
    return f"/api/v1/workspaces/{doc.workspace_id}/documents/{doc.pk}/versions/{number}/content"


def page_download(user: Any, doc: Any, number: int, method: str = "get") -> Any:
    client = Client()
    client.force_login(user)
    url = reverse("version_download", args=[doc.workspace_id, doc.pk, number])
    return getattr(client, method)(url)


# --- Uploads -------------------------------------------------------------------------------


def test_uploads_through_the_api_and_the_page_land_under_their_content_address(
    team: Any, s3: S3Server, bucket: str
) -> None:
    first = b"Minutes of the board, first draft.\n"
    created = post_file(api_client(team.editor), documents_url(team.workspace), "m.txt", first)
    assert created.status_code == 201, created.content
    doc = Document.objects.get(pk=created.json()["document"]["id"])

    # A new version through the page's form, as the browser sends it.
    second = b"Minutes of the board, as agreed.\n"
    browser = Client()
    browser.force_login(team.editor)
    body, ctype = multipart([], [("file", "m.txt", second, "text/plain")])
    sent = browser.post(reverse("version_upload", args=[team.workspace.pk, doc.pk]), body, ctype)
    assert sent.status_code == 302, sent.content

    stored = objects(s3, bucket)
    sha1, sha2 = hashlib.sha256(first).hexdigest(), hashlib.sha256(second).hexdigest()
    assert stored == {blob_storage_name(sha1): first, blob_storage_name(sha2): second}
    versions = list(Version.objects.filter(document=doc).order_by("number"))
    assert [v.blob_id for v in versions] == [sha1, sha2]
    # Read back through the storage the application uses: byte for byte.
    for version, content in zip(versions, (first, second), strict=True):
        with default_storage.open(version.blob.storage_name, "rb") as f:
            assert f.read() == content
    # Nothing of the filesystem's way (scratch files beside the blobs) was done on the side.
    assert not any(name.startswith(".partial-") for name in stored)


def test_identical_bytes_are_sent_to_the_store_once(team: Any, s3: S3Server, bucket: str) -> None:
    content = b"The same agenda, twice.\n"
    upload(team.manager, team.workspace, "agenda.txt", content)
    key = blob_storage_name(hashlib.sha256(content).hexdigest())
    # Mark the object in the store: a second PUT of the same key would replace the object and
    # so drop its tags. Then the same bytes, another document in another workspace.
    client: Any = s3.client()
    client.put_object_tagging(
        Bucket=bucket, Key=key, Tagging={"TagSet": [{"Key": "first", "Value": "put"}]}
    )
    before = client.head_object(Bucket=bucket, Key=key)
    elsewhere = make_workspace(manager=team.manager)
    again = upload(team.manager, elsewhere, "copy of the agenda.txt", content)

    assert again.blob_id == hashlib.sha256(content).hexdigest()
    after = client.head_object(Bucket=bucket, Key=key)
    assert client.get_object_tagging(Bucket=bucket, Key=key)["TagSet"] == [
        {"Key": "first", "Value": "put"}
    ]
    assert after["LastModified"] == before["LastModified"]
    assert list(objects(s3, bucket)) == [key]
    assert Version.objects.filter(blob_id=again.blob_id).count() == 2


# --- Readers of blobs ----------------------------------------------------------------------


def test_a_preview_is_made_from_the_bucket(
    team: Any,
    s3: S3Server,
    bucket: str,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        version = upload(team.editor, team.workspace, "beds.txt", b"Beds open: 24\nWard 7\n")
    preview = Preview.objects.get(blob_id=version.blob_id)
    assert preview.status == PreviewStatus.READY
    assert "Beds open: 24" in preview.html
    # The bucket was the only place holding the bytes: nothing was kept on the disk.
    assert list(objects(s3, bucket)) == [version.blob.storage_name]
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_the_collector_removes_unused_blobs_from_the_bucket(
    team: Any, s3: S3Server, bucket: str
) -> None:
    kept = upload(team.manager, team.workspace, "kept.txt", b"Kept.\n")
    unused = b"Claimed, never used.\n"
    Blob.objects.create(
        sha256=hashlib.sha256(unused).hexdigest(),
        size=len(unused),
        touched_at=timezone.now() - timedelta(days=1),
    )
    client: Any = s3.client()
    gone = blob_storage_name(hashlib.sha256(unused).hexdigest())
    client.put_object(Bucket=bucket, Key=gone, Body=unused)

    assert collect_garbage.call() == 1
    assert list(objects(s3, bucket)) == [kept.blob.storage_name]
    assert not Blob.objects.filter(pk=hashlib.sha256(unused).hexdigest()).exists()

    # fsck re-hashes what is in the bucket, and finds a file changed there.
    assert blobs_fsck().ok
    client.put_object(Bucket=bucket, Key=kept.blob.storage_name, Body=b"Changed.\n")
    assert blobs_fsck().altered == [kept.blob_id]


# --- Downloads -----------------------------------------------------------------------------


def test_a_download_is_a_redirect_to_a_short_lived_signed_url_after_its_audit(
    team: Any, s3: S3Server, bucket: str, settings: Any
) -> None:
    content = b"Beds: 24\n"
    doc = upload(team.manager, team.workspace, "minutes.txt", content).document
    for response in (
        page_download(team.viewer, doc, 1),
        api_client(team.viewer, "read").get(content_url(doc, 1)),
    ):
        assert response.status_code == 302
        url = response["Location"]
        assert url.startswith(s3.url + "/")
        query = parse_qs(urlsplit(url).query)
        assert query["X-Amz-Expires"] == ["60"]
        assert response["Cache-Control"] == "private, no-store"
        fetched = httpx.get(url)
        assert fetched.status_code == 200
        assert fetched.content == content
        assert fetched.headers["content-disposition"] == (
            'attachment; filename="minutes (version 1).txt"'
        )
        assert fetched.headers["content-type"].startswith("text/plain")
    downloads = AuditEvent.objects.filter(action="version.downloaded", actor_id=team.viewer.pk)
    assert downloads.count() == 2


def test_the_signed_url_lasts_as_configured(
    team: Any, s3: S3Server, bucket: str, settings: Any
) -> None:
    options = settings.STORAGES["default"]["OPTIONS"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            **settings.STORAGES["default"],
            "OPTIONS": {**options, "querystring_expire": 5},
        },
    }
    doc = upload(team.manager, team.workspace, "minutes.txt", b"Beds: 24\n").document
    url = page_download(team.viewer, doc, 1)["Location"]
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["5"]
    assert httpx.get(url).content == b"Beds: 24\n"


def test_a_hostile_name_and_an_active_type_reach_the_browser_safely(
    team: Any, s3: S3Server, bucket: str
) -> None:
    html = b"<script>alert(1)</script>"
    doc = upload(team.manager, team.workspace, "page.html", html).document
    services.document_rename(
        actor=team.manager,
        doc_access=doc_access_for(team.manager, doc),
        name='Rapport "final"; filename=evil.exe \u00e9t\u00e9\r\nX-Bad: 1.html',
    )
    response = page_download(team.viewer, doc, 1)
    assert response.status_code == 302
    fetched = httpx.get(response["Location"])
    assert fetched.status_code == 200
    assert fetched.content == html
    assert fetched.headers["content-type"] == "application/octet-stream"
    assert "x-bad" not in fetched.headers
    disposition = fetched.headers["content-disposition"]
    assert disposition.startswith("attachment; filename*=utf-8''")
    assert "\r" not in disposition and "\n" not in disposition and '"' not in disposition


def test_head_is_signed_for_head(team: Any, s3: S3Server, bucket: str) -> None:
    doc = upload(team.manager, team.workspace, "minutes.txt", b"Beds: 24\n").document
    response = page_download(team.viewer, doc, 1, method="head")
    assert response.status_code == 302
    fetched = httpx.head(response["Location"])
    assert fetched.status_code == 200
    assert fetched.headers["content-length"] == "9"


def test_downloads_are_authorised_as_before(team: Any, s3: S3Server, bucket: str) -> None:
    doc = upload(team.manager, team.workspace, "minutes.txt", b"Beds: 24\n").document
    assert page_download(team.outsider, doc, 1).status_code == 404
    assert api_client(team.outsider, "read").get(content_url(doc, 1)).status_code == 404
    Workspace.objects.filter(pk=team.workspace.pk).update(viewers_download="nobody")
    refused = page_download(team.viewer, doc, 1)
    assert refused.status_code == 403
    assert "Location" not in refused
    assert api_client(team.viewer, "read").get(content_url(doc, 1)).status_code == 403
    assert page_download(team.editor, doc, 1).status_code == 302
    assert not AuditEvent.objects.filter(
        action="version.downloaded", actor_id=team.viewer.pk
    ).exists()


def test_a_stamped_office_copy_still_streams_through_the_application(
    team: Any, s3: S3Server, bucket: str, tmp_path: Any
) -> None:
    from commonroom.previews.tests import files

    word = files.rich_docx(tmp_path / "minutes.docx").read_bytes()
    doc = upload(team.manager, team.workspace, "minutes.docx", word).document
    response = page_download(team.viewer, doc, 1)
    assert response.status_code == 200
    sent = b"".join(response.streaming_content)
    assert sent[:2] == b"PK" and sent != word  # the copy made for downloads, with its stamp


@contextmanager
def s3_operations() -> Iterator[list[str]]:
    """The S3 operations the storage's client asks of the server meanwhile, by name
    (``PutObject``, ``GetObject``...), as botocore names each call before sending it. The test
    client runs a request in this thread, so with this thread's client."""
    storage: Any = default_storage
    client: Any = storage.connection.meta.client
    seen: list[str] = []

    def called(model: Any, **kwargs: Any) -> None:
        seen.append(str(model.name))

    client.meta.events.register("before-call.s3", called, unique_id="counted-s3-operations")
    try:
        yield seen
    finally:
        client.meta.events.unregister("before-call.s3", unique_id="counted-s3-operations")


def post_office(client: Client, url: str, name: str, content: bytes) -> Any:
    body, content_type = multipart([], [("file", name, content, DOCX)])
    return client.post(url, body, content_type=content_type)


def test_an_office_upload_reads_its_stamp_without_fetching_it_back_from_the_bucket(
    team: Any, s3: S3Server, bucket: str, settings: Any, tmp_path: Path
) -> None:
    """The stamp of an uploaded .docx is read from the upload's own scratch file: the bucket
    is sent the bytes and asked for none back (no GET). A download of version 1, edited and sent
    back, shows the stamp was read all the same (its version wins over the latest)."""
    settings.DATA_DIR = tmp_path / "data"  # this test's stamped copies
    api = api_client(team.editor)
    with s3_operations() as calls:
        created = post_office(
            api, documents_url(team.workspace), "minutes.docx", docx_bytes("Met on Tuesday.")
        )
    assert created.status_code == 201, created.content
    assert "PutObject" in calls and "GetObject" not in calls
    doc = Document.objects.get(pk=created.json()["document"]["id"])
    versions = f"{documents_url(team.workspace)}/{doc.pk}/versions"
    second = post_office(api, versions, "minutes.docx", docx_bytes("Met on Wednesday."))
    assert second.status_code == 201, second.content

    # A download's stamped copy is made from the bucket's object, fetched once.
    with s3_operations() as calls:
        downloaded = page_download(team.editor, doc, 1)
        assert downloaded.status_code == 200
        copy = b"".join(downloaded.streaming_content)
    assert calls.count("GetObject") == 1

    with s3_operations() as calls:
        sent = post_office(api, versions, "minutes.docx", edited_docx(copy, "Amended."))
    assert sent.status_code == 201, sent.content
    assert (sent.json()["based_on"], sent.json()["based_on_from_file"]) == (1, True)
    assert "PutObject" in calls and "GetObject" not in calls


def test_a_stamp_is_read_from_an_upload_in_memory_and_without_one_from_a_single_get(
    s3: S3Server, bucket: str, settings: Any, tmp_path: Path
) -> None:
    """An upload with no scratch file (held in memory) is copied beside the child, not fetched;
    a caller with no upload at hand reads the stored object, once."""
    settings.DATA_DIR = tmp_path / "data"
    claimed = Stamp(document_id=uuid.uuid4(), number=3, sha256="ab" * 32)
    uploaded = SimpleUploadedFile(
        "minutes.docx", with_custom_part(docx_bytes(), custom_xml(claimed.value))
    )
    blob = services.blob_store(uploaded=uploaded)
    uploaded.seek(7)
    with s3_operations() as calls:
        assert stamping.stamp_read(blob=blob, content_type=DOCX, uploaded=uploaded) == claimed
    assert calls == []
    assert uploaded.tell() == 7  # left where it was
    with s3_operations() as calls:
        assert stamping.stamp_read(blob=blob, content_type=DOCX) == claimed
    assert calls.count("GetObject") == 1

    # Named .docx but not a zip: nothing to read, and nothing asked of the bucket for it.
    plain = SimpleUploadedFile("minutes.docx", b"Not an Office file.\n")
    blob = services.blob_store(uploaded=plain)
    with s3_operations() as calls:
        assert stamping.stamp_read(blob=blob, content_type=DOCX, uploaded=plain) is None
    assert calls == []


def test_an_uploads_scratch_file_is_linked_beside_the_child_not_copied(
    bucket: str, settings: Any, tmp_path: Path
) -> None:
    """The streamed upload's scratch file (unnamed where the filesystem allows) is given a
    name in the child's work folder: the same file, no second copy of its bytes on the disk."""
    settings.DATA_DIR = tmp_path / "data"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "data" / "tmp")
    Path(settings.FILE_UPLOAD_TEMP_DIR).mkdir(parents=True)
    data = docx_bytes()
    uploaded = TemporaryUploadedFile("minutes.docx", DOCX, len(data), None)
    try:
        uploaded.write(data)
        with stamping.work_folder() as work:
            source = stamping.office_source("ab" * 32, work, uploaded=uploaded)
            assert source is not None and source.parent == work
            assert source.stat().st_ino == os.fstat(uploaded.fileno()).st_ino
            assert source.read_bytes() == data
    finally:
        uploaded.close()


def test_a_guests_watermarked_pdf_is_made_from_the_bucket_and_streams(
    team: Any, s3: S3Server, bucket: str
) -> None:
    from commonroom.accounts.tests.factories import UserFactory
    from commonroom.documents.tests.test_guest_download_watermark import (
        guests_may_download,
        minutes_pdf,
        watermarking,
    )
    from commonroom.workspaces.tests.factories import add_member

    guests_may_download(team)
    person = add_member(team.workspace, UserFactory(email="aisha@guest.example.com", kind="guest"))
    watermarking(team.workspace)
    pdf = minutes_pdf(1)
    doc = upload(team.manager, team.workspace, "minutes.pdf", pdf).document
    response = page_download(person, doc, 1)
    assert response.status_code == 200
    sent = b"".join(response.streaming_content)
    assert sent.startswith(b"%PDF") and sent != pdf  # their copy, with their name on it
    assert page_download(team.viewer, doc, 1).status_code == 302  # staff: the stored bytes


# --- The store away ------------------------------------------------------------------------


def test_with_the_store_away_an_upload_says_so_and_leaves_nothing(
    team: Any, s3: S3Server, bucket: str
) -> None:
    doc = upload(team.manager, team.workspace, "minutes.txt", b"Beds: 24\n").document
    api = api_client(team.editor)
    browser = Client()
    browser.force_login(team.editor)
    counts = (Document.objects.count(), Version.objects.count(), Blob.objects.count())
    tasks = DBTaskResult.objects.count()
    opened = default_storage.open(Version.objects.get(document=doc).blob.storage_name, "rb")
    s3.stop()
    try:
        started = time.monotonic()
        refused = post_file(api, documents_url(team.workspace), "new.txt", b"A new file.\n")
        assert time.monotonic() - started < 10
        assert refused.status_code == 503
        assert refused.json() == {
            "code": "storage_unavailable",
            "detail": "The file store cannot be reached just now, so nothing was saved. "
            "Try again in a minute.",
        }
        versions_url = f"{documents_url(team.workspace)}/{doc.pk}/versions"
        assert post_file(api, versions_url, "minutes.txt", b"Beds: 26\n").status_code == 503

        body, ctype = multipart([], [("files", "page.txt", b"From the page.\n", "text/plain")])
        page = browser.post(reverse("upload", args=[team.workspace.pk]), body, ctype, follow=True)
        assert page.status_code == 200
        assert "The file store cannot be reached just now" in page.content.decode()

        # A download while it is away: a sentence, not a stack trace.
        down = page_download(team.viewer, doc, 1)
        assert down.status_code == 503
        assert "The file store cannot be reached just now" in down.content.decode()
        down_api = api_client(team.viewer, "read").get(content_url(doc, 1))
        assert down_api.status_code == 503
        assert down_api.json()["code"] == "storage_unavailable"
        # WebDAV's GET (Office and the desktop's drive): the same sentence, before any byte.
        down_dav = Dav(team.viewer).get(f"/{team.workspace.name}/{doc.name}")
        assert down_dav.status_code == 503, down_dav.text
        assert "The file store cannot be reached just now" in down_dav.text

        assert (Document.objects.count(), Version.objects.count(), Blob.objects.count()) == counts
        assert DBTaskResult.objects.count() == tasks
        # A file opened just before, whose bytes are fetched at its first read: a sentence too.
        with pytest.raises(StorageUnavailable), opened.open("rb") as handle:
            handle.read(10)
    finally:
        s3.start()

    # Back (moto kept nothing: the bucket and the file again, as a restore would put them).
    s3.make_bucket(bucket)
    client: Any = s3.client()
    version = Version.objects.get(document=doc)
    client.put_object(Bucket=bucket, Key=version.blob.storage_name, Body=b"Beds: 24\n")
    assert httpx.get(page_download(team.viewer, doc, 1)["Location"]).content == b"Beds: 24\n"
    again = post_file(api, documents_url(team.workspace), "new.txt", b"A new file.\n")
    assert again.status_code == 201, again.content
    key = blob_storage_name(hashlib.sha256(b"A new file.\n").hexdigest())
    assert objects(s3, bucket)[key] == b"A new file.\n"


def test_a_large_stored_file_read_from_the_bucket_is_never_whole_in_memory(bucket: str) -> None:
    """Reading a stored file as WebDAV's GET or a preview does (the storage's own file object)
    spools it to disk past a few MiB, instead of holding the whole object in memory."""
    import tracemalloc

    content = b"0123456789abcdef" * (2 * 1024 * 1024)  # 32 MiB
    name = blob_storage_name(hashlib.sha256(content).hexdigest())
    default_storage.save(name, ContentFile(content))
    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        with default_storage.open(name, "rb") as handle:
            while chunk := handle.read(1024 * 1024):
                digest.update(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert digest.hexdigest() == hashlib.sha256(content).hexdigest()
    assert peak < 16 * 1024 * 1024, f"{peak / 2**20:.1f} MiB held to read 32 MiB"


def test_the_storages_threads_share_one_boto3_session_each_with_a_resource_of_its_own(
    bucket: str,
) -> None:
    """django-storages made a session (12 MiB, up to 0.3 s of CPU) for every thread; here four
    threads reach the store through one session, each with its own resource (resources are
    not safe to share), and each finds the object another saved."""
    import threading

    default_storage.save("shared-session-check", ContentFile(b"one session"))
    sessions: list[Any] = []
    resources: list[Any] = []
    found: list[bool] = []
    lock = threading.Lock()

    def reach() -> None:
        there = default_storage.exists("shared-session-check")
        connection = default_storage.connection  # type: ignore[attr-defined]
        with lock:
            found.append(there)
            sessions.append(default_storage._create_session())  # type: ignore[attr-defined]
            resources.append(connection)

    threads = [threading.Thread(target=reach) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert found == [True] * 4
    assert len({id(session) for session in sessions}) == 1
    assert len({id(resource) for resource in resources}) == 4
    assert all(r.meta.client is not resources[0].meta.client for r in resources[1:])
