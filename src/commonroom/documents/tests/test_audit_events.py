"""Every upload, view, download, restore, move, delete and purge leaves an audit event: who, when,
from where, on what, in which workspace."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from commonroom.audit.models import Action, AuditEvent
from commonroom.audit.selectors import audit_verify
from commonroom.documents.models import Document, Folder
from commonroom.documents.tests.support import multipart

AGENT = "Mozilla/5.0 (audit test)"


def client_for(user) -> Client:
    client = Client(HTTP_USER_AGENT=AGENT, REMOTE_ADDR="192.0.2.10")
    client.force_login(user)
    return client


def last(action: str) -> AuditEvent | None:
    return AuditEvent.objects.filter(action=action).order_by("-seq").first()


def assert_event(action, *, actor, workspace, document=None, target=None):
    event = last(action)
    assert event is not None, f"no {action} event"
    assert event.actor_id == actor.pk and event.actor_email == actor.email
    assert event.workspace_id == workspace.pk
    if document is not None:
        assert event.document_id == document.pk
        assert event.target_label == document.name
    if target is not None:
        assert event.target_id == str(target.pk)
    assert event.ip == "192.0.2.10"
    assert event.user_agent == AGENT
    return event


def test_each_document_action_through_the_pages_is_audited(team):
    ws = team.workspace
    editor, manager = client_for(team.editor), client_for(team.manager)

    # upload, then a new version
    body, ctype = multipart(files=[("files", "minutes.txt", b"v1", "text/plain")])
    editor.post(reverse("upload", args=[ws.pk]), body, content_type=ctype)
    doc = Document.objects.get()
    event = assert_event(Action.DOCUMENT_UPLOADED, actor=team.editor, workspace=ws, document=doc)
    assert event.data["version"] == 1 and event.data["size"] == 2

    body, ctype = multipart([("based_on", "1")], [("file", "minutes.txt", b"v2", "text/plain")])
    editor.post(reverse("version_upload", args=[ws.pk, doc.pk]), body, content_type=ctype)
    event = assert_event(Action.VERSION_UPLOADED, actor=team.editor, workspace=ws, document=doc)
    assert event.data["version"] == 2

    # view and download, by a viewer
    viewer = client_for(team.viewer)
    assert viewer.get(reverse("document_detail", args=[ws.pk, doc.pk])).status_code == 200
    assert_event(Action.DOCUMENT_VIEWED, actor=team.viewer, workspace=ws, document=doc)
    download = viewer.get(reverse("version_download", args=[ws.pk, doc.pk, 1]))
    assert download.getvalue() == b"v1"
    event = assert_event(Action.VERSION_DOWNLOADED, actor=team.viewer, workspace=ws, document=doc)
    assert event.data["version"] == 1

    # restore an old version, move, delete
    action_url = reverse("document_action", args=[ws.pk, doc.pk])
    editor.post(action_url, {"action": "restore_version", "number": "1"})
    event = assert_event(Action.VERSION_RESTORED, actor=team.editor, workspace=ws, document=doc)
    assert event.data == {"version": 3, "restored_from": 1}

    editor.post(reverse("folder_create", args=[ws.pk]), {"name": "Board"})
    folder = Folder.objects.get()
    assert_event(Action.FOLDER_CREATED, actor=team.editor, workspace=ws, target=folder)
    editor.post(action_url, {"action": "move", "folder": str(folder.pk)})
    event = assert_event(Action.DOCUMENT_MOVED, actor=team.editor, workspace=ws, document=doc)
    assert event.data == {"from": "(top level)", "to": "Board"}

    editor.post(action_url, {"action": "delete"})
    assert_event(Action.DOCUMENT_DELETED, actor=team.editor, workspace=ws, document=doc)

    # a manager restores it from the trash, deletes it again and purges it
    trash_url = reverse("trash_action", args=[ws.pk, "document", doc.pk])
    manager.post(trash_url, {"action": "restore"})
    assert_event(Action.DOCUMENT_RESTORED, actor=team.manager, workspace=ws, document=doc)
    manager.post(action_url, {"action": "delete"})
    manager.post(trash_url, {"action": "purge"})
    event = assert_event(Action.DOCUMENT_PURGED, actor=team.manager, workspace=ws, document=doc)
    assert event.data["versions"] == 3
    assert not Document.objects.exists()

    # folders: move, delete, restore, purge
    folder_url = reverse("folder_action", args=[ws.pk, folder.pk])
    editor.post(reverse("folder_create", args=[ws.pk]), {"name": "Archive"})
    archive = Folder.objects.get(name="Archive")
    editor.post(folder_url, {"action": "move", "parent": str(archive.pk)})
    assert_event(Action.FOLDER_MOVED, actor=team.editor, workspace=ws, target=folder)
    editor.post(folder_url, {"action": "delete"})
    assert_event(Action.FOLDER_DELETED, actor=team.editor, workspace=ws, target=folder)
    folder_trash_url = reverse("trash_action", args=[ws.pk, "folder", folder.pk])
    manager.post(folder_trash_url, {"action": "restore"})
    assert_event(Action.FOLDER_RESTORED, actor=team.manager, workspace=ws, target=folder)
    manager.post(folder_url, {"action": "delete"})
    manager.post(folder_trash_url, {"action": "purge"})
    assert_event(Action.FOLDER_PURGED, actor=team.manager, workspace=ws, target=folder)

    # and the chain of all of it still verifies
    assert audit_verify().ok


def test_refused_actions_leave_no_event_of_that_action(team):
    """The record says what happened: a refused delete is not a delete."""
    from commonroom.documents.tests.factories import upload

    doc = upload(team.editor, team.workspace, "minutes.txt", b"x").document
    viewer = client_for(team.viewer)
    viewer.post(reverse("document_action", args=[team.workspace.pk, doc.pk]), {"action": "delete"})
    assert not AuditEvent.objects.filter(action=Action.DOCUMENT_DELETED).exists()
    # an outsider's attempt to view is not recorded as a view either
    outsider = client_for(team.outsider)
    assert outsider.get(
        reverse("document_detail", args=[team.workspace.pk, doc.pk])
    ).status_code == (404)
    assert not AuditEvent.objects.filter(action=Action.DOCUMENT_VIEWED).exists()
