"""Sessions expire, and "sign out everywhere" ends every session of the person."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.audit.models import Action, AuditEvent


def sign_in(user) -> Client:
    c = Client()
    response = c.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return c


def can_open_home(c: Client) -> bool:
    response = c.get(reverse("home"))
    if response.status_code == 302:
        assert response["Location"].startswith(reverse("account_login"))
        return False
    assert response.status_code == 200
    return True


@pytest.fixture
def tom(db):
    return UserFactory.create(email="tom@example.org")


def test_sign_out_everywhere_ends_every_session(tom):
    # Given Tom is signed in on his desk PC and his phone, and Sam on hers
    desk, phone = sign_in(tom), sign_in(tom)
    sam = sign_in(UserFactory.create(email="sam@example.org"))
    assert can_open_home(desk) and can_open_home(phone) and can_open_home(sam)

    # When Tom signs out everywhere from his phone
    response = phone.post(reverse("account_sign_out_everywhere"))

    # Then both his sessions are over, and Sam's is not
    assert response.status_code == 302
    assert response["Location"] == reverse("account_login")
    assert not can_open_home(phone)
    assert not can_open_home(desk)
    assert can_open_home(sam)
    event = AuditEvent.objects.get(action=Action.SESSIONS_ENDED)
    assert event.actor_id == tom.pk
    assert event.data == {"sessions": 2}


def test_sign_out_everywhere_needs_a_post(tom):
    desk = sign_in(tom)
    assert desk.get(reverse("account_sign_out_everywhere")).status_code == 405
    assert can_open_home(desk)


def test_security_page_lists_the_sessions(tom):
    desk = sign_in(tom)
    sign_in(tom)
    page = desk.get(reverse("account_security"))
    assert page.status_code == 200
    assert len(page.context["sessions"]) == 2


def test_session_lasts_the_configured_age(tom):
    assert 0 < settings.SESSION_COOKIE_AGE <= 24 * 3600
    desk = sign_in(tom)
    session = desk.session
    assert session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    assert session.get_expire_at_browser_close()  # and the cookie does not outlive the browser
    stored = Session.objects.get(session_key=session.session_key)
    expected = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert abs((stored.expire_date - expected).total_seconds()) < 60


def test_expired_session_no_longer_signs_in(tom):
    desk = sign_in(tom)
    Session.objects.filter(session_key=desk.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    assert not can_open_home(desk)


def test_session_age_is_a_setting(tom, settings):
    settings.SESSION_COOKIE_AGE = 600
    desk = sign_in(tom)
    stored = Session.objects.get(session_key=desk.session.session_key)
    remaining = (stored.expire_date - timezone.now()).total_seconds()
    assert 540 < remaining <= 600


def test_sign_out_everywhere_is_told_to_followers_once_ended_before_its_audit_row(tom):
    """accounts.hooks: live follows it (closing the person's sockets) without accounts
    importing live."""
    from django.db import connection

    from commonroom.accounts import hooks
    from commonroom.accounts.services import sessions_end_all

    sign_in(tom), sign_in(tom)
    seen: list[tuple[hooks.SignedOutEverywhere, bool, int, int]] = []

    def note(change: hooks.SignedOutEverywhere) -> None:
        open_sessions = Session.objects.filter(expire_date__gt=timezone.now()).count()
        audited = AuditEvent.objects.filter(action=Action.SESSIONS_ENDED).count()
        seen.append((change, connection.in_atomic_block, open_sessions, audited))

    with hooks.subscribed(hooks.SignedOutEverywhere, note):
        assert sessions_end_all(actor=tom) == 2
    assert seen == [(hooks.SignedOutEverywhere(actor=tom, sessions=2), True, 0, 0)]
    assert AuditEvent.objects.filter(action=Action.SESSIONS_ENDED).count() == 1


def test_the_session_made_by_accepting_an_invitation_is_listed_and_ended_with_the_others(team):
    from commonroom.accounts.models import User
    from commonroom.workspaces.selectors import workspace_access
    from commonroom.workspaces.services import invitation_create

    # Given Aisha accepts her invitation on her phone, which makes her account and signs her in
    issued = invitation_create(
        actor=team.manager,
        access=workspace_access(user=team.manager, workspace_id=team.workspace.pk),
        email="aisha@partner.org",
        role="commenter",
    )
    phone = Client()
    accepted = phone.post(
        reverse("invitation_accept", args=[issued.token]),
        {"full_name": "Aisha Khan", "password": PASSWORD},
    )
    assert accepted.status_code == 302
    assert accepted["Location"] == reverse("workspace_detail", args=[team.workspace.pk])
    assert can_open_home(phone)
    # and later signs in on her laptop
    aisha = User.objects.get(email="aisha@partner.org")
    laptop = sign_in(aisha)

    # Then "Where you are signed in" lists both sessions
    page = laptop.get(reverse("account_security"))
    listed = {s.session_key for s in page.context["sessions"]}
    assert listed == {phone.session.session_key, laptop.session.session_key}

    # When she signs out everywhere from her laptop, the phone is signed out too
    assert laptop.post(reverse("account_sign_out_everywhere")).status_code == 302
    assert not can_open_home(laptop)
    assert not can_open_home(phone)
    event = AuditEvent.objects.get(action=Action.SESSIONS_ENDED)
    assert event.data == {"sessions": 2}
