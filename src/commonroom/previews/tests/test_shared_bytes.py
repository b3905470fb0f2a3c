"""A preview is made once per blob, but each workspace has it only once its own preview task ran:
a version whose bytes were already previewed in a workspace its uploader cannot see goes
"pending" then "ready" through the usual event, on the page and in the API, as new bytes do.
So uploading a file tells nobody that the same bytes exist somewhere else."""

from __future__ import annotations

import importlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from docx import Document as WordDocument

from commonroom.accounts.services import token_create
from commonroom.accounts.tests.factories import UserFactory
from commonroom.documents.selectors import document_access
from commonroom.documents.services import version_restore, version_upload
from commonroom.live.models import Event
from commonroom.previews import services
from commonroom.previews.models import Preview, PreviewStatus, WorkspacePreview
from commonroom.previews.tasks import make_preview
from commonroom.previews.tests import files
from commonroom.workspaces.tests.factories import make_workspace, upload_document

pytestmark = pytest.mark.django_db
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def docx_bytes(tmp_path: Path) -> bytes:
    return files.rich_docx(tmp_path / "minutes.docx").read_bytes()


def other_docx(tmp_path: Path) -> bytes:
    document = WordDocument()
    document.add_paragraph("Our own notes.")
    document.save(str(tmp_path / "mine.docx"))
    return (tmp_path / "mine.docx").read_bytes()


def preview_events(workspace: Any) -> list[dict[str, Any]]:
    return list(
        Event.objects.filter(workspace_id=workspace.pk, kind="preview.ready")
        .order_by("id")
        .values_list("data", flat=True)
    )


def test_the_same_bytes_in_another_workspace_are_pending_then_ready_through_the_event(
    team, django_capture_on_commit_callbacks, make_upload, docx_bytes, tmp_path
) -> None:
    # The first workspace has the file, its preview made.
    with django_capture_on_commit_callbacks(execute=True):
        theirs = upload_document(
            team.workspace, team.manager, name="Board secrets.docx", content=docx_bytes
        )
    assert Preview.objects.get().status == PreviewStatus.READY
    their_events = preview_events(team.workspace)

    # Someone who cannot see it has a document of their own, then uploads the same bytes.
    me: Any = UserFactory(email="lee@elsewhere.org")
    mine_ws = make_workspace(manager=me, name="Elsewhere")
    with django_capture_on_commit_callbacks(execute=True):
        mine = upload_document(mine_ws, me, name="mine.docx", content=other_docx(tmp_path))
    access = document_access(user=me, workspace_id=mine_ws.pk, document_id=mine.pk)
    with django_capture_on_commit_callbacks() as after_commit:
        version_upload(
            actor=me, doc_access=access, uploaded=make_upload("mine.docx", docx_bytes, DOCX)
        )
    assert preview_events(mine_ws) == [{"document": str(mine.pk), "number": 1, "status": "ready"}]

    page = reverse("document_detail", args=[mine_ws.pk, mine.pk])
    fragment = reverse("version_preview", args=[mine_ws.pk, mine.pk, 2])
    image = reverse("preview_file", args=[mine_ws.pk, mine.pk, 2, "image1.png"])
    browser = Client()
    browser.force_login(me)
    secret = token_create(actor=me, name="reader", scope="read").secret
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    compare = f"/api/v1/workspaces/{mine_ws.pk}/documents/{mine.pk}/compare?a=1&b=2"

    # Before its preview task ran for this workspace: pending everywhere, as for new bytes.
    assert 'data-preview-status="pending"' in browser.get(page).text
    body = browser.get(fragment).text
    assert 'data-preview-status="pending"' in body and "Board minutes" not in body
    assert browser.get(image).status_code == 404
    assert api.get(compare).json()["status"] == "waiting"

    # Its task: enqueued after the upload's commit, as for new bytes; it makes nothing again.
    assert any("enqueue_at_commit" in c.__qualname__ for c in after_commit)
    with django_capture_on_commit_callbacks(execute=True):  # the task's own, run as well
        for callback in after_commit:
            callback()
    assert Preview.objects.count() == 2
    assert preview_events(mine_ws)[-1] == {"document": str(mine.pk), "number": 2, "status": "ready"}
    assert preview_events(team.workspace) == their_events  # the first workspace is told nothing

    body = browser.get(fragment).text
    assert 'data-preview-status="ready"' in body and "Board minutes" in body
    assert browser.get(image).status_code == 200
    assert api.get(compare).json()["status"] == "ready"
    # Nothing of the first workspace is shown: not its document's name, nor its id.
    shown = browser.get(page).text + browser.get(fragment).text + api.get(compare).text
    assert "Board secrets" not in shown and str(theirs.pk) not in shown
    assert str(team.workspace.pk) not in shown


def test_a_workspace_s_first_version_of_known_bytes_waits_for_its_task_too(
    team, django_capture_on_commit_callbacks, docx_bytes
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        upload_document(team.workspace, team.manager, name="a.docx", content=docx_bytes)
    me: Any = UserFactory()
    elsewhere = make_workspace(manager=me, name="Elsewhere")
    with django_capture_on_commit_callbacks() as after_commit:
        doc = upload_document(elsewhere, me, name="b.docx", content=docx_bytes)
    browser = Client()
    browser.force_login(me)
    fragment = reverse("version_preview", args=[elsewhere.pk, doc.pk, 1])
    assert 'data-preview-status="pending"' in browser.get(fragment).text
    assert preview_events(elsewhere) == []
    with django_capture_on_commit_callbacks(execute=True):  # the task's own, run as well
        for callback in after_commit:
            callback()
    assert 'data-preview-status="ready"' in browser.get(fragment).text
    assert preview_events(elsewhere) == [{"document": str(doc.pk), "number": 1, "status": "ready"}]
    # Another version of the same bytes in that workspace: it has the preview already.
    access = document_access(user=me, workspace_id=elsewhere.pk, document_id=doc.pk)
    with django_capture_on_commit_callbacks():  # nothing run after the commit: not needed
        version_restore(actor=me, doc_access=access, number=1)
    fragment = reverse("version_preview", args=[elsewhere.pk, doc.pk, 2])
    assert 'data-preview-status="ready"' in browser.get(fragment).text


def test_a_workspace_whose_task_was_lost_gets_its_preview_from_the_requeue(
    team, settings, docx_bytes, django_capture_on_commit_callbacks
) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    upload_document(team.workspace, team.manager, name="a.docx", content=docx_bytes)
    made = services.preview_make(sha=Preview.objects.get().blob_id)
    assert made is not None and made.is_ready
    me: Any = UserFactory()
    elsewhere = make_workspace(manager=me, name="Elsewhere")
    doc = upload_document(elsewhere, me, name="b.docx", content=docx_bytes)
    # Its upload's task (written in the upload's transaction) lost: the queue cleared, say.
    DBTaskResult.objects.filter(task_path=make_preview.module_path).delete()
    waiting = WorkspacePreview.objects.get(workspace=elsewhere)
    assert waiting.made_at is None
    assert services.previews_requeue_stuck() == 0  # its task may still be on its way
    WorkspacePreview.objects.filter(pk=waiting.pk).update(
        created_at=timezone.now() - timedelta(minutes=3)
    )
    assert services.previews_requeue_stuck() == 1
    task = DBTaskResult.objects.get(task_path=make_preview.module_path)
    assert services.previews_requeue_stuck() == 0  # its task is waiting
    with django_capture_on_commit_callbacks(execute=True):
        services.preview_make(sha=task.args_kwargs["args"][0])
    waiting.refresh_from_db()
    assert waiting.made_at is not None
    assert preview_events(elsewhere) == [{"document": str(doc.pk), "number": 1, "status": "ready"}]


def test_workspaces_keep_the_previews_they_showed_before_the_upgrade(
    team, settings, docx_bytes, django_capture_on_commit_callbacks
) -> None:
    """The upgrade gives each workspace the previews its versions already showed (and leaves
    a pending one waiting for its task), so no page goes back to "being prepared"."""
    from django.apps import apps

    upgrade = importlib.import_module("commonroom.previews.migrations.0003_workspace_previews")
    with django_capture_on_commit_callbacks(execute=True):
        made = upload_document(team.workspace, team.manager, name="a.docx", content=docx_bytes)
    me: Any = UserFactory()
    elsewhere = make_workspace(manager=me, name="Elsewhere")
    with django_capture_on_commit_callbacks(execute=True):
        same = upload_document(elsewhere, me, name="b.docx", content=docx_bytes)
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    waiting = upload_document(elsewhere, me, name="c.txt", content=b"Not made yet")
    WorkspacePreview.objects.all().delete()  # as before the upgrade

    upgrade.each_workspace_has_its_previews(apps, None)

    rows = {(r.workspace_id, r.blob_id): r.made_at for r in WorkspacePreview.objects.all()}
    sha = made.versions.get().blob_id
    assert rows[(team.workspace.pk, sha)] is not None
    assert rows[(elsewhere.pk, sha)] is not None
    assert rows[(elsewhere.pk, waiting.versions.get().blob_id)] is None
    assert len(rows) == 3
    browser = Client()
    browser.force_login(me)
    fragment = reverse("version_preview", args=[elsewhere.pk, same.pk, 1])
    assert 'data-preview-status="ready"' in browser.get(fragment).text


def test_a_file_s_words_are_not_searchable_sooner_for_being_known_elsewhere(
    team, django_capture_on_commit_callbacks, docx_bytes
) -> None:
    """Search finds the words of an upload only once its workspace has the preview: bytes
    previewed in another workspace are not found any sooner than new ones."""
    with django_capture_on_commit_callbacks(execute=True):
        upload_document(team.workspace, team.manager, name="Board secrets.docx", content=docx_bytes)
    me: Any = UserFactory(email="lee@elsewhere.org")
    elsewhere = make_workspace(manager=me, name="Elsewhere")
    secret = token_create(actor=me, name="reader", scope="read").secret
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def found() -> list[str]:
        answer = api.get("/api/v1/search", {"q": "Attendance", "kind": "document"})
        assert answer.status_code == 200
        return [hit["title"] for hit in answer.json()["items"]]

    with django_capture_on_commit_callbacks() as after_commit:
        upload_document(elsewhere, me, name="Copy.docx", content=docx_bytes)
    # The upload's own commit callbacks ran but not its preview task: its name is in search,
    # its words are not.
    assert found() == []
    assert api.get("/api/v1/search", {"q": "Copy"}).json()["items"][0]["title"] == "Copy.docx"
    with django_capture_on_commit_callbacks(execute=True):  # the task, and what follows it
        for callback in after_commit:
            callback()
    assert found() == ["Copy.docx"]  # now, and only its own


def test_comments_follow_onto_known_bytes_only_once_the_workspace_has_their_preview(
    team, django_capture_on_commit_callbacks, make_upload, docx_bytes, tmp_path
) -> None:
    """A thread's passage is looked for on a new version once the workspace has its preview,
    not at once because another workspace previewed the same bytes."""
    from commonroom.comments.models import ThreadPassage
    from commonroom.comments.services import comment_create
    from commonroom.previews.blocks import utf16_length
    from commonroom.previews.selectors import preview_outcome

    me: Any = UserFactory(email="lee@elsewhere.org")
    elsewhere = make_workspace(manager=me, name="Elsewhere")
    with django_capture_on_commit_callbacks(execute=True):
        upload_document(elsewhere, me, name="Board secrets.docx", content=docx_bytes)
        doc = upload_document(
            team.workspace, team.manager, name="mine.docx", content=other_docx(tmp_path)
        )
    access = document_access(user=team.manager, workspace_id=team.workspace.pk, document_id=doc.pk)
    first = doc.versions.get()
    made, blocks = preview_outcome(first.blob_id, workspace_id=team.workspace.pk)
    assert made and blocks
    block = next(b for b in blocks if "Our own notes." in b.text)
    thread = comment_create(
        actor=team.manager,
        doc_access=access,
        body="Say whose notes.",
        anchor_quote="Our own",
        anchor_position={"block": block.id, "start": 0, "end": utf16_length("Our own")},
    )
    with django_capture_on_commit_callbacks() as after_commit:
        version_upload(
            actor=team.manager,
            doc_access=access,
            uploaded=make_upload("mine.docx", docx_bytes, DOCX),
        )
    second = doc.versions.get(number=2)
    # The upload's own callbacks (comments look at once) but not the preview task.
    for callback in [c for c in after_commit if "enqueue_at_commit" not in c.__qualname__]:
        callback()
    assert not ThreadPassage.objects.filter(thread=thread, version=second).exists()
    with django_capture_on_commit_callbacks(execute=True):  # the task, and what follows it
        for callback in [c for c in after_commit if "enqueue_at_commit" in c.__qualname__]:
            callback()
    followed = ThreadPassage.objects.get(thread=thread, version=second)
    assert followed.state == "changed"  # version 2 has other words: "the passage changed"
