"""A write decided on what was true when its request began is refused if, before it lands, the
person was demoted or removed or the workspace archived.

Each request below is a real one (the test client, in a thread with its own database connection,
as another server process would be), held just after its permission check (the first reading of
the person's membership) while the workspace's manager changes things for real; then let go.
The write must be refused (403, or 404 for someone no longer a member) and leave nothing: every
service re-reads the person's role under the workspace lock, inside its transaction
(``workspaces.services.lock_access``). The same request with nothing changed in between
succeeds, so a refusal is the change's doing, not a malformed request's.

The requests are ones whose permission check runs outside any transaction; on SQLite a request
whose check runs inside one (the API's PATCH of a document, folder or workspace) holds the
database's write lock from its start (``BEGIN IMMEDIATE``), so nothing can change under it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib import messages
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from commonroom.accounts.services import token_create
from commonroom.accounts.tests.factories import UserFactory
from commonroom.comments.models import Comment
from commonroom.conversations.models import Message
from commonroom.conversations.services import conversation_start
from commonroom.core.tests.in_flight import InFlight
from commonroom.documents.models import Document, Folder, Version
from commonroom.workspaces import services as workspaces
from commonroom.workspaces.models import Invitation, Membership, Workspace
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.tests.factories import add_member, make_workspace, upload_document

# Held just after this statement: the request's permission check.
PERMISSION_CHECK = '"workspaces_membership"'
DONE, REFUSED = "done", "refused"


@dataclass
class World:
    workspace: Workspace
    manager: Any  # makes the changes in flight
    people: dict[str, Any]  # who sends the request, by their role before the change
    document: Document
    conversation_id: Any
    invitation: Invitation
    bystander: Membership  # whose role a manager changes, or who is removed

    def access(self) -> Any:
        return workspace_access(user=self.manager, workspace_id=self.workspace.pk)


@pytest.fixture
def world(transactional_db) -> World:
    manager = UserFactory.create(email="priya@example.org")
    ws = make_workspace(manager=manager)
    people = {
        "manager": add_member(ws, UserFactory.create(email="ola@example.org"), "manager"),
        "editor": add_member(ws, UserFactory.create(email="tom@example.org"), "editor"),
        "commenter": add_member(ws, UserFactory.create(email="sam@example.org"), "commenter"),
    }
    bystander = add_member(ws, UserFactory.create(email="vic@example.org"), "viewer")
    access = workspace_access(user=manager, workspace_id=ws.pk)
    document = upload_document(ws, manager, name="minutes.txt")
    conversation = conversation_start(actor=manager, access=access, title="Rota", body="Hello")
    invitation = workspaces.invitation_create(
        actor=manager, access=access, email="new@example.org", role="viewer"
    ).invitation
    return World(
        workspace=ws,
        manager=manager,
        people=people,
        document=document,
        conversation_id=conversation.pk,
        invitation=invitation,
        bystander=Membership.objects.get(workspace=ws, user=bystander),
    )


def state(world: World) -> dict[str, Any]:
    """Everything any of the writes below could change."""
    ws = Workspace.objects.get(pk=world.workspace.pk)
    return {
        "workspace": (ws.name, ws.is_archived),
        "members": sorted(Membership.objects.filter(workspace=ws).values_list("user_id", "role")),
        "invitations": sorted(
            (i.email, i.revoked_at is None) for i in Invitation.objects.filter(workspace=ws)
        ),
        "documents": sorted(
            Document.objects.filter(workspace=ws).values_list("name", "folder_id", "deleted_at")
        ),
        "versions": Version.objects.filter(document__workspace=ws).count(),
        "folders": Folder.objects.filter(workspace=ws).count(),
        "comments": Comment.objects.filter(document__workspace=ws).count(),
        "messages": Message.objects.filter(conversation__workspace=ws).count(),
    }


# --- The requests ------------------------------------------------------------------------------


def api_client(user: Any) -> Client:
    secret = token_create(actor=user, name="in flight", scope="write").secret
    return Client(headers={"Authorization": f"Bearer {secret}"})


def page_client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api(status: int) -> Callable[[Any], Any]:
    return lambda response: response.status_code if response.status_code != status else DONE


def page(response: Any) -> Any:
    """A page's write answers with a redirect; a refusal carries an error message."""
    if response.status_code != 302:
        return response.status_code
    errors = [m for m in get_messages(response.wsgi_request) if m.level == messages.ERROR]
    return REFUSED if errors else DONE


@dataclass(frozen=True)
class Write:
    role: str  # of the person sending it
    demoted_to: str
    send: Callable[[World, Client], Any]
    outcome: Callable[[Any], Any]
    through: Callable[[Any], Client] = api_client


def _w(world: World) -> str:
    return f"/api/v1/workspaces/{world.workspace.pk}"


def _file(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/plain")


WRITES: dict[str, Write] = {
    "upload a new version": Write(
        "editor",
        "commenter",
        lambda w, c: c.post(
            f"{_w(w)}/documents/{w.document.pk}/versions",
            {"file": _file("minutes.txt", b"amended minutes")},
        ),
        api(201),
    ),
    "upload a new document": Write(
        "editor",
        "viewer",
        lambda w, c: c.post(f"{_w(w)}/documents", {"file": _file("agenda.txt", b"agenda")}),
        api(201),
    ),
    "rename a document": Write(
        "editor",
        "commenter",
        lambda w, c: c.post(
            reverse("document_action", args=[w.workspace.pk, w.document.pk]),
            {"action": "rename", "name": "renamed.txt"},
        ),
        page,
        page_client,
    ),
    "create a folder": Write(
        "editor",
        "viewer",
        lambda w, c: c.post(
            f"{_w(w)}/folders", json.dumps({"name": "Papers"}), content_type="application/json"
        ),
        api(201),
    ),
    "comment": Write(
        "commenter",
        "viewer",
        lambda w, c: c.post(
            f"{_w(w)}/documents/{w.document.pk}/comments",
            json.dumps({"body": "Looks right."}),
            content_type="application/json",
        ),
        api(201),
    ),
    "post a message": Write(
        "commenter",
        "viewer",
        lambda w, c: c.post(
            f"{_w(w)}/conversations/{w.conversation_id}/messages",
            json.dumps({"body": "Agreed."}),
            content_type="application/json",
        ),
        api(201),
    ),
    "invite someone": Write(
        "manager",
        "editor",
        lambda w, c: c.post(
            f"{_w(w)}/invitations",
            json.dumps({"email": "another@example.org", "role": "manager"}),
            content_type="application/json",
        ),
        api(201),
    ),
    "withdraw an invitation": Write(
        "manager",
        "editor",
        lambda w, c: c.delete(f"{_w(w)}/invitations/{w.invitation.pk}"),
        api(204),
    ),
    "change someone's role": Write(
        "manager",
        "editor",
        lambda w, c: c.patch(
            f"{_w(w)}/members/{w.bystander.pk}",
            json.dumps({"role": "manager"}),
            content_type="application/json",
        ),
        api(200),
    ),
    "remove someone": Write(
        "manager",
        "editor",
        lambda w, c: c.delete(f"{_w(w)}/members/{w.bystander.pk}"),
        api(204),
    ),
    "rename the workspace": Write(
        "manager",
        "editor",
        lambda w, c: c.post(
            reverse("workspace_settings", args=[w.workspace.pk]),
            {"action": "save", "name": "Renamed", "description": ""},
        ),
        page,
        page_client,
    ),
    "archive the workspace": Write(
        "manager",
        "editor",
        lambda w, c: c.post(
            reverse("workspace_settings", args=[w.workspace.pk]), {"action": "archive"}
        ),
        page,
        page_client,
    ),
}


# --- What changes while they are in flight -----------------------------------------------------


def demote(world: World, person: Any, write: Write) -> None:
    membership = Membership.objects.get(workspace=world.workspace, user=person)
    workspaces.membership_change_role(
        actor=world.manager,
        access=world.access(),
        membership_id=membership.pk,
        role=write.demoted_to,
    )


def remove(world: World, person: Any, write: Write) -> None:
    membership = Membership.objects.get(workspace=world.workspace, user=person)
    workspaces.membership_remove(
        actor=world.manager, access=world.access(), membership_id=membership.pk
    )


def archive(world: World, person: Any, write: Write) -> None:
    workspaces.workspace_set_archived(actor=world.manager, access=world.access(), archived=True)


CHANGES: dict[str, tuple[Callable[[World, Any, Write], None], int]] = {
    "demoted": (demote, 403),
    "removed": (remove, 404),
    "archived": (archive, 403),
}


def send_held(
    world: World, write: Write, change: Callable[[World, Any, Write], None] | None
) -> Any:
    person = world.people[write.role]
    client = write.through(person)
    request = InFlight(lambda: write.send(world, client), after=PERMISSION_CHECK, name="request")
    request.start()
    try:
        if change is not None:
            change(world, person, write)
        before = state(world)
    except BaseException:
        request.outcome()  # let it go before failing
        raise
    response = request.release()
    return write.outcome(response), before, state(world)


@pytest.mark.parametrize("name", sorted(WRITES))
def test_with_nothing_changed_in_flight_the_write_is_done(world, name):
    outcome, before, after = send_held(world, WRITES[name], None)
    assert outcome == DONE
    assert after != before


@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.parametrize("name", sorted(WRITES))
def test_a_write_in_flight_is_refused_once_its_sender_may_no_longer_make_it(world, name, change):
    write = WRITES[name]
    apply, status = CHANGES[change]
    outcome, before, after = send_held(world, write, apply)
    # A page shows a refusal as a message on the page it came from; to someone no longer a
    # member it answers 404, as every page does.
    expected = REFUSED if write.outcome is page and status != 404 else status
    assert outcome == expected, f"{name}, {change} in flight"
    assert after == before, f"{name}, {change} in flight, still changed something"
