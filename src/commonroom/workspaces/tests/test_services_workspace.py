"""Creating, renaming, describing, archiving and reopening a workspace."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from commonroom.accounts.services import token_create
from commonroom.accounts.tests.factories import GuestFactory, UserFactory
from commonroom.audit.models import Action, AuditEvent
from commonroom.core.exceptions import ApplicationError, PermissionDenied
from commonroom.documents.selectors import document_access
from commonroom.documents.services import document_rename, document_upload, folder_create
from commonroom.workspaces import services
from commonroom.workspaces.models import Membership, Role, Workspace
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.tests.factories import upload_document


def access_of(user, workspace):
    return workspace_access(user=user, workspace_id=workspace.pk)


# --- Create ------------------------------------------------------------------------------------


def test_staff_member_creates_a_workspace_and_becomes_its_manager(db):
    priya = UserFactory.create()

    ws = services.workspace_create(
        actor=priya, name="  Weekly   budget meeting ", description=" Minutes and papers "
    )

    assert ws.name == "Weekly budget meeting"
    assert ws.description == "Minutes and papers"
    assert not ws.is_archived
    membership = Membership.objects.get(workspace=ws)
    assert (membership.user, membership.role) == (priya, Role.MANAGER)
    event = AuditEvent.objects.get(action=Action.WORKSPACE_CREATED)
    assert (event.workspace_id, event.actor_id) == (ws.pk, priya.pk)


def test_guest_cannot_create_a_workspace(db):
    aisha = GuestFactory.create()

    with pytest.raises(PermissionDenied):
        services.workspace_create(actor=aisha, name="Shadow board")

    assert not Workspace.objects.exists()
    assert not AuditEvent.objects.filter(action=Action.WORKSPACE_CREATED).exists()


@pytest.mark.parametrize("name", ["", "   ", "x" * 121])
def test_workspace_needs_a_sensible_name(db, name):
    with pytest.raises(ApplicationError):
        services.workspace_create(actor=UserFactory.create(), name=name)
    assert not Workspace.objects.exists()


# --- Rename and describe -----------------------------------------------------------------------


def test_manager_renames_and_describes(team):
    ws = services.workspace_update(
        actor=team.manager,
        access=access_of(team.manager, team.workspace),
        name="Finance committee",
        description="Monthly figures",
    )

    ws.refresh_from_db()
    assert (ws.name, ws.description) == ("Finance committee", "Monthly figures")
    event = AuditEvent.objects.get(action=Action.WORKSPACE_UPDATED)
    assert event.data["name"] == ["Weekly budget meeting", "Finance committee"]
    assert event.data["description"] == "changed"


def test_saving_unchanged_details_records_nothing(team):
    services.workspace_update(
        actor=team.manager,
        access=access_of(team.manager, team.workspace),
        name=team.workspace.name,
        description=team.workspace.description,
    )
    assert not AuditEvent.objects.filter(action=Action.WORKSPACE_UPDATED).exists()


@pytest.mark.parametrize("role", ["viewer", "commenter", "editor"])
def test_only_managers_rename(team, role):
    user = team.by_role[role]
    with pytest.raises(PermissionDenied):
        services.workspace_update(
            actor=user, access=access_of(user, team.workspace), name="Hijacked"
        )
    team.workspace.refresh_from_db()
    assert team.workspace.name == "Weekly budget meeting"


# --- Archive -----------------------------------------------------------------------------------


@pytest.fixture
def archived(team):
    """The team workspace holding one document, then archived by its manager."""
    team.document = upload_document(team.workspace, team.editor)
    services.workspace_set_archived(
        actor=team.manager, access=access_of(team.manager, team.workspace), archived=True
    )
    team.workspace.refresh_from_db()
    return team


def test_archiving_is_recorded(archived):
    assert archived.workspace.is_archived
    assert AuditEvent.objects.filter(
        action=Action.WORKSPACE_ARCHIVED, workspace_id=archived.workspace.pk
    ).exists()


WRITE_ABILITIES = [
    "comment",
    "upload",
    "edit_documents",
    "delete_documents",
    "manage_members",
    "manage_workspace",
    "manage_trash",
    "archive",
]


@pytest.mark.parametrize("role", ["viewer", "commenter", "editor", "manager"])
def test_archived_workspace_is_read_only_but_readable(archived, role):
    access = access_of(archived.by_role[role], archived.workspace)
    assert not any(access.can(a) for a in WRITE_ABILITIES)
    assert access.can("view")
    assert access.can("download")


def test_archived_workspace_refuses_every_write(archived):
    manager = archived.manager
    access = access_of(manager, archived.workspace)
    doc_access = document_access(
        user=manager, workspace_id=archived.workspace.pk, document_id=archived.document.pk
    )
    attempts = [
        lambda: services.workspace_update(actor=manager, access=access, name="Changed"),
        lambda: services.invitation_create(
            actor=manager, access=access, email="new@example.org", role="viewer"
        ),
        lambda: document_upload(
            actor=manager, access=access, uploaded=SimpleUploadedFile("a.txt", b"a")
        ),
        lambda: folder_create(actor=manager, access=access, name="Papers", parent=None),
        lambda: services.workspace_set_archived(actor=manager, access=access, archived=True),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied, match="archived"):
            attempt()
    with pytest.raises(PermissionDenied, match="archived"):
        document_rename(actor=manager, doc_access=doc_access, name="other.txt")


def test_archived_workspace_pages_and_download_still_work(archived, client):
    client.force_login(archived.viewer)
    ws, doc = archived.workspace, archived.document
    assert client.get(reverse("workspace_detail", args=[ws.pk])).status_code == 200
    assert client.get(reverse("document_detail", args=[ws.pk, doc.pk])).status_code == 200
    response = client.get(reverse("version_download", args=[ws.pk, doc.pk, 1]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"Minutes of the weekly budget meeting.\n"


def test_manager_reopens_an_archived_workspace(archived):
    services.workspace_set_archived(
        actor=archived.manager,
        access=access_of(archived.manager, archived.workspace),
        archived=False,
    )
    archived.workspace.refresh_from_db()
    assert not archived.workspace.is_archived
    assert access_of(archived.editor, archived.workspace).can("upload")
    assert AuditEvent.objects.filter(action=Action.WORKSPACE_UNARCHIVED).exists()


@pytest.mark.parametrize("role", ["viewer", "commenter", "editor"])
def test_only_managers_archive_or_reopen(team, role):
    user = team.by_role[role]
    with pytest.raises(PermissionDenied):
        services.workspace_set_archived(
            actor=user, access=access_of(user, team.workspace), archived=True
        )
    services.workspace_set_archived(
        actor=team.manager, access=access_of(team.manager, team.workspace), archived=True
    )
    with pytest.raises(PermissionDenied):
        services.workspace_set_archived(
            actor=user, access=access_of(user, team.workspace), archived=False
        )
    team.workspace.refresh_from_db()
    assert team.workspace.is_archived


def test_archive_and_reopen_through_the_page_and_the_api(team, client):
    ws = team.workspace
    settings_url = reverse("workspace_settings", args=[ws.pk])
    client.force_login(team.manager)

    assert client.post(settings_url, {"action": "archive"}).status_code == 302
    ws.refresh_from_db()
    assert ws.is_archived
    # The settings page stays open to the manager, to reopen it.
    assert client.get(settings_url).status_code == 200

    secret = token_create(actor=team.editor, name="script", scope="write").secret
    editor_api = Client(headers={"Authorization": f"Bearer {secret}"})
    refused = editor_api.patch(
        f"/api/v1/workspaces/{ws.pk}", {"archived": False}, content_type="application/json"
    )
    assert refused.status_code == 403
    ws.refresh_from_db()
    assert ws.is_archived

    secret = token_create(actor=team.manager, name="script", scope="write").secret
    manager_api = Client(headers={"Authorization": f"Bearer {secret}"})
    reopened = manager_api.patch(
        f"/api/v1/workspaces/{ws.pk}", {"archived": False}, content_type="application/json"
    )
    assert reopened.status_code == 200
    assert reopened.json()["archived"] is False
    assert reopened.json()["abilities"]["upload"] is True
    ws.refresh_from_db()
    assert not ws.is_archived
