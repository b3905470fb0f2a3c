"""The pages of access that ends: the people page's "Access ends in 5 days" and its extend form,
the invitation form's date, and the external guests page (several removed after one
confirmation). Refusals are sentences on the page and change nothing; outsiders get 404."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from commonroom.accounts.tests.factories import GuestFactory
from commonroom.audit.models import Action, AuditEvent
from commonroom.workspaces.models import Invitation, Membership
from commonroom.workspaces.tests.clock import Clock, local, stopped_clock
from commonroom.workspaces.tests.factories import add_member, make_workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch: Any) -> Clock:
    return stopped_clock(monkeypatch, local(date(2027, 1, 25), 12))


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def said(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def aisha(team: Any, clock: Clock) -> Membership:
    guest = add_member(team.workspace, GuestFactory(email="aisha@board.example.net"), "commenter")
    membership = Membership.objects.get(workspace=team.workspace, user=guest)
    membership.access_until = date(2027, 1, 30)
    membership.save()
    return membership


def test_managers_see_when_access_ends_and_extend_it(team: Any, aisha: Membership) -> None:
    people = reverse("workspace_members", args=[team.workspace.pk])
    page = browser(team.manager).get(people).content.decode()
    assert "Access ends in 5 days" in page
    assert "last day 30 Jan 2027" in page
    assert f'id="until-{aisha.pk}"' in page
    assert "Europe/London time" in page  # the invitation form says when a day ends
    # Nobody else is shown it.
    assert "Access ends in" not in browser(team.editor).get(people).content.decode()

    response = browser(team.manager).post(
        reverse("member_update", args=[team.workspace.pk, aisha.pk]),
        {"action": "access_until", "access_until": "2027-03-31"},
    )

    assert response.status_code == 302
    aisha.refresh_from_db()
    assert aisha.access_until == date(2027, 3, 31)
    assert said(response) == [
        f"{aisha.user.display_name}'s access now ends at the end of 31 March 2027."
    ]
    assert AuditEvent.objects.filter(action=Action.MEMBER_ACCESS_EXTENDED).count() == 1


def test_a_past_date_is_a_sentence_and_changes_nothing(team: Any, aisha: Membership) -> None:
    response = browser(team.manager).post(
        reverse("member_update", args=[team.workspace.pk, aisha.pk]),
        {"action": "access_until", "access_until": "2027-01-01"},
    )
    assert response.status_code == 302
    assert said(response) == [
        "The end date 1 January 2027 has passed: choose today or a later day."
    ]
    aisha.refresh_from_db()
    assert aisha.access_until == date(2027, 1, 30)


def test_a_date_half_typed_is_a_sentence_never_no_end(team: Any, aisha: Membership) -> None:
    # A browser sends an incomplete date field as nothing: "Extend" with it removes nothing.
    response = browser(team.manager).post(
        reverse("member_update", args=[team.workspace.pk, aisha.pk]),
        {"action": "access_until", "access_until": ""},
    )
    assert said(response) == [
        "Enter the last day of their access as a whole date, or choose “No end date”."
    ]
    aisha.refresh_from_db()
    assert aisha.access_until == date(2027, 1, 30)
    assert not AuditEvent.objects.filter(action__startswith="member.access").exists()


def test_an_outsider_gets_not_found_and_a_member_a_refusal(team: Any, aisha: Membership) -> None:
    url = reverse("member_update", args=[team.workspace.pk, aisha.pk])
    form = {"action": "access_clear"}
    assert browser(team.outsider).post(url, form).status_code == 404
    refused = browser(team.editor).post(url, form)
    assert said(refused) == ["Only managers can change when access ends."]
    aisha.refresh_from_db()
    assert aisha.access_until == date(2027, 1, 30)


def test_the_invitation_form_takes_a_last_day(team: Any, clock: Clock) -> None:
    people = reverse("workspace_members", args=[team.workspace.pk])
    browser(team.manager).post(
        people,
        {"email": "aisha@board.example.net", "role": "commenter", "access_until": "2027-01-31"},
    )
    assert Invitation.objects.get().access_until == date(2027, 1, 31)
    assert "Access until 31 Jan 2027" in browser(team.manager).get(people).content.decode()


# --- The external guests page ------------------------------------------------------------------


def test_guests_are_removed_after_one_confirmation(team: Any, aisha: Membership) -> None:
    second = make_workspace(manager=team.manager, name="Audit committee")
    add_member(second, aisha.user, "viewer")
    in_second = Membership.objects.get(workspace=second, user=aisha.user)
    guests = reverse("guests")
    manager = browser(team.manager)

    listing = manager.get(guests).content.decode()
    assert listing.count('name="membership"') == 2
    assert "Audit committee" in listing and "Weekly budget meeting" in listing

    chosen = {"action": "confirm", "membership": [aisha.pk, in_second.pk]}
    confirm = manager.post(guests, chosen)
    assert confirm.status_code == 200
    assert "Remove 2 people?" in confirm.content.decode()
    assert Membership.objects.filter(pk__in=[aisha.pk, in_second.pk]).count() == 2  # not yet

    done = manager.post(guests, {**chosen, "action": "remove"})

    assert done.status_code == 302
    assert said(done) == ["Removed 2 people."]
    assert not Membership.objects.filter(pk__in=[aisha.pk, in_second.pk]).exists()
    assert AuditEvent.objects.filter(action=Action.MEMBER_REMOVED).count() == 2


def test_a_guest_of_someone_elses_workspace_is_refused_with_a_sentence(
    team: Any, aisha: Membership
) -> None:
    other = make_workspace(manager=team.outsider, name="Not Priya's")
    stranger = add_member(other, GuestFactory(), "viewer")
    theirs = Membership.objects.get(workspace=other, user=stranger)
    for action in ["confirm", "remove"]:
        response = browser(team.manager).post(
            reverse("guests"), {"action": action, "membership": [aisha.pk, theirs.pk]}
        )
        assert response.status_code == 302
        assert said(response) == [
            "One of the people chosen is not in a workspace you manage. Nobody was removed."
        ]
    assert Membership.objects.filter(pk__in=[aisha.pk, theirs.pk]).count() == 2
    # Their own list never showed the other workspace's guest.
    assert stranger.email not in browser(team.manager).get(reverse("guests")).content.decode()


def test_the_home_page_leads_managers_to_their_guests(team: Any, clock: Clock) -> None:
    link = f'href="{reverse("guests")}"'
    assert link in browser(team.manager).get(reverse("home")).content.decode()
    assert link not in browser(team.editor).get(reverse("home")).content.decode()


def test_the_person_sees_their_own_end_date_plainly_in_its_last_week(
    team: Any, aisha: Membership, clock: Clock
) -> None:
    from commonroom.workspaces.tests.factories import upload_document

    doc = upload_document(team.workspace, team.manager, name="minutes.txt")
    folder_page = reverse("workspace_detail", args=[team.workspace.pk])
    doc_page = reverse("document_detail", args=[team.workspace.pk, doc.pk])
    hers = browser(aisha.user)

    # Five days left: said on the workspace's pages, and in one short line on the document's.
    page = hers.get(folder_page).content.decode()
    assert "Your access to this workspace ends in 5 days</strong>: 30 January 2027" in page
    assert "ask one of its managers to extend it" in page
    page = hers.get(doc_page).content.decode()
    assert "Your access ends in 5 days</strong> (last day 30 January): ask a manager" in page
    # Only to her: a member without an end date, and the manager, see nothing of it.
    for user in (team.manager, team.commenter):
        assert 'id="my-access-ends"' not in browser(user).get(folder_page).content.decode()

    # (A new sign-in each time the clock moves on by days: a session lasts 12 hours.)
    clock.set(date(2027, 1, 30), 9)
    tonight = browser(aisha.user).get(doc_page).content.decode()
    assert "Your access ends tonight" in tonight
    clock.set(date(2027, 1, 29), 9)
    assert "ends tomorrow night" in browser(aisha.user).get(folder_page).content.decode()

    # Further off: a quiet line on the workspace's pages, nothing on the document's.
    Membership.objects.filter(pk=aisha.pk).update(access_until=date(2027, 3, 31))
    quiet = "Your access to this workspace lasts until 31 March 2027."
    assert quiet in browser(aisha.user).get(folder_page).content.decode()
    assert 'id="my-access-ends"' not in browser(aisha.user).get(doc_page).content.decode()

    # The day after the last: no page at all.
    Membership.objects.filter(pk=aisha.pk).update(access_until=date(2027, 1, 28))
    assert browser(aisha.user).get(folder_page).status_code == 404
