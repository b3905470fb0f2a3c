"""A code by email as a second factor, from the outside: set up from its page, asked for at
sign-in after the password (wrong, out of time, used, tried too often, too many sent), never
asked beside allauth's own second step, enough for the policy, confirmed again for an approval,
turned off; every step audited."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from typing import Any

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from commonroom.accounts.exceptions import EmailCodeRefused
from commonroom.accounts.models import EmailCode, EmailCodeFactor, EmailCodePurpose
from commonroom.accounts.services import (
    EMAIL_CODE_ATTEMPTS,
    EMAIL_CODES_PER_HOUR,
    email_code_check,
    email_code_send,
)
from commonroom.accounts.tests.factories import PASSWORD, GuestFactory, UserFactory
from commonroom.accounts.tests.test_mfa import current_code
from commonroom.audit.models import Action, AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def aisha(db: Any) -> Any:
    """An external guest whose second factor is a code by email."""
    person = GuestFactory.create(email="aisha@partner.example", full_name="Aisha Okafor")
    EmailCodeFactor.objects.create(user=person)
    return person


def password_step(client: Client, user: Any) -> Any:
    return client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})


def signed_in(client: Client) -> bool:
    return client.get(reverse("home")).status_code == 200


def last_code(to: str) -> str:
    """The six digits of the newest email sent to ``to``."""
    sent = [m for m in mail.outbox if m.to == [to]]
    assert sent, f"no email to {to}"
    found = re.search(r"^(\d{6})$", str(sent[-1].body), re.M)
    assert found is not None, sent[-1].body
    assert found.group(1) in sent[-1].subject
    return found.group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def code_step(client: Client, code: str) -> Any:
    return client.post(reverse("account_email_code"), {"code": code})


# --- Signing in -----------------------------------------------------------------------------


def test_sign_in_asks_for_the_code_emailed_and_the_right_code_gets_in(settings, aisha):
    settings.COMMONROOM_MFA_REQUIRED = "all"
    client = Client()

    # When Aisha gives her password
    response = password_step(client, aisha)

    # Then she is asked for the code just emailed to her, and nothing is open yet
    assert response["Location"] == reverse("account_email_code")
    page = client.get(reverse("account_email_code")).content.decode()
    assert "We sent a 6-digit code to" in page and aisha.email in page
    assert not signed_in(client)
    assert not AuditEvent.objects.filter(action=Action.LOGIN).exists()
    code = last_code(aisha.email)
    # Only a keyed hash of the code is stored
    stored = EmailCode.objects.get(user=aisha)
    assert code not in stored.code_hash and stored.purpose == EmailCodePurpose.SIGN_IN

    # When she types it (spaces as a phone may add them do not matter)
    response = code_step(client, f"{code[:3]} {code[3:]}")

    # Then she is in, and the sign-in is audited with the second factor it used
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert signed_in(client)
    login = AuditEvent.objects.get(action=Action.LOGIN)
    assert (login.actor_id, login.data) == (aisha.pk, {"second_factor": "email_code"})
    assert EmailCodeFactor.objects.get(user=aisha).last_used_at is not None


def test_a_wrong_code_does_not_get_in_says_so_and_is_audited(aisha):
    client = Client()
    password_step(client, aisha)
    code = last_code(aisha.email)

    response = code_step(client, wrong(code))

    assert response.status_code == 400
    assert "That code is not right" in response.content.decode()
    assert f"({EMAIL_CODE_ATTEMPTS - 1} tries left)" in response.content.decode()
    assert not signed_in(client)
    failed = AuditEvent.objects.get(action=Action.LOGIN_FAILED)
    assert failed.actor_id == aisha.pk
    assert failed.data == {"reason": "second_factor", "type": "email_code"}
    # The right code still works after one slip
    code_step(client, code)
    assert signed_in(client)


def test_a_code_out_of_time_is_refused_and_a_new_one_works(aisha):
    client = Client()
    password_step(client, aisha)
    code = last_code(aisha.email)
    # As if the email had been sent eleven minutes ago
    past = timezone.now() - timedelta(minutes=11)
    EmailCode.objects.filter(user=aisha).update(created_at=past, expires_at=past)

    response = code_step(client, code)

    assert response.status_code == 400
    shown = response.content.decode()
    assert "more than 10 minutes old" in shown and "Send me a new code" in shown
    assert not signed_in(client)
    # A new code, asked for on the page, works
    assert client.post(reverse("account_email_code"), {"action": "send"}).status_code == 302
    fresh = last_code(aisha.email)
    code_step(client, fresh)
    assert signed_in(client)


def test_a_used_code_does_not_work_again(aisha):
    """A code is tied to the sign-in it was sent for and works once: after signing in with it
    and out again, a new sign-in is not opened by the same digits."""
    client = Client()
    password_step(client, aisha)
    code = last_code(aisha.email)
    code_step(client, code)
    assert signed_in(client)
    client.post(reverse("account_logout"))

    password_step(client, aisha)
    response = code_step(client, code)

    assert response.status_code == 400
    assert not signed_in(client)
    used = EmailCode.objects.filter(user=aisha, used_at__isnull=False)
    assert used.count() == 1


def test_the_same_code_checked_twice_is_accepted_once(aisha):
    sent = email_code_send(user=aisha, purpose=EmailCodePurpose.SIGN_IN)
    code = last_code(aisha.email)
    email_code_check(user=aisha, code_id=sent.id, code=code, purpose=EmailCodePurpose.SIGN_IN)
    with pytest.raises(EmailCodeRefused) as refused:
        email_code_check(user=aisha, code_id=sent.id, code=code, purpose=EmailCodePurpose.SIGN_IN)
    assert refused.value.code == "code_used"
    # Nor for another purpose than it was sent for
    other = email_code_send(user=aisha, purpose=EmailCodePurpose.SET_UP)
    with pytest.raises(EmailCodeRefused):
        email_code_check(
            user=aisha,
            code_id=other.id,
            code=last_code(aisha.email),
            purpose=EmailCodePurpose.SIGN_IN,
        )


@pytest.mark.django_db(transaction=True)
def test_a_right_code_raced_by_several_requests_at_once_gets_one_in(db: Any) -> None:
    """Each try is counted and the code marked used in the database (a conditional UPDATE), so
    server processes racing with the same code let one through: here, threads with their own
    connections, as separate processes would be."""
    person = GuestFactory.create(email="lee@partner.example")
    sent = email_code_send(user=person, purpose=EmailCodePurpose.SIGN_IN)
    code = last_code(person.email)
    results: list[str] = []
    start = threading.Barrier(4)

    def attempt() -> None:
        start.wait()
        try:
            email_code_check(
                user=person, code_id=sent.id, code=code, purpose=EmailCodePurpose.SIGN_IN
            )
            results.append("in")
        except EmailCodeRefused as exc:
            results.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["code_used", "code_used", "code_used", "in"]


def test_too_many_wrong_codes_end_that_code_even_for_the_right_digits(aisha):
    client = Client()
    password_step(client, aisha)
    code = last_code(aisha.email)
    for _ in range(EMAIL_CODE_ATTEMPTS - 1):
        assert code_step(client, wrong(code)).status_code == 400

    last = code_step(client, wrong(code)).content.decode()
    assert "tried too many times" in last
    response = code_step(client, code)

    assert response.status_code == 400
    assert "tried too many times" in response.content.decode()
    assert not signed_in(client)
    failures = AuditEvent.objects.filter(action=Action.LOGIN_FAILED, actor_id=aisha.pk)
    assert failures.count() == EMAIL_CODE_ATTEMPTS
    # A new code, though, works
    client.post(reverse("account_email_code"), {"action": "send"})
    code_step(client, last_code(aisha.email))
    assert signed_in(client)


def test_no_more_than_a_few_codes_an_hour_are_sent(aisha):
    client = Client()
    password_step(client, aisha)
    for _ in range(EMAIL_CODES_PER_HOUR - 1):
        client.post(reverse("account_email_code"), {"action": "send"})
    assert len(mail.outbox) == EMAIL_CODES_PER_HOUR

    response = client.post(reverse("account_email_code"), {"action": "send"})

    assert response.status_code == 429
    assert "codes in the last hour" in response.content.decode()
    assert len(mail.outbox) == EMAIL_CODES_PER_HOUR
    # And a new sign-in sends none either: it ends, saying why
    other = Client()
    refused = password_step(other, aisha)
    assert refused.status_code == 429 and "codes in the last hour" in refused.content.decode()
    assert len(mail.outbox) == EMAIL_CODES_PER_HOUR
    assert not signed_in(other)


def test_the_code_page_is_only_for_a_sign_in_past_its_password(aisha):
    client = Client()
    response = client.get(reverse("account_email_code"))
    assert response["Location"] == reverse("account_login")
    assert client.post(reverse("account_email_code"), {"code": "123456"})["Location"] == (
        reverse("account_login")
    )
    assert not mail.outbox


# --- With allauth's factors: one asks, never both ---------------------------------------------


@pytest.fixture
def both(aisha: Any) -> tuple[Any, str]:
    """Aisha, with an authenticator app as well as a code by email."""
    secret = generate_totp_secret()
    TOTP.activate(aisha, secret)
    return aisha, secret


def test_with_an_authenticator_app_as_well_only_allauth_asks(both):
    person, secret = both
    client = Client()

    assert password_step(client, person)["Location"] == reverse("mfa_authenticate")
    assert not mail.outbox
    response = client.post(reverse("mfa_authenticate"), {"code": current_code(secret)})

    assert response["Location"] == reverse("home")
    assert signed_in(client)
    assert not mail.outbox
    login = AuditEvent.objects.get(action=Action.LOGIN)
    assert login.data == {"second_factor": "totp"}


def test_email_me_a_code_instead_of_the_app(both):
    person, _secret = both
    client = Client()
    password_step(client, person)
    assert "Email me a code instead" in client.get(reverse("mfa_authenticate")).content.decode()

    response = client.post(reverse("account_email_code_instead"))

    assert response["Location"] == reverse("account_email_code")
    assert not signed_in(client)
    code_step(client, last_code(person.email))
    assert signed_in(client)
    assert AuditEvent.objects.get(action=Action.LOGIN).data == {"second_factor": "email_code"}


def test_instead_is_refused_before_the_password_and_to_a_person_without_a_code_by_email(db):
    # Before any password: nothing to switch
    assert Client().post(reverse("account_email_code_instead"))["Location"] == reverse(
        "account_login"
    )
    # A person with only an authenticator app cannot skip it this way
    person = UserFactory.create(email="tom@example.org")
    TOTP.activate(person, generate_totp_secret())
    client = Client()
    password_step(client, person)
    response = client.post(reverse("account_email_code_instead"))
    assert response["Location"] == reverse("account_login")
    assert not signed_in(client)
    assert not mail.outbox


def test_a_person_without_a_code_by_email_is_not_asked_for_one(db):
    person = UserFactory.create(email="tom@example.org")
    client = Client()
    assert password_step(client, person)["Location"] == reverse("home")
    assert signed_in(client)
    assert not mail.outbox


# --- The policy ----------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["all", "staff"])
def test_a_code_by_email_satisfies_the_policy(settings, policy):
    settings.COMMONROOM_MFA_REQUIRED = policy
    person = UserFactory.create(email="tom@example.org")
    client = Client()
    client.force_login(person)
    assert client.get(reverse("home"))["Location"].startswith(reverse("account_second_factor"))
    assert client.get("/api/v1/me").status_code == 403

    EmailCodeFactor.objects.create(user=person)

    assert client.get(reverse("home")).status_code == 200
    assert client.get("/api/v1/me").status_code == 200


# --- Setting it up, turning it off ----------------------------------------------------------


def test_setting_it_up_checks_the_email_arrives_then_leads_back_and_is_audited(settings):
    # Given Tom, who must set up a second factor, signed in with his password a moment ago,
    # and who was going to a page of his workspaces
    settings.COMMONROOM_MFA_REQUIRED = "all"
    tom = UserFactory.create(email="tom@example.org")
    client = Client()
    password_step(client, tom)
    sent_to = client.get(reverse("workspace_create"))["Location"]
    assert sent_to == reverse("account_second_factor") + "?next=%2Fw%2Fnew%2F"
    choices = client.get(sent_to).content.decode()
    assert choices.index("screen lock") < choices.index("code by email")
    assert choices.index("code by email") < choices.index("authenticator app")

    # When he asks for codes by email (not asked for his password again), and a code is sent
    setup = reverse("account_email_code_setup")
    assert "Send me a code" in client.get(setup).content.decode()
    client.post(setup, {"action": "send"})
    code = last_code(tom.email)
    assert "We sent a code to" in client.get(setup).content.decode()

    # A wrong code is refused, and nothing is set up
    assert client.post(setup, {"code": wrong(code)}).status_code == 400
    assert not EmailCodeFactor.objects.filter(user=tom).exists()

    # When he types the right one
    response = client.post(setup, {"code": code})

    # Then it is on, audited, and "continue" takes him where he was going
    assert EmailCodeFactor.objects.filter(user=tom).exists()
    change = AuditEvent.objects.get(action=Action.MFA_CHANGED)
    assert (change.actor_id, change.data) == (tom.pk, {"type": "email_code", "added": True})
    assert response["Location"] == reverse("account_second_factor_continue")
    assert client.get(response["Location"])["Location"] == reverse("workspace_create")
    assert client.get(reverse("workspace_create")).status_code == 200
    # (the way back is used once)
    assert client.get(reverse("account_second_factor_continue"))["Location"] == reverse("home")


def test_a_session_that_did_not_sign_in_minutes_ago_confirms_before_setting_it_up(db):
    tom = UserFactory.create(email="tom@example.org")
    client = Client()
    client.force_login(tom)  # no sign-in recorded in this session
    response = client.get(reverse("account_email_code_setup"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))


def test_the_way_back_goes_only_to_this_site(db):
    tom = UserFactory.create(email="tom@example.org")
    client = Client()
    client.force_login(tom)
    for elsewhere in ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"]:
        client.get(reverse("account_second_factor"), {"next": elsewhere})
        assert client.get(reverse("account_second_factor_continue"))["Location"] == reverse("home")


def test_turning_it_off_is_audited_and_the_policy_then_asks_again(settings, aisha):
    settings.COMMONROOM_MFA_REQUIRED = "all"
    client = Client()
    password_step(client, aisha)
    code_step(client, last_code(aisha.email))
    assert "A code by email" in client.get(reverse("account_security")).content.decode()

    response = client.post(reverse("account_email_code_remove"))

    assert response["Location"] == reverse("account_security")
    assert not EmailCodeFactor.objects.filter(user=aisha).exists()
    change = AuditEvent.objects.get(action=Action.MFA_CHANGED)
    assert change.data == {"type": "email_code", "added": False}
    assert client.get(reverse("home"))["Location"].startswith(reverse("account_second_factor"))


def test_an_administrator_can_take_away_a_code_by_email_audited(settings, aisha):
    """For a person who lost that mailbox: the admin site deletes the factor (it cannot add
    one), and the change is in the trail."""
    settings.COMMONROOM_MFA_REQUIRED = "none"
    dev = UserFactory.create(email="dev@example.org", is_superuser=True, is_staff=True)
    admin = Client()
    admin.force_login(dev)
    factor = EmailCodeFactor.objects.get(user=aisha)
    assert admin.get("/admin/accounts/emailcodefactor/add/").status_code == 403

    response = admin.post(f"/admin/accounts/emailcodefactor/{factor.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not EmailCodeFactor.objects.filter(user=aisha).exists()
    (deleted,) = AuditEvent.objects.filter(action="admin.deleted")
    assert deleted.target_type == "admin:accounts.EmailCodeFactor"
