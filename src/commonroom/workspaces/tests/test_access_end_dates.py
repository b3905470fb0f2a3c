"""Access that ends (decision 29): an end date set when inviting or on a member, refused when it
cannot hold; the membership gone from every selector once its last day is over; the scheduled
job that removes it (audited, ``MemberRemoved``) and tells the person a week before, once."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.core import mail
from django.db import transaction
from django.test import Client
from django.urls import reverse

from commonroom.accounts.tests.factories import GuestFactory, UserFactory
from commonroom.audit.models import Action, AuditEvent
from commonroom.core.exceptions import ApplicationError, Conflict, Gone, NotFound, PermissionDenied
from commonroom.workspaces import hooks, selectors, services
from commonroom.workspaces.models import Invitation, Membership
from commonroom.workspaces.schedule import JOBS, access_end_dates
from commonroom.workspaces.tests.clock import Clock, local, stopped_clock
from commonroom.workspaces.tests.factories import add_member, make_workspace

pytestmark = pytest.mark.django_db

MONDAY = date(2027, 1, 25)
LAST_DAY = date(2027, 1, 31)  # "access until 31 January"


@pytest.fixture
def clock(monkeypatch: Any) -> Clock:
    return stopped_clock(monkeypatch, local(MONDAY, 12))


def manager_access(team: Any) -> selectors.WorkspaceAccess:
    return selectors.workspace_access(user=team.manager, workspace_id=team.workspace.pk)


def membership_of(team: Any, user: Any) -> Membership:
    return Membership.objects.get(workspace=team.workspace, user=user)


def set_until(team: Any, user: Any, until: Any) -> Membership:
    return services.membership_set_access_until(
        actor=team.manager,
        access=manager_access(team),
        membership_id=membership_of(team, user).pk,
        access_until=until,
    )


# --- Setting the date --------------------------------------------------------------------------


def test_an_invitation_carries_its_end_date_to_the_membership(team: Any, clock: Clock) -> None:
    issued = services.invitation_create(
        actor=team.manager,
        access=manager_access(team),
        email="aisha@board.example.net",
        role="commenter",
        access_until="2027-01-31",
    )
    assert issued.invitation.access_until == LAST_DAY
    sent = AuditEvent.objects.get(action=Action.INVITATION_SENT)
    assert sent.data["access_until"] == "2027-01-31"

    membership = services.invitation_accept(
        token=issued.token, full_name="Aisha Khan", password="a-long-new-passphrase"
    )

    assert membership.access_until == LAST_DAY
    assert membership.user.is_guest
    accepted = AuditEvent.objects.get(action=Action.INVITATION_ACCEPTED)
    assert accepted.data["access_until"] == "2027-01-31"


@pytest.mark.parametrize(
    ("until", "code"),
    [
        ("2027-01-24", "access_until_past"),  # yesterday
        ("2027-02-30", "invalid_date"),
        ("next week", "invalid_date"),
    ],
)
def test_a_past_or_malformed_date_is_refused_and_nothing_is_sent(
    team: Any, clock: Clock, until: str, code: str
) -> None:
    with pytest.raises(ApplicationError) as refused:
        services.invitation_create(
            actor=team.manager,
            access=manager_access(team),
            email="aisha@board.example.net",
            role="commenter",
            access_until=until,
        )
    assert refused.value.code == code
    assert refused.value.message.endswith(".")
    assert not Invitation.objects.exists()
    assert not AuditEvent.objects.filter(action=Action.INVITATION_SENT).exists()


def test_today_is_a_valid_last_day(team: Any, clock: Clock) -> None:
    assert set_until(team, team.viewer, "2027-01-25").access_until == MONDAY


def test_a_manager_has_no_end_date(team: Any, clock: Clock) -> None:
    with pytest.raises(ApplicationError) as refused:
        services.invitation_create(
            actor=team.manager,
            access=manager_access(team),
            email="chair@example.org",
            role="manager",
            access_until=LAST_DAY,
        )
    assert refused.value.code == "access_until_manager"
    second = add_member(team.workspace, UserFactory(), "manager")
    with pytest.raises(ApplicationError):
        set_until(team, second, LAST_DAY)
    assert membership_of(team, second).access_until is None
    assert not Invitation.objects.exists()


def test_someone_with_an_end_date_is_not_made_a_manager(team: Any, clock: Clock) -> None:
    set_until(team, team.editor, LAST_DAY)
    with pytest.raises(Conflict) as refused:
        services.membership_change_role(
            actor=team.manager,
            access=manager_access(team),
            membership_id=membership_of(team, team.editor).pk,
            role="manager",
        )
    assert "Remove the end date" in refused.value.message
    assert membership_of(team, team.editor).role == "editor"


def test_set_extended_and_removed_are_each_audited(team: Any, clock: Clock) -> None:
    set_until(team, team.viewer, "2027-01-31")
    set_until(team, team.viewer, "2027-02-28")
    set_until(team, team.viewer, "2027-02-10")
    set_until(team, team.viewer, "")
    set_until(team, team.viewer, None)  # no change: no row

    rows = list(AuditEvent.objects.filter(action__startswith="member.access").order_by("seq"))
    assert [(r.action, r.data) for r in rows] == [
        (Action.MEMBER_ACCESS_END_SET, {"from": None, "to": "2027-01-31"}),
        (Action.MEMBER_ACCESS_EXTENDED, {"from": "2027-01-31", "to": "2027-02-28"}),
        (Action.MEMBER_ACCESS_END_SET, {"from": "2027-02-28", "to": "2027-02-10"}),
        (Action.MEMBER_ACCESS_EXTENDED, {"from": "2027-02-10", "to": None}),
    ]
    assert all(r.actor_id == team.manager.pk for r in rows)
    assert {r.target_label for r in rows} == {team.viewer.email}
    assert membership_of(team, team.viewer).access_until is None


@pytest.mark.parametrize("role", ["viewer", "commenter", "editor"])
def test_only_managers_set_end_dates(team: Any, clock: Clock, role: str) -> None:
    actor = team.by_role[role]
    target = membership_of(team, team.viewer if role != "viewer" else team.editor)
    with pytest.raises(PermissionDenied):
        services.membership_set_access_until(
            actor=actor,
            access=selectors.workspace_access(user=actor, workspace_id=team.workspace.pk),
            membership_id=target.pk,
            access_until=LAST_DAY,
        )
    target.refresh_from_db()
    assert target.access_until is None


def test_a_forged_or_foreign_member_id_is_not_found(team: Any, clock: Clock) -> None:
    elsewhere = make_workspace(manager=team.outsider, name="Elsewhere")
    foreign = add_member(elsewhere, UserFactory(), "viewer")
    foreign_membership = Membership.objects.get(workspace=elsewhere, user=foreign)
    for forged in ["12abc", foreign_membership.pk, 10**9]:
        with pytest.raises(NotFound):
            services.membership_set_access_until(
                actor=team.manager,
                access=manager_access(team),
                membership_id=forged,
                access_until=LAST_DAY,
            )
    foreign_membership.refresh_from_db()
    assert foreign_membership.access_until is None


# --- The end ----------------------------------------------------------------------------------


def test_access_holds_through_the_last_day_and_ends_at_midnight(team: Any, clock: Clock) -> None:
    set_until(team, team.editor, LAST_DAY)
    ws = team.workspace.pk

    clock.set(LAST_DAY, 23, 59)
    assert selectors.workspace_access(user=team.editor, workspace_id=ws).role == "editor"

    clock.set(date(2027, 2, 1), 0, 0)
    with pytest.raises(NotFound):
        selectors.workspace_access(user=team.editor, workspace_id=ws)
    assert selectors.workspaces_for_user(user=team.editor) == []
    assert not selectors.member_workspace_ids(user=team.editor).exists()
    assert not selectors.active_memberships(workspace_id=ws).filter(user=team.editor).exists()
    assert team.editor not in selectors.member_users(team.workspace)
    assert selectors.member_roles(workspace_id=ws, user_ids=[team.editor.pk]) == {}
    assert team.editor not in [
        m.user for m in selectors.workspace_members(access=manager_access(team))
    ]
    with pytest.raises(NotFound), transaction.atomic():
        services.lock_access(
            actor=team.editor,
            access=selectors.WorkspaceAccess(
                workspace=team.workspace, role="editor", abilities=manager_access(team).abilities
            ),
        )
    # The row is still there until the job runs: the selectors alone stopped it.
    assert Membership.objects.filter(workspace=team.workspace, user=team.editor).exists()


def test_the_job_removes_ended_memberships_audited_as_a_removal_is(team: Any, clock: Clock) -> None:
    set_until(team, team.editor, LAST_DAY)
    set_until(team, team.viewer, date(2027, 2, 1))
    removed: list[hooks.MemberRemoved] = []

    clock.set(date(2027, 2, 1), 0, 5)
    with hooks.subscribed(hooks.MemberRemoved, removed.append):
        assert services.memberships_access_end() == 1
        assert services.memberships_access_end() == 0  # twice: nothing more

    assert not Membership.objects.filter(workspace=team.workspace, user=team.editor).exists()
    assert membership_of(team, team.viewer).access_until == date(2027, 2, 1)
    assert [(r.actor, r.workspace.pk, r.user_id) for r in removed] == [
        (None, team.workspace.pk, team.editor.pk)
    ]
    ended = AuditEvent.objects.get(action=Action.MEMBER_ACCESS_ENDED)
    assert ended.actor_id is None
    assert ended.workspace_id == team.workspace.pk
    assert ended.target_label == team.editor.email
    assert ended.data == {"access_until": "2027-01-31", "role": "editor"}


def test_an_extension_before_the_job_runs_keeps_the_member(team: Any, clock: Clock) -> None:
    set_until(team, team.editor, LAST_DAY)
    clock.set(LAST_DAY, 23, 0)
    set_until(team, team.editor, date(2027, 2, 28))
    clock.set(date(2027, 2, 1), 0, 5)

    assert services.memberships_access_end() == 0
    assert selectors.workspace_access(user=team.editor, workspace_id=team.workspace.pk)


def test_the_job_is_on_the_timetable(team: Any, clock: Clock) -> None:
    (job,) = [j for j in JOBS if j.name == "workspace-access-end-dates"]
    assert job.run is access_end_dates
    set_until(team, team.editor, LAST_DAY)
    clock.set(date(2027, 2, 1), 0, 5)
    access_end_dates()
    assert not Membership.objects.filter(workspace=team.workspace, user=team.editor).exists()


def test_an_invitation_whose_access_has_ended_cannot_be_used(team: Any, clock: Clock) -> None:
    issued = services.invitation_create(
        actor=team.manager,
        access=manager_access(team),
        email="aisha@board.example.net",
        role="commenter",
        access_until=MONDAY,
    )
    clock.set(date(2027, 1, 26), 9)
    with pytest.raises(Gone) as refused:
        services.invitation_accept(
            token=issued.token, full_name="Aisha Khan", password="a-long-new-passphrase"
        )
    assert "ended on 25 January 2027" in refused.value.message
    assert not Membership.objects.filter(user__email="aisha@board.example.net").exists()


# --- Told a week before, once -----------------------------------------------------------------


def test_the_person_is_emailed_once_a_week_before(
    team: Any, clock: Clock, django_capture_on_commit_callbacks: Any
) -> None:
    guest = add_member(team.workspace, GuestFactory(email="aisha@board.example.net"), "commenter")
    set_until(team, guest, LAST_DAY)
    set_until(team, team.viewer, date(2027, 3, 1))  # not yet
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        clock.set(date(2027, 1, 23), 0, 5)  # eight days before
        assert services.memberships_access_notify() == 0
        clock.set(date(2027, 1, 24), 0, 5)  # a week before the last day
        assert services.memberships_access_notify() == 1
    with django_capture_on_commit_callbacks(execute=True):
        clock.advance(hours=3)
        assert services.memberships_access_notify() == 0
        clock.set(date(2027, 1, 28), 9)
        assert services.memberships_access_notify() == 0

    (email,) = mail.outbox
    assert email.to == ["aisha@board.example.net"]
    assert email.subject == "Your access to Weekly budget meeting ends on 31 January 2027"
    assert "ends at the end of Sunday 31 January 2027 (Europe/London time), in 7 days" in email.body
    assert f"/w/{team.workspace.pk}/" in email.body
    assert membership_of(team, guest).access_notice_for == LAST_DAY
    notice = AuditEvent.objects.get(action=Action.MEMBER_ACCESS_NOTICE)
    assert notice.target_label == guest.email
    assert notice.data == {"access_until": "2027-01-31"}


def test_a_new_date_brings_a_new_notice(
    team: Any, clock: Clock, django_capture_on_commit_callbacks: Any
) -> None:
    set_until(team, team.viewer, LAST_DAY)
    clock.set(date(2027, 1, 24), 0, 5)
    services.memberships_access_notify()
    clock.set(date(2027, 1, 29), 10)
    set_until(team, team.viewer, date(2027, 2, 3))
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert services.memberships_access_notify() == 1
    (email,) = mail.outbox
    assert "3 February 2027" in email.subject
    assert "in 5 days" in email.body


# --- External guests across workspaces --------------------------------------------------------


@pytest.fixture
def guests(team: Any, clock: Clock) -> dict[str, Any]:
    """Two guests in the team's workspace, one of them also in a second workspace the manager
    manages; a guest in a workspace the manager does not manage; a staff member."""
    second = make_workspace(manager=team.manager, name="Audit committee")
    other = make_workspace(manager=team.outsider, name="Not Priya's")
    aisha = add_member(team.workspace, GuestFactory(email="aisha@board.example.net"), "commenter")
    add_member(second, aisha, "viewer")
    ben = add_member(team.workspace, GuestFactory(email="ben@auditors.example.com"), "viewer")
    stranger = add_member(other, GuestFactory(email="cara@elsewhere.example.com"), "viewer")
    return {"second": second, "other": other, "aisha": aisha, "ben": ben, "stranger": stranger}


def test_a_manager_lists_the_guests_of_every_workspace_they_manage(
    team: Any, guests: dict[str, Any]
) -> None:
    rows = selectors.guests_overview(user=team.manager)

    assert [(r.membership.user.email, r.membership.workspace.name) for r in rows] == [
        ("aisha@board.example.net", "Audit committee"),
        ("aisha@board.example.net", "Weekly budget meeting"),
        ("ben@auditors.example.com", "Weekly budget meeting"),
    ]
    # Staff and the guests of workspaces they do not manage are not theirs to see.
    assert selectors.guests_overview(user=team.editor) == []
    assert [r.membership.workspace.name for r in selectors.guests_overview(user=team.outsider)] == [
        "Not Priya's"
    ]


def test_last_seen_is_the_newest_entry_of_the_workspaces_trail(
    team: Any, guests: dict[str, Any], clock: Clock
) -> None:
    from commonroom.audit.services import audit_record

    aisha = guests["aisha"]
    with transaction.atomic():
        audit_record(action=Action.DOCUMENT_VIEWED, actor=aisha, workspace_id=team.workspace.pk)
    rows = {r.membership.workspace.name: r for r in selectors.guests_overview(user=team.manager)
            if r.membership.user == aisha}  # fmt: skip
    assert rows["Weekly budget meeting"].last_seen is not None
    assert rows["Audit committee"].last_seen is None


def test_several_guests_removed_at_once_each_audited(team: Any, guests: dict[str, Any]) -> None:
    chosen = [
        Membership.objects.get(workspace=team.workspace, user=guests["aisha"]).pk,
        Membership.objects.get(workspace=guests["second"], user=guests["aisha"]).pk,
        Membership.objects.get(workspace=team.workspace, user=guests["ben"]).pk,
    ]
    removed: list[hooks.MemberRemoved] = []
    with hooks.subscribed(hooks.MemberRemoved, removed.append):
        services.guests_remove(actor=team.manager, membership_ids=[str(pk) for pk in chosen])

    assert not Membership.objects.filter(pk__in=chosen).exists()
    assert len(removed) == 3
    rows = AuditEvent.objects.filter(action=Action.MEMBER_REMOVED)
    assert sorted((r.workspace_id, r.target_label) for r in rows) == sorted(
        [
            (team.workspace.pk, "aisha@board.example.net"),
            (guests["second"].pk, "aisha@board.example.net"),
            (team.workspace.pk, "ben@auditors.example.com"),
        ]
    )
    assert all(r.actor_id == team.manager.pk for r in rows)


@pytest.mark.parametrize("intruder", ["forged", "staff", "unmanaged", "not_a_number"])
def test_one_wrong_choice_removes_nobody(team: Any, guests: dict[str, Any], intruder: str) -> None:
    ben = Membership.objects.get(workspace=team.workspace, user=guests["ben"]).pk
    wrong = {
        "forged": 10**9,
        "staff": membership_of(team, team.viewer).pk,
        "unmanaged": Membership.objects.get(user=guests["stranger"]).pk,
        "not_a_number": "1; DROP",
    }[intruder]
    before = Membership.objects.count()

    with pytest.raises(ApplicationError) as refused:
        services.guests_remove(actor=team.manager, membership_ids=[ben, wrong])

    assert refused.value.message == (
        "One of the people chosen is not in a workspace you manage. Nobody was removed."
    )
    assert Membership.objects.count() == before
    assert not AuditEvent.objects.filter(action=Action.MEMBER_REMOVED).exists()


def test_someone_who_manages_nothing_removes_nobody(team: Any, guests: dict[str, Any]) -> None:
    ben = Membership.objects.get(workspace=team.workspace, user=guests["ben"]).pk
    for person in [team.editor, guests["aisha"], team.outsider]:
        with pytest.raises(ApplicationError):
            services.guests_remove(actor=person, membership_ids=[ben])
    with pytest.raises(ApplicationError) as refused:
        services.guests_remove(actor=team.manager, membership_ids=[])
    assert refused.value.code == "none_chosen"
    assert Membership.objects.filter(pk=ben).exists()


def test_the_guests_list_costs_two_queries_however_many_guests(
    team: Any, guests: dict[str, Any], django_assert_num_queries: Any
) -> None:
    for _ in range(5):
        add_member(guests["second"], GuestFactory(), "viewer")
    with django_assert_num_queries(2):
        rows = selectors.guests_overview(user=team.manager)
        assert [r.last_sign_in for r in rows] == [None] * 8


def test_the_invitation_says_how_long_access_lasts(
    team: Any, clock: Clock, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        issued = services.invitation_create(
            actor=team.manager,
            access=manager_access(team),
            email="aisha@board.example.net",
            role="commenter",
            access_until=LAST_DAY,
        )
    (email,) = mail.outbox
    assert "Your access lasts until the end of 31 January 2027." in email.body
    page = Client().get(reverse("invitation_accept", args=[issued.token]))
    assert "Access lasts until the end of 31 January 2027." in page.content.decode()


def test_someone_whose_access_ended_can_be_invited_again_before_the_job_runs(
    team: Any, clock: Clock
) -> None:
    set_until(team, team.viewer, MONDAY)
    clock.set(date(2027, 1, 26), 9)  # ended; the row is still there
    issued = services.invitation_create(
        actor=team.manager,
        access=manager_access(team),
        email=team.viewer.email,
        role="editor",
        access_until=LAST_DAY,
    )
    membership = services.invitation_accept(token=issued.token, user=team.viewer)

    assert (membership.role, membership.access_until) == ("editor", LAST_DAY)
    assert membership.access_notice_for is None
    assert selectors.workspace_access(user=team.viewer, workspace_id=team.workspace.pk).role == (
        "editor"
    )
    assert Membership.objects.filter(workspace=team.workspace, user=team.viewer).count() == 1


def test_adding_someone_again_replaces_their_ended_membership(team: Any, clock: Clock) -> None:
    set_until(team, team.viewer, MONDAY)
    clock.set(date(2027, 1, 26), 9)
    services.membership_add(
        actor=team.manager, access=manager_access(team), user=team.viewer, role="commenter"
    )
    membership = membership_of(team, team.viewer)
    assert (membership.role, membership.access_until) == ("commenter", None)
    with pytest.raises(Conflict):
        services.membership_add(
            actor=team.manager, access=manager_access(team), user=team.viewer, role="viewer"
        )
