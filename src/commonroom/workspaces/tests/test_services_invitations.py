"""Invitations: sent by email, used once, expire, can be withdrawn; accepting may create a guest."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher
from django.urls import reverse
from django.utils import timezone

from commonroom.accounts.models import User
from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.audit.models import Action, AuditEvent
from commonroom.core.exceptions import (
    ApplicationError,
    Conflict,
    Gone,
    NotFound,
    PermissionDenied,
)
from commonroom.workspaces import services
from commonroom.workspaces.models import Invitation, Membership, Role, role_with_article
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.tests.factories import make_workspace

GUEST_EMAIL = "aisha@example.org"
GUEST_PASSWORD = "a-long-guest-passphrase"


def invite(team, email=GUEST_EMAIL, role="commenter"):
    return services.invitation_create(
        actor=team.manager,
        access=workspace_access(user=team.manager, workspace_id=team.workspace.pk),
        email=email,
        role=role,
    )


def accept(token, **kwargs):
    kwargs.setdefault("full_name", "Aisha Khan")
    kwargs.setdefault("password", GUEST_PASSWORD)
    return services.invitation_accept(token=token, **kwargs)


# --- Sending -----------------------------------------------------------------------------------


def test_invitation_email_carries_a_working_link(
    team, smtp_server, client, django_capture_on_commit_callbacks
):
    # Given a manager invites Aisha as a commenter
    with django_capture_on_commit_callbacks(execute=True):
        issued = invite(team, email=" Aisha@Example.org ")

    # Then one email reaches the SMTP server, addressed to her, with the link in its body
    [message] = smtp_server.wait_for(1)
    assert message["To"] == GUEST_EMAIL
    assert "Weekly budget meeting" in message["Subject"]
    body = smtp_server.body(message)
    urls = re.findall(r"https?://\S+", body)
    assert urls == [issued.url]
    # The token is in the email, never in the database.
    token = urlsplit(urls[0]).path.rstrip("/").rsplit("/", 1)[-1]
    assert not Invitation.objects.filter(token_hash=token).exists()
    assert issued.invitation.token_hash != token

    # When she opens the link and creates her account
    path = urlsplit(urls[0]).path
    page = client.get(path)
    assert page.status_code == 200
    assert b"Join Weekly budget meeting" in page.content
    response = client.post(path, {"full_name": "Aisha Khan", "password": GUEST_PASSWORD})

    # Then she is signed in and lands in the workspace as a commenter
    assert response.status_code == 302
    assert response["Location"] == reverse("workspace_detail", args=[team.workspace.pk])
    assert client.get(response["Location"]).status_code == 200
    membership = Membership.objects.get(workspace=team.workspace, user__email=GUEST_EMAIL)
    assert membership.role == "commenter"


@pytest.mark.parametrize(
    ("role", "said"),
    [
        ("viewer", "a viewer"),
        ("commenter", "a commenter"),
        ("editor", "an editor"),
        ("manager", "a manager"),
    ],
)
def test_the_email_and_the_page_name_the_role_with_its_article(
    team, smtp_server, client, django_capture_on_commit_callbacks, role, said
):
    with django_capture_on_commit_callbacks(execute=True):
        issued = invite(team, role=role)

    [message] = smtp_server.wait_for(1)
    body = " ".join(smtp_server.body(message).split())
    assert f'to the workspace "Weekly budget meeting" on Commonroom, as {said}.' in body
    page = client.get(urlsplit(issued.url).path).content.decode()
    assert f"to join as <strong>{said}</strong>." in page


def test_every_role_has_its_article():
    assert {role: role_with_article(role) for role in Role.values} == {
        "viewer": "a viewer",
        "commenter": "a commenter",
        "editor": "an editor",
        "manager": "a manager",
    }


def test_invitation_is_audited_and_not_emailed_before_commit(team, smtp_server):
    issued = invite(team)
    event = AuditEvent.objects.get(action=Action.INVITATION_SENT)
    assert (event.workspace_id, event.target_label) == (team.workspace.pk, GUEST_EMAIL)
    assert event.data["role"] == "commenter"
    # The transaction of this test never commits, so nothing may have been sent.
    assert issued.invitation.status == "pending"
    assert smtp_server.messages == []


@pytest.mark.parametrize("role", ["viewer", "commenter", "editor"])
def test_only_managers_invite(team, role):
    user = team.by_role[role]
    with pytest.raises(PermissionDenied):
        services.invitation_create(
            actor=user,
            access=workspace_access(user=user, workspace_id=team.workspace.pk),
            email=GUEST_EMAIL,
            role="viewer",
        )
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    ("email", "role"),
    [("not-an-address", "viewer"), (GUEST_EMAIL, "owner"), ("", "viewer")],
)
def test_invalid_invitation_is_refused(team, email, role):
    with pytest.raises(ApplicationError):
        invite(team, email=email, role=role)
    assert not Invitation.objects.exists()


def test_inviting_a_member_again_is_a_conflict(team):
    with pytest.raises(Conflict):
        invite(team, email=team.viewer.email)


def test_a_new_invitation_replaces_the_pending_one(team):
    first = invite(team)
    second = invite(team, role="editor")
    with pytest.raises(Gone):
        accept(first.token)
    membership = accept(second.token)
    assert membership.role == "editor"


# --- Using the link ----------------------------------------------------------------------------


def test_accepting_creates_a_guest_account_with_an_argon2_password(team):
    issued = invite(team)

    membership = accept(issued.token, full_name="  Aisha   Khan ")

    guest = User.objects.get(email=GUEST_EMAIL)
    assert membership.user == guest
    assert guest.kind == "guest"
    assert guest.is_guest
    assert guest.full_name == "Aisha Khan"
    assert identify_hasher(guest.password).algorithm == "argon2"
    assert guest.password.startswith("argon2$argon2id$")
    assert check_password(GUEST_PASSWORD, guest.password)
    issued.invitation.refresh_from_db()
    assert issued.invitation.status == "accepted"
    assert issued.invitation.accepted_by == guest
    event = AuditEvent.objects.get(action=Action.INVITATION_ACCEPTED)
    assert event.actor_id == guest.pk
    assert event.data == {"role": "commenter", "new_account": True}


def test_guest_sees_only_the_workspace_they_were_invited_to(team, client):
    other = make_workspace(manager=team.manager, name="Remuneration committee")
    membership = accept(invite(team).token)
    client.force_login(membership.user)
    home = client.get(reverse("home"))
    assert b"Weekly budget meeting" in home.content
    assert b"Remuneration committee" not in home.content
    assert client.get(reverse("workspace_detail", args=[other.pk])).status_code == 404


def test_a_weak_password_creates_nothing(team):
    issued = invite(team)
    with pytest.raises(ApplicationError) as exc:
        accept(issued.token, password="short")
    assert exc.value.code == "weak_password"
    assert not User.objects.filter(email=GUEST_EMAIL).exists()
    issued.invitation.refresh_from_db()
    assert issued.invitation.status == "pending"


def test_link_is_single_use(team, client):
    issued = invite(team)
    accept(issued.token)

    with pytest.raises(Gone):
        accept(issued.token)
    with pytest.raises(Gone):
        services.invitation_accept(token=issued.token, user=User.objects.get(email=GUEST_EMAIL))
    # A replayed link is refused on the page as well.
    url = reverse("invitation_accept", args=[issued.token])
    assert client.get(url).status_code == 410
    assert client.post(url, {"full_name": "X", "password": GUEST_PASSWORD}).status_code == 410
    assert Membership.objects.filter(user__email=GUEST_EMAIL).count() == 1


def test_expired_link_is_gone(team, client):
    issued = invite(team)
    Invitation.objects.filter(pk=issued.invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(Gone, match="expired"):
        accept(issued.token)
    assert client.get(reverse("invitation_accept", args=[issued.token])).status_code == 410
    assert not User.objects.filter(email=GUEST_EMAIL).exists()


def test_invitation_expires_after_the_configured_days(team, settings):
    settings.COMMONROOM_INVITATION_DAYS = 3
    before = timezone.now()
    issued = invite(team)
    assert (
        before + timedelta(days=3)
        <= issued.invitation.expires_at
        <= timezone.now() + timedelta(days=3)
    )


def test_revoked_link_is_gone(team, client):
    issued = invite(team)
    services.invitation_revoke(
        actor=team.manager,
        access=workspace_access(user=team.manager, workspace_id=team.workspace.pk),
        invitation_id=issued.invitation.pk,
    )
    assert AuditEvent.objects.filter(action=Action.INVITATION_REVOKED).exists()
    with pytest.raises(Gone, match="withdrawn"):
        accept(issued.token)
    assert client.get(reverse("invitation_accept", args=[issued.token])).status_code == 410
    assert not User.objects.filter(email=GUEST_EMAIL).exists()


@pytest.mark.parametrize("token", ["", "forged", "x" * 43])
def test_unknown_token_is_not_found(team, client, token):
    invite(team)
    with pytest.raises(NotFound):
        accept(token)
    if token:
        assert client.get(reverse("invitation_accept", args=[token])).status_code == 404


def test_signed_in_person_with_another_address_is_refused(team, client):
    issued = invite(team)
    with pytest.raises(PermissionDenied):
        services.invitation_accept(token=issued.token, user=team.outsider)
    assert not Membership.objects.filter(workspace=team.workspace, user=team.outsider).exists()
    # Through the page: refused with an explanation, and the link still works afterwards.
    client.force_login(team.outsider)
    response = client.post(reverse("invitation_accept", args=[issued.token]))
    assert response.status_code == 400
    assert b"Sign out first" in response.content
    issued.invitation.refresh_from_db()
    assert issued.invitation.status == "pending"


def test_signed_in_person_with_the_right_address_joins(team):
    issued = invite(team, email=team.outsider.email.upper(), role="viewer")
    membership = services.invitation_accept(token=issued.token, user=team.outsider)
    assert (membership.user, membership.role) == (team.outsider, "viewer")
    event = AuditEvent.objects.get(action=Action.INVITATION_ACCEPTED)
    assert event.data["new_account"] is False


def test_person_with_an_account_must_sign_in_first(team, client):
    existing = UserFactory.create(email="tom.other@example.org")
    issued = invite(team, email="tom.other@example.org")

    with pytest.raises(ApplicationError) as exc:
        accept(issued.token)
    assert exc.value.code == "sign_in_first"
    existing.refresh_from_db()
    assert existing.check_password(PASSWORD)  # the password was not replaced
    assert not Membership.objects.filter(user=existing).exists()

    # The page sends them to sign in and back to the link.
    page = client.get(reverse("invitation_accept", args=[issued.token]))
    assert page.status_code == 200
    login_url = (
        reverse("account_login") + "?next=" + reverse("invitation_accept", args=[issued.token])
    )
    assert login_url.encode() in page.content
    refused = client.post(
        reverse("invitation_accept", args=[issued.token]),
        {"full_name": "Impostor", "password": GUEST_PASSWORD},
    )
    assert refused.status_code == 400
    assert not Membership.objects.filter(user=existing).exists()


def test_invitee_from_a_staff_domain_gets_a_staff_account(team, settings):
    settings.COMMONROOM_STAFF_EMAIL_DOMAINS = {"trust.nhs.uk"}
    staff = accept(invite(team, email="nurse.lead@Trust.NHS.uk").token, full_name="Lee Brown")
    guest = accept(invite(team, email="ned@example.org").token)
    assert staff.user.kind == "staff"
    assert guest.user.kind == "guest"


def test_an_email_that_cannot_be_sent_is_shown_to_the_manager(
    team, client, settings, django_capture_on_commit_callbacks
):
    # Nothing listens on this port: the SMTP connection is refused.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    with django_capture_on_commit_callbacks(execute=True):
        issued = invite(team)
    issued.invitation.refresh_from_db()
    assert issued.invitation.status == "not delivered"
    client.force_login(team.manager)
    page = client.get(reverse("workspace_members", args=[team.workspace.pk]))
    assert b"Email not delivered" in page.content
    assert issued.token.encode() not in page.content
