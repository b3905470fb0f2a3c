"""Inviting someone who already has an account adds them at once (decision 30): a member from
that moment, so they can be mentioned straight away, told by a notification and an email whose
link opens what they were invited to read; audited. Anyone else gets an invitation, whose link
opens that page however it is accepted. A refused invitation form keeps what was typed."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.audit.actions import Action
from commonroom.audit.models import AuditEvent
from commonroom.comments.services import comment_create
from commonroom.core.exceptions import ApplicationError
from commonroom.documents.selectors import document_access
from commonroom.documents.tests.factories import upload
from commonroom.notifications.models import EmailChoice, Kind, Notification, NotificationSettings
from commonroom.workspaces import services
from commonroom.workspaces.models import Invitation, Membership
from commonroom.workspaces.selectors import workspace_access

pytestmark = pytest.mark.django_db


def _person(**fields: Any) -> Any:
    return UserFactory(**fields)


def _doc(team: Any) -> tuple[Any, str]:
    doc = upload(team.manager, team.workspace, "Minutes 24 Nov.txt", b"The minutes.").document
    return doc, reverse("document_detail", args=[team.workspace.pk, doc.pk])


def _invite_from_page(client: Client, team: Any, doc: Any, email: str, role: str) -> Any:
    url = reverse("document_action", args=[team.workspace.pk, doc.pk])
    return client.post(url, {"action": "invite", "email": email, "role": role})


def test_someone_with_an_account_is_added_at_once_told_and_can_be_mentioned(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    doc, page = _doc(team)
    tom = _person(email="tom.reed@example.org", full_name="Tom Reed")
    NotificationSettings.objects.create(user=tom, email=EmailChoice.IMMEDIATE)
    manager = Client()
    manager.force_login(team.manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = _invite_from_page(manager, team, doc, "Tom.Reed@example.org", "editor")
    assert response.status_code == 302
    told = manager.get(page).content.decode()
    assert "Tom Reed (tom.reed@example.org) already had an account" in told

    assert Membership.objects.get(workspace=team.workspace, user=tom).role == "editor"
    assert not Invitation.objects.exists()
    # One email, saying so, whose link opens the document (no token: they sign in as usual).
    (sent,) = mail.outbox
    assert sent.to == ["tom.reed@example.org"]
    assert (
        sent.subject == "Priya Shah added you to Weekly budget meeting to read Minutes 24 Nov.txt"
    )
    assert "nothing to accept" in sent.body
    link = re.search(r"https?://\S+", str(sent.body))
    assert link is not None and link.group(0).endswith(page)
    # A notification, already emailed (so neither a second email nor a digest line).
    note = Notification.objects.get(recipient=tom)
    assert (note.kind, note.target_url) == (Kind.ADDED, page)
    assert (
        note.summary == "Priya Shah added you to Weekly budget meeting to read Minutes 24 Nov.txt"
    )
    assert note.emailed_at is not None
    # Audited as a member added through an invitation.
    event = AuditEvent.objects.get(action=Action.MEMBER_ADDED)
    assert (event.actor_id, event.target_id) == (team.manager.pk, str(tom.pk))
    assert event.data == {"role": "editor", "invited": True, "opens": page}
    # Mentioned straight away, by name.
    access = document_access(
        user=team.commenter, workspace_id=team.workspace.pk, document_id=doc.pk
    )
    comment = comment_create(
        actor=team.commenter, doc_access=access, body="@tom.reed can you check?"
    )
    assert '<span class="cr-mention">@Tom Reed</span>' in comment.body_html
    # And they open the document.
    tom_client = Client()
    tom_client.force_login(tom)
    listed = tom_client.get(reverse("notification_list")).content.decode()
    assert "Priya Shah added you to Weekly budget meeting to read Minutes 24 Nov.txt" in listed
    opened = tom_client.get(reverse("notification_open", args=[note.pk]))
    assert opened["Location"] == page
    assert tom_client.get(page).status_code == 200


def test_a_pending_invitation_for_them_is_withdrawn_when_they_are_added(team: Any) -> None:
    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    old = services.invitation_create(
        actor=team.manager, access=access, email="later@example.org", role="viewer"
    )
    later = _person(email="later@example.org")
    invited = services.member_invite(
        actor=team.manager, access=access, email="later@example.org", role="commenter"
    )
    assert invited.added is not None and invited.added.user == later
    old.invitation.refresh_from_db()
    assert old.invitation.revoked_at is not None


def test_a_new_address_still_gets_an_invitation(team: Any) -> None:
    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    invited = services.member_invite(
        actor=team.manager, access=access, email="aisha@partner.example", role="commenter"
    )
    assert invited.added is None
    assert invited.invitation.email == "aisha@partner.example"
    assert not Membership.objects.filter(user__email="aisha@partner.example").exists()


@pytest.mark.parametrize("role", ["editor", "commenter", "viewer"])
def test_only_managers_add_or_invite(team: Any, role: str) -> None:
    someone = _person(email="someone@example.org")
    actor = team.by_role[role]
    access = workspace_access(user=actor, workspace_id=team.workspace.pk)
    with pytest.raises(ApplicationError) as exc:
        services.member_invite(actor=actor, access=access, email=someone.email, role="viewer")
    assert exc.value.status == 403
    assert not Membership.objects.filter(user=someone).exists()
    assert not Notification.objects.exists()
    assert mail.outbox == []


def test_a_non_member_gets_404_and_adds_no_one(team: Any) -> None:
    doc, _page = _doc(team)
    someone = _person(email="someone@example.org")
    outsider = Client()
    outsider.force_login(team.outsider)
    assert _invite_from_page(outsider, team, doc, someone.email, "manager").status_code == 404
    url = reverse("workspace_members", args=[team.workspace.pk])
    assert outsider.post(url, {"email": someone.email, "role": "manager"}).status_code == 404
    assert not Membership.objects.filter(user=someone).exists()
    assert mail.outbox == []


def test_a_switched_off_account_is_refused_with_a_sentence(team: Any) -> None:
    gone = _person(email="gone@example.org")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    with pytest.raises(ApplicationError) as exc:
        services.member_invite(actor=team.manager, access=access, email=gone.email, role="viewer")
    assert exc.value.code == "account_inactive"
    assert "switched off" in exc.value.message
    assert not Membership.objects.filter(user=gone).exists()
    assert not Invitation.objects.exists()


def test_an_added_guest_still_needs_their_second_factor(team: Any, settings: Any) -> None:
    settings.COMMONROOM_MFA_REQUIRED = "all"
    doc, page = _doc(team)
    guest = _person(email="aisha@partner.example", full_name="Aisha Khan", kind="guest")
    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    services.member_invite(
        actor=team.manager, access=access, email=guest.email, role="commenter",
        open_path=page, open_label=doc.name,
    )  # fmt: skip
    aisha = Client()
    assert aisha.login(email=guest.email, password=PASSWORD)
    sent_on = aisha.get(page)
    assert sent_on.status_code == 302
    assert sent_on["Location"].startswith(reverse("account_second_factor"))


def test_the_api_adds_an_account_at_once_and_invites_a_new_address(team: Any) -> None:
    someone = _person(email="someone@example.org")
    api = Client()
    api.force_login(team.manager)
    url = f"/api/v1/workspaces/{team.workspace.pk}/invitations"
    added = api.post(
        url, {"email": someone.email, "role": "viewer"}, content_type="application/json"
    )
    assert added.status_code == 200
    assert added.json()["user_id"] == someone.pk
    invited = api.post(
        url, {"email": "new@partner.example", "role": "viewer"}, content_type="application/json"
    )
    assert invited.status_code == 201
    assert invited.json()["email"] == "new@partner.example"


# --- An end date given with the invitation (decision 29) ------------------------------------


def test_an_end_date_goes_on_the_membership_made_at_once_and_is_said_everywhere(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    tom = _person(email="tom.reed@example.org", full_name="Tom Reed")
    until = timezone.localdate() + timedelta(days=30)
    said = f"{until:%-d %B %Y}"
    manager = Client()
    manager.force_login(team.manager)
    url = reverse("workspace_members", args=[team.workspace.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = manager.post(
            url, {"email": tom.email, "role": "commenter", "access_until": until.isoformat()}
        )
    assert response.status_code == 302
    membership = Membership.objects.get(workspace=team.workspace, user=tom)
    assert (membership.role, membership.access_until) == ("commenter", until)
    assert f"Their access ends after {said}." in manager.get(url).content.decode()
    event = AuditEvent.objects.get(action=Action.MEMBER_ADDED, target_id=str(tom.pk))
    assert event.data == {"role": "commenter", "invited": True, "access_until": until.isoformat()}
    note = Notification.objects.get(recipient=tom, kind=Kind.ADDED)
    assert note.summary == f"Priya Shah added you to Weekly budget meeting, until {said}"
    (sent,) = mail.outbox
    assert f"Your access lasts until the end of {until:%-d %B %Y}." in sent.body
    # And it ends as any end date does: they see the workspace until then.
    tom_client = Client()
    tom_client.force_login(tom)
    assert tom_client.get(reverse("workspace_detail", args=[team.workspace.pk])).status_code == 200


def test_the_document_page_adds_at_once_without_an_end_date(team: Any) -> None:
    doc, _page = _doc(team)
    tom = _person(email="tom.reed@example.org")
    manager = Client()
    manager.force_login(team.manager)
    assert _invite_from_page(manager, team, doc, tom.email, "viewer").status_code == 302
    assert Membership.objects.get(workspace=team.workspace, user=tom).access_until is None
    event = AuditEvent.objects.get(action=Action.MEMBER_ADDED, target_id=str(tom.pk))
    assert "access_until" not in event.data


@pytest.mark.parametrize(
    ("role", "days", "code", "words"),
    [
        ("viewer", -1, "access_until_past", "has passed: choose today or a later day"),
        ("manager", 10, "access_until_manager", "A manager's access cannot end on a date"),
        ("viewer", None, "invalid_date", "Enter the end date as a real day, month and year."),
    ],
)
def test_a_refused_end_date_adds_no_one_and_says_why(
    team: Any, role: str, days: int | None, code: str, words: str
) -> None:
    tom = _person(email="tom.reed@example.org")
    day = (
        "2026-02-30" if days is None else (timezone.localdate() + timedelta(days=days)).isoformat()
    )
    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    with pytest.raises(ApplicationError) as exc:
        services.member_invite(
            actor=team.manager, access=access, email=tom.email, role=role, access_until=day
        )
    assert exc.value.code == code
    assert words in exc.value.message
    # The page says the same beside the form, which keeps the date typed; nothing changed.
    manager = Client()
    manager.force_login(team.manager)
    url = reverse("workspace_members", args=[team.workspace.pk])
    refused = manager.post(url, {"email": tom.email, "role": role, "access_until": day})
    assert refused.status_code == 400
    html = refused.content.decode()
    assert words in html.replace("&#x27;", "'")
    assert f'value="{day}"' in html
    assert not Membership.objects.filter(user=tom).exists()
    assert not Invitation.objects.exists()
    assert not Notification.objects.filter(recipient=tom).exists()
    assert not AuditEvent.objects.filter(action=Action.MEMBER_ADDED, target_id=str(tom.pk)).exists()
    assert mail.outbox == []


def test_someone_whose_access_ended_is_added_again_with_the_new_date(team: Any) -> None:
    tom = _person(email="tom.reed@example.org")
    Membership.objects.create(
        workspace=team.workspace,
        user=tom,
        role="viewer",
        access_until=timezone.localdate() - timedelta(days=2),
    )  # ended; the job has not removed it yet
    until = timezone.localdate() + timedelta(days=5)
    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    invited = services.member_invite(
        actor=team.manager, access=access, email=tom.email, role="commenter", access_until=until
    )
    assert invited.added is not None
    (membership,) = Membership.objects.filter(workspace=team.workspace, user=tom)
    assert (membership.role, membership.access_until) == ("commenter", until)


def test_a_new_address_gets_the_end_date_on_its_invitation(team: Any) -> None:
    until = timezone.localdate() + timedelta(days=14)
    api = Client()
    api.force_login(team.manager)
    url = f"/api/v1/workspaces/{team.workspace.pk}/invitations"
    invited = api.post(
        url,
        {"email": "new@partner.example", "role": "viewer", "access_until": until.isoformat()},
        content_type="application/json",
    )
    assert invited.status_code == 201
    assert Invitation.objects.get(email="new@partner.example").access_until == until
    someone = _person(email="someone@example.org")
    added = api.post(
        url,
        {"email": someone.email, "role": "viewer", "access_until": until.isoformat()},
        content_type="application/json",
    )
    assert added.status_code == 200
    assert Membership.objects.get(user=someone).access_until == until


# --- The form keeps what was typed --------------------------------------------------------


def test_the_members_page_keeps_what_was_typed_after_a_refusal(team: Any) -> None:
    manager = Client()
    manager.force_login(team.manager)
    url = reverse("workspace_members", args=[team.workspace.pk])
    refused = manager.post(url, {"email": "tom@example", "role": "viewer"})
    assert refused.status_code == 400
    html = refused.content.decode()
    assert 'value="tom@example"' in html
    assert '<option value="viewer" selected>' in html
    assert "Enter a valid email address." in html
    assert not Invitation.objects.exists()


def test_the_document_page_keeps_what_was_typed_after_a_refusal(team: Any) -> None:
    doc, page = _doc(team)
    manager = Client()
    manager.force_login(team.manager)
    refused = _invite_from_page(manager, team, doc, team.editor.email, "viewer")
    assert refused.status_code == 302
    assert refused["Location"] == f"{page}#invite"
    html = manager.get(page).content.decode()
    assert f'value="{team.editor.email}"' in html
    assert '<option value="viewer" selected>' in html
    assert '<details class="nhsuk-details" id="invite" open>' in html
    assert "is already a member of this workspace" in html
    # Once: the next visit starts empty.
    again = manager.get(page).content.decode()
    assert f'value="{team.editor.email}"' not in again
    assert Membership.objects.get(user=team.editor).role == "editor"


# --- Accepting an invitation opens what it was for, every way -------------------------------


def _issued_to(team: Any, email: str, page: str, label: str) -> Any:
    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    return services.invitation_create(
        actor=team.manager, access=access, email=email, role="commenter",
        open_path=page, open_label=label,
    )  # fmt: skip


def test_an_existing_account_signed_in_accepts_and_lands_on_the_document(team: Any) -> None:
    doc, page = _doc(team)
    issued = _issued_to(team, team.outsider.email, page, doc.name)  # sent before they had one
    person = Client()
    person.force_login(team.outsider)
    link = reverse("invitation_accept", args=[issued.token])
    shown = person.get(link).content.decode()
    assert f'name="next" value="{page}"' in shown
    assert 'Accept and open <span class="cr-break">Minutes 24 Nov.txt</span>' in shown
    accepted = person.post(link, {"next": page})
    assert accepted["Location"] == page


def test_an_existing_account_signed_out_signs_in_then_lands_on_the_document(team: Any) -> None:
    doc, page = _doc(team)
    issued = _issued_to(team, team.outsider.email, page, doc.name)
    person = Client()
    link = reverse("invitation_accept", args=[issued.token])
    first = person.get(issued.url.split("://", 1)[1].split("/", 1)[1].join(["/", ""]))
    assert (reverse("account_login") + "?next=" + link).encode() in first.content
    assert person.login(email=team.outsider.email, password=PASSWORD)
    # Back from signing in, without the link's ?next=: the invitation still knows its page.
    back = person.get(link).content.decode()
    assert f'name="next" value="{page}"' in back
    assert person.post(link, {"next": page})["Location"] == page


def test_a_forged_next_never_leaves_the_invited_workspace(team: Any) -> None:
    doc, page = _doc(team)
    issued = _issued_to(team, team.outsider.email, page, doc.name)
    person = Client()
    person.force_login(team.outsider)
    link = reverse("invitation_accept", args=[issued.token])
    accepted = person.post(link, {"next": "https://evil.example/"})
    assert accepted["Location"] == reverse("workspace_detail", args=[team.workspace.pk])
