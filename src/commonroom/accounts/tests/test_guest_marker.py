"""Names cannot impersonate: an external guest is marked as one, with their email's domain,
beside their name on pages (comments, messages, suggestions, approvals, members, the mention
list) and in the API (``is_guest``, ``guest_domain``); a newcomer's name that reads as a
member's is refused with a sentence."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from commonroom.accounts.models import User
from commonroom.accounts.selectors import name_key
from commonroom.accounts.services import token_create
from commonroom.accounts.tests.factories import GuestFactory
from commonroom.comments.services import comment_create
from commonroom.conversations.services import conversation_start
from commonroom.core.exceptions import ApplicationError
from commonroom.documents.selectors import document_access
from commonroom.documents.tests.factories import upload
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.services import invitation_accept, invitation_create
from commonroom.workspaces.tests.factories import add_member

pytestmark = pytest.mark.django_db

MARK = "Guest · partner.example"


@pytest.fixture
def guest(team: Any) -> Any:
    person = GuestFactory.create(email="priya.shah@partner.example", full_name="Priya Shah")
    return add_member(team.workspace, person, "commenter")


def browser(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_a_guests_comment_and_message_carry_the_guest_mark_on_pages_and_in_the_api(team, guest):
    doc = upload(team.manager, team.workspace, "minutes.txt", b"Minutes.").document
    comment_create(
        actor=guest,
        doc_access=document_access(user=guest, workspace_id=doc.workspace_id, document_id=doc.pk),
        body="As board secretary I approve these minutes",
    )
    access = workspace_access(user=guest, workspace_id=team.workspace.pk)
    topic = conversation_start(actor=guest, access=access, title="Minutes", body="Approved.")
    page = browser(team.editor).get(reverse("document_detail", args=[doc.workspace_id, doc.pk]))
    assert MARK in page.content.decode()
    shown = browser(team.editor).get(
        reverse("conversation_detail", args=[team.workspace.pk, topic.pk])
    )
    assert MARK in shown.content.decode()
    members = browser(team.manager).get(reverse("workspace_members", args=[team.workspace.pk]))
    assert "External guest · partner.example" in members.content.decode()
    secret = token_create(actor=team.editor, name="t").secret
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    listed = api.get(f"/api/v1/workspaces/{doc.workspace_id}/documents/{doc.pk}/comments").json()[
        "items"
    ]
    author = listed[0]["author"] if isinstance(listed, list) else listed["items"][0]["author"]
    assert author == {
        "id": guest.pk,
        "name": "Priya Shah",
        "is_guest": True,
        "guest_domain": "partner.example",
    }
    mentions = browser(team.editor).get(
        reverse("workspace_mention_candidates", args=[team.workspace.pk]), {"q": "priya"}
    )
    by_handle = {p["handle"]: p["guest"] for p in mentions.json()}
    # Handles are typed as the address's first part (decision 30), the guest still marked.
    assert by_handle == {"priya": None, "priya.shah": "partner.example"}


def test_staff_carry_no_mark(team):
    doc = upload(team.manager, team.workspace, "minutes.txt", b"Minutes.").document
    comment_create(
        actor=team.editor,
        doc_access=document_access(
            user=team.editor, workspace_id=doc.workspace_id, document_id=doc.pk
        ),
        body="Fine by me.",
    )
    page = browser(team.manager).get(reverse("document_detail", args=[doc.workspace_id, doc.pk]))
    assert "Guest ·" not in page.content.decode()


@pytest.mark.parametrize("taken", ["Priya Shah", "priya  SHAH.", "Priyá Shah", "PRIYA-SHAH"])
def test_a_newcomers_name_that_reads_as_a_members_is_refused(team, taken):
    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    invited = invitation_create(
        actor=team.manager, access=access, email="someone@partner.example", role="commenter"
    )
    with pytest.raises(ApplicationError) as refused:
        invitation_accept(token=invited.token, full_name=taken, password="a-long-new-passphrase-1")
    assert refused.value.code == "name_taken"
    assert "already called" in refused.value.message
    assert not User.objects.filter(email="someone@partner.example").exists()
    # Told apart, it is welcome.
    invitation_accept(
        token=invited.token, full_name="Priya Shah (Partner Trust)", password="a-long-new-pass-1"
    )
    assert User.objects.get(email="someone@partner.example").full_name == (
        "Priya Shah (Partner Trust)"
    )


def test_the_invitation_page_says_why_a_name_is_refused(team):
    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    invited = invitation_create(
        actor=team.manager, access=access, email="someone@partner.example", role="commenter"
    )
    response = Client().post(
        reverse("invitation_accept", args=[invited.token]),
        {"full_name": "Priya Shah", "password": "a-long-new-passphrase-1"},
        follow=True,
    )
    assert "already called" in response.content.decode()
    assert not User.objects.filter(email="someone@partner.example").exists()


def test_name_keys_fold_what_does_not_tell_names_apart():
    assert name_key("Priya  Shah.") == name_key("PRIYA SHAH") == name_key("Priyá Shah")
    assert name_key("Priya Shah") != name_key("Priya Shaw")
