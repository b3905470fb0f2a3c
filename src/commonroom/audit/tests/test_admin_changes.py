"""Changes made on the admin site are in the audit trail, with who, from where, the fields
changed and their values before and after (secrets named, never shown): making a guest a
superuser, adding a person, deleting a second factor, deleting sessions in bulk."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.usersessions.models import UserSession
from django.contrib import admin
from django.test import Client

from commonroom.accounts.models import User
from commonroom.accounts.tests.factories import GuestFactory, UserFactory
from commonroom.audit.admin_changes import unaudited
from commonroom.audit.models import AuditEvent
from commonroom.audit.selectors import audit_verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def administrator(settings: Any) -> Client:
    settings.COMMONROOM_MFA_REQUIRED = "none"
    dev = UserFactory.create(email="dev@example.org", is_superuser=True, is_staff=True)
    client = Client(HTTP_USER_AGENT="Admin browser", REMOTE_ADDR="192.0.2.9")
    client.force_login(dev)
    return client


def admin_events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def change_form(user: User, **changes: Any) -> dict[str, Any]:
    form = {
        "email": user.email,
        "full_name": user.full_name,
        "kind": user.kind,
        "is_active": "on" if user.is_active else "",
        "is_staff": "on" if user.is_staff else "",
        "is_superuser": "on" if user.is_superuser else "",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v != ""}


def test_every_model_on_the_admin_site_is_audited() -> None:
    assert admin.site._registry, "nothing registered"
    assert unaudited() == []


def test_making_a_guest_a_superuser_is_audited_with_the_fields_changed(administrator) -> None:
    guest = GuestFactory.create(email="guest@partner.example", full_name="Aisha Okafor")
    url = f"/admin/accounts/user/{guest.pk}/change/"
    response = administrator.post(url, change_form(guest, is_superuser="on", is_staff="on"))
    assert response.status_code == 302, response.content.decode()[:2000]
    guest.refresh_from_db()
    assert guest.is_superuser
    (event,) = admin_events("admin.changed")
    assert event.actor_email == "dev@example.org"
    assert (event.ip, event.user_agent) == ("192.0.2.9", "Admin browser")
    assert event.target_type == "admin:accounts.User"
    assert event.target_id == str(guest.pk)
    assert event.data["fields"]["is_superuser"] == ["False", "True"]
    assert event.data["fields"]["is_staff"] == ["False", "True"]
    assert audit_verify().ok


def test_adding_a_person_is_audited_without_their_password(administrator) -> None:
    response = administrator.post(
        "/admin/accounts/user/add/",
        {
            "email": "new.person@example.org",
            "full_name": "New Person",
            "kind": "staff",
            "password1": "a-long-new-passphrase-1",
            "password2": "a-long-new-passphrase-1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    (event,) = admin_events("admin.added")
    assert event.target_id == str(User.objects.get(email="new.person@example.org").pk)
    assert "a-long-new-passphrase-1" not in str(event.data)
    fields = event.data["fields"]
    assert fields.get("password1") == ["(hidden)", "(hidden)"]
    assert fields["email"][1] == "new.person@example.org"


def test_deleting_a_second_factor_and_sessions_in_bulk_is_audited(administrator) -> None:
    person = UserFactory.create(email="tom@example.org")
    TOTP.activate(person, generate_totp_secret())
    factor = Authenticator.objects.get(user=person, type="totp")
    url = f"/admin/mfa/authenticator/{factor.pk}/delete/"
    assert administrator.post(url, {"post": "yes"}).status_code == 302
    assert not Authenticator.objects.filter(pk=factor.pk).exists()
    (deleted,) = admin_events("admin.deleted")
    assert deleted.target_type == "admin:mfa.Authenticator"
    sessions = [
        UserSession.objects.create(user=person, ip="192.0.2.1", session_key=f"k{n}" * 10)
        for n in range(2)
    ]
    response = administrator.post(
        "/admin/usersessions/usersession/",
        {
            "action": "delete_selected",
            "_selected_action": [s.pk for s in sessions],
            "post": "yes",
        },
    )
    assert response.status_code == 302
    assert not UserSession.objects.filter(pk__in=[s.pk for s in sessions]).exists()
    bulk = [e for e in admin_events("admin.deleted") if e.target_type.endswith("UserSession")]
    assert sorted(e.target_id for e in bulk) == sorted(str(s.pk) for s in sessions)
    assert audit_verify().ok
