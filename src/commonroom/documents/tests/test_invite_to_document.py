"""A manager invites someone to read one document: the invitation is to its workspace, with the
role chosen, and its link opens the document once accepted (through the second factor's set-up
first when one is required)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from commonroom.accounts.models import User
from commonroom.core.exceptions import ApplicationError
from commonroom.documents.tests.factories import upload
from commonroom.workspaces.models import Invitation, Membership
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.services import invitation_create
from commonroom.workspaces.tests.factories import make_workspace

pytestmark = pytest.mark.django_db


def invite(client: Client, team: Any, doc: Any, email: str, role: str = "commenter") -> Any:
    url = reverse("document_action", args=[team.workspace.pk, doc.pk])
    return client.post(url, {"action": "invite", "email": email, "role": role})


def test_a_manager_invites_to_a_document_and_the_link_opens_it(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    doc = upload(team.manager, team.workspace, "Minutes 24 Nov.txt", b"The minutes.").document
    page = reverse("document_detail", args=[team.workspace.pk, doc.pk])
    manager = Client()
    manager.force_login(team.manager)
    assert "Invite someone to read this" in manager.get(page).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(manager, team, doc, "aisha@partner.example")
    assert response.status_code == 302
    (sent,) = mail.outbox
    assert sent.subject == "Priya Shah invited you to read Minutes 24 Nov.txt on Commonroom"
    assert '"Minutes 24 Nov.txt" in the workspace' in sent.body
    link = re.search(r"https?://\S+/invitations/\S+", str(sent.body))
    assert link is not None and link.group(0).endswith(f"?next={page.replace('/', '%2F')}")
    invitation = Invitation.objects.get()
    assert (invitation.role, invitation.open_path) == ("commenter", page)

    # A newcomer accepts: a guest account, a commenter, and straight on to the minutes.
    newcomer = Client()
    path = link.group(0).split("://", 1)[1].split("/", 1)[1]
    accepted = newcomer.post(
        "/" + path, {"full_name": "Aisha Khan", "password": "a-long-new-passphrase"}
    )
    assert accepted.status_code == 302
    assert accepted["Location"] == page
    aisha = User.objects.get(email="aisha@partner.example")
    assert Membership.objects.get(user=aisha).role == "commenter"
    assert newcomer.get(page).status_code == 200


def test_the_link_opens_the_document_through_the_second_factors_set_up(
    team: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.COMMONROOM_MFA_REQUIRED = "all"
    doc = upload(team.manager, team.workspace, "Minutes.txt", b"The minutes.").document
    page = reverse("document_detail", args=[team.workspace.pk, doc.pk])
    with django_capture_on_commit_callbacks(execute=True):
        issued = invitation_create(
            actor=team.manager,
            access=workspace_access(user=team.manager, workspace_id=team.workspace.pk),
            email="aisha@partner.example",
            role="viewer",
            open_path=page,
            open_label=doc.name,
        )
    path = issued.url.split("://", 1)[1].split("/", 1)[1]
    newcomer = Client()
    accepted = newcomer.post(
        "/" + path, {"full_name": "Aisha Khan", "password": "a-long-new-passphrase"}
    )
    # On to the minutes, which first send her to choose a second factor, keeping the way back.
    assert accepted["Location"] == page
    chooser = newcomer.get(page)
    assert chooser.status_code == 302
    where = urlsplit(chooser["Location"])
    assert where.path == reverse("account_second_factor")
    assert parse_qs(where.query)["next"] == [page]


def test_only_managers_invite_from_a_document(team: Any) -> None:
    doc = upload(team.manager, team.workspace, "Minutes.txt", b"The minutes.").document
    editor = Client()
    editor.force_login(team.editor)
    page = reverse("document_detail", args=[team.workspace.pk, doc.pk])
    assert "Invite someone to read this" not in editor.get(page).content.decode()
    response = invite(editor, team, doc, "someone@example.org")
    assert response.status_code == 302
    assert not Invitation.objects.exists()
    assert mail.outbox == []
    outsider = Client()
    outsider.force_login(team.outsider)
    assert invite(outsider, team, doc, "someone@example.org").status_code == 404
    assert not Invitation.objects.exists()


def test_an_invitation_opens_only_a_page_of_its_own_workspace(team: Any) -> None:
    other = make_workspace(manager=team.manager, name="Elsewhere")
    doc = upload(team.manager, other, "Secret.txt", b"x").document
    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    for path in (
        reverse("document_detail", args=[other.pk, doc.pk]),
        "https://evil.example/",
        "//evil.example/w/",
        f"/w/{team.workspace.pk}/../../admin/",
    ):
        with pytest.raises(ApplicationError) as refused:
            invitation_create(
                actor=team.manager,
                access=access,
                email="someone@example.org",
                role="viewer",
                open_path=path,
            )
        assert refused.value.code == "invalid_page"
    assert not Invitation.objects.exists()
