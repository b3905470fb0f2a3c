"""Emails: straight away for "immediate" (through a real SMTP server), else a daily digest, and
mentions at least in the digest for "none"."""

from __future__ import annotations

from datetime import datetime, timedelta
from unittest.mock import patch
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from commonroom.notifications import services
from commonroom.notifications.models import Follow, Kind, Notification, NotificationSettings
from commonroom.notifications.tests.factories import make_notification, post_comment
from commonroom.workspaces.models import Membership
from commonroom.workspaces.tests.factories import upload_document


@pytest.fixture
def doc(team):
    return upload_document(team.workspace, team.manager, name="minutes.docx")


def parts(message):
    return {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk()
        if not part.is_multipart()
    }


def test_immediate_setting_emails_each_notification_after_commit(
    team, doc, smtp_server, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://commonroom.example.nhs.uk"
    NotificationSettings.objects.create(user=team.editor, email="immediate")
    with django_capture_on_commit_callbacks(execute=True):
        comment = post_comment(
            doc, team.commenter, "@tom the agency figure?", mentioned=[team.editor]
        )

    [message] = smtp_server.wait_for(1)
    assert message["To"] == "tom@example.org"
    assert message["Subject"] == f"{team.commenter.display_name} mentioned you on minutes.docx"
    body = parts(message)
    url = f"https://commonroom.example.nhs.uk/w/{team.workspace.pk}/d/{doc.pk}/#thread-{comment.pk}"
    assert url in body["text/plain"]
    assert "the agency figure?" in body["text/plain"]
    assert f'href="{url}"' in body["text/html"]
    assert Notification.objects.get(recipient=team.editor).emailed_at is not None
    # The manager (digest, the default) is not emailed now.
    assert len(smtp_server.messages) == 1
    assert Notification.objects.get(recipient=team.manager).emailed_at is None


def test_nothing_is_emailed_before_the_commit(team, doc, smtp_server):
    NotificationSettings.objects.create(user=team.editor, email="immediate")
    post_comment(doc, team.commenter, mentioned=[team.editor])  # the test never commits
    assert smtp_server.messages == []


def test_the_email_task_skips_what_was_emailed_and_removed_members(team, doc):
    first = make_notification(team.editor, doc)
    assert services.send_notification_emails([str(first.pk)]) == 1
    assert services.send_notification_emails([str(first.pk)]) == 0  # safe to run twice
    second = make_notification(team.viewer, doc)
    Membership.objects.filter(user=team.viewer).delete()
    assert services.send_notification_emails([str(second.pk)]) == 0
    assert len(mail.outbox) == 1


def test_digest_once_a_day_with_what_is_new_since(team, doc):
    now = timezone.now()
    make_notification(team.editor, doc, summary="First thing", created_at=now - timedelta(hours=2))
    make_notification(team.editor, doc, kind=Kind.NEW_COMMENT, summary="Second thing")
    read = make_notification(team.editor, doc, summary="Already read")
    read.read_at = now
    read.save()

    assert services.send_digests(now) == 1
    [digest] = mail.outbox
    assert digest.to == ["tom@example.org"]
    assert "First thing" in digest.body and "Second thing" in digest.body
    assert "Already read" not in digest.body
    assert f"/w/{team.workspace.pk}/d/{doc.pk}/" in digest.body
    assert not Notification.objects.filter(
        recipient=team.editor, read_at__isnull=True, emailed_at__isnull=True
    ).exists()

    # Something new an hour later waits for tomorrow's digest.
    make_notification(team.editor, doc, summary="Third thing", created_at=now + timedelta(hours=1))
    assert services.send_digests(now + timedelta(hours=2)) == 0
    assert services.send_digests(now + timedelta(hours=24)) == 1
    assert "Third thing" in mail.outbox[1].body
    assert "First thing" not in mail.outbox[1].body
    assert NotificationSettings.objects.get(user=team.editor).last_digest_at == now + timedelta(
        hours=24
    )


def test_none_still_gets_mentions_in_the_digest_and_immediate_gets_no_digest(team, doc):
    NotificationSettings.objects.create(user=team.commenter, email="none")
    NotificationSettings.objects.create(user=team.viewer, email="immediate")
    make_notification(team.commenter, doc, summary="Mentioned you")
    make_notification(team.commenter, doc, kind=Kind.NEW_VERSION, summary="New version")
    make_notification(team.viewer, doc, summary="Viewer mention")
    assert services.send_digests() == 1
    [digest] = mail.outbox
    assert digest.to == ["sam@example.org"]
    assert "Mentioned you" in digest.body and "New version" not in digest.body


def test_no_digest_with_nothing_to_say_or_for_a_workspace_one_has_left(team, doc):
    make_notification(team.viewer, doc, summary="From before")
    Membership.objects.filter(user=team.viewer).delete()
    assert services.send_digests() == 0
    assert mail.outbox == []


def test_the_digest_command(team, doc, capsys):
    make_notification(team.editor, doc)
    call_command("digest")
    assert "sent 1 digest(s)" in capsys.readouterr().out
    assert len(mail.outbox) == 1


# --- The daily trigger -----------------------------------------------------------------------


LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 28, 6, 59, tzinfo=LONDON), datetime(2026, 11, 27, 7, 0, tzinfo=LONDON)),
        (datetime(2026, 11, 28, 7, 0, tzinfo=LONDON), datetime(2026, 11, 28, 7, 0, tzinfo=LONDON)),
        (datetime(2026, 11, 28, 22, 0, tzinfo=LONDON), datetime(2026, 11, 28, 7, 0, tzinfo=LONDON)),
        # The day after the clocks went forward: still 07:00 on the wall clock, both days.
        (datetime(2026, 3, 30, 6, 0, tzinfo=LONDON), datetime(2026, 3, 29, 7, 0, tzinfo=LONDON)),
        (datetime(2026, 3, 29, 8, 0, tzinfo=LONDON), datetime(2026, 3, 29, 7, 0, tzinfo=LONDON)),
    ],
)
def test_the_digests_are_due_at_the_hour_on_the_local_clock(settings, now, expected):
    settings.TIME_ZONE = "Europe/London"
    settings.COMMONROOM_DIGEST_HOUR = 7
    due = digest_job().due(now)
    assert due == expected
    assert (due.hour, due.minute, due.utcoffset()) == (7, 0, expected.utcoffset())


def digest_job():
    from commonroom.notifications.schedule import JOBS

    return next(job for job in JOBS if job.name == "notification-digests")


def test_the_schedule_sends_the_digests_once_when_the_hour_comes(team, doc, settings):
    """A worker's schedule, ticking past 07:00: the digests go out once, at 07:00, and not
    again that day however often it ticks."""
    from commonroom.core.scheduling import Schedule

    settings.TIME_ZONE = "Europe/London"
    settings.COMMONROOM_DIGEST_HOUR = 7
    make_notification(team.editor, doc)
    now = [datetime(2026, 11, 28, 6, 59, 50, tzinfo=LONDON)]
    schedule = Schedule([digest_job()], by="worker-1", clock=lambda: now[0])

    assert schedule.tick(starting=True) == []  # first met: counts from now
    now[0] = datetime(2026, 11, 28, 6, 59, 59, tzinfo=LONDON)
    assert schedule.tick() == []
    assert mail.outbox == []

    now[0] = datetime(2026, 11, 28, 7, 0, 5, tzinfo=LONDON)
    assert schedule.tick() == ["notification-digests"]  # tests run tasks at once
    assert [m.to for m in mail.outbox] == [[team.editor.email]]
    for minute in (1, 30, 59):
        now[0] = datetime(2026, 11, 28, 7, minute, tzinfo=LONDON)
        assert schedule.tick() == []
    assert len(mail.outbox) == 1


def test_the_digest_task_sends_the_digests(team, doc):
    from commonroom.notifications.tasks import send_digests

    make_notification(team.editor, doc)
    result = send_digests.enqueue()  # tests run tasks at once
    assert result.return_value == 1


def test_the_daily_jobs_send_the_digests_and_prune_the_live_event_log(team, doc, settings):
    """What the workers' schedule runs each day: the digests, the event log's pruning (a
    screen offline longer than ``COMMONROOM_EVENT_DAYS`` reloads instead of replaying) and the
    approval reminders (approvals/tests: none is due here)."""
    from django.db import transaction

    from commonroom.core.scheduling import jobs_all
    from commonroom.live.models import Event
    from commonroom.live.services import publish
    from commonroom.live.tests.factories import an_event

    make_notification(team.editor, doc)
    with transaction.atomic():
        ids = [publish(workspace_id=team.workspace.pk, event=an_event()).pk for _ in "ab"]
    old = timezone.now() - timedelta(days=settings.COMMONROOM_EVENT_DAYS + 1)
    Event.objects.update(created_at=old)
    daily = {job.name: job for job in jobs_all() if job.in_claim}
    assert set(daily) == {"notification-digests", "live-events-prune", "approval-reminders"}
    for job in daily.values():
        job.run()  # tests run tasks at once
    assert [m.to for m in mail.outbox] == [[team.editor.email]]
    # The old events go; the newest stays, marking where the log begins.
    assert list(Event.objects.values_list("pk", flat=True)) == [ids[-1]]


def test_a_mention_by_address_is_emailed_and_digested_by_name(
    team, doc, django_capture_on_commit_callbacks
):
    """Mentioned as "@priya@example.org", shown everywhere as "@Priya Shah": the notification,
    its immediate email and the digest never show an address."""
    from commonroom.comments.services import comment_create
    from commonroom.documents.selectors import document_access

    NotificationSettings.objects.create(user=team.manager, email="immediate")
    access = document_access(user=team.commenter, workspace_id=doc.workspace_id, document_id=doc.pk)
    with django_capture_on_commit_callbacks(execute=True):
        comment_create(
            actor=team.commenter, doc_access=access, body="@priya@example.org the agency figure?"
        )
    note = Notification.objects.get(recipient=team.manager)
    assert note.excerpt == "@Priya Shah the agency figure?"
    [sent] = [m for m in mail.outbox if m.to == ["priya@example.org"]]
    assert "@Priya Shah the agency figure?" in sent.body
    assert "priya@example.org" not in sent.body
    NotificationSettings.objects.filter(user=team.manager).update(email="digest")
    Notification.objects.filter(recipient=team.manager).update(emailed_at=None)
    mail.outbox.clear()
    services.send_digests()
    [digest] = mail.outbox
    assert "mentioned you on minutes.docx" in digest.body
    assert "@example.org" not in digest.body


def test_a_new_version_emails_at_once_only_the_followers_who_asked_and_are_members(
    team, doc, django_capture_on_commit_callbacks
):
    """Who is told of a new version, and who of them by email straight away, is read with the
    followers in one query: each follower's own setting counts, and a follower who has left the
    workspace gets neither."""
    for person in (team.viewer, team.commenter, team.editor):
        Follow.objects.create(user=person, document=doc)
    NotificationSettings.objects.create(user=team.viewer, email="immediate")
    NotificationSettings.objects.create(user=team.editor, email="immediate")
    Membership.objects.filter(user=team.editor).delete()
    with django_capture_on_commit_callbacks(execute=True):
        upload_document(team.workspace, team.manager, name="minutes.docx", content=b"v2")
    version = doc.versions.get(number=2)
    told = dict(
        Notification.objects.filter(dedupe_key=f"version:{version.pk}").values_list(
            "recipient__email", "kind"
        )
    )
    assert told == {"viewer@example.org": Kind.NEW_VERSION, "sam@example.org": Kind.NEW_VERSION}
    assert [m.to for m in mail.outbox] == [["viewer@example.org"]]
    assert Notification.objects.get(recipient=team.viewer).emailed_at is not None
    assert Notification.objects.get(recipient=team.commenter).emailed_at is None


def test_the_followers_to_tell_read_once_built_answer_as_the_orm_does(team, doc):
    """Who of a document's followers is told of a new version is read with SQL built once per
    process: after each write made straight in the database (as another process makes it) it
    answers as the ORM's own query does, the day it is asked on included."""
    from commonroom.notifications.services import _followers, _recipients, _to_tell

    key = "version:prepared-test"

    def both(today=None) -> tuple[set, set]:
        today = today or timezone.localdate()
        with patch("django.utils.timezone.localdate", return_value=today):
            prepared = _recipients(
                team.workspace.pk, [], key, followers_of=doc.pk, actor_id=team.manager.pk
            )
        orm = _to_tell(
            workspace_id=team.workspace.pk,
            who=_followers(doc.pk),
            key=key,
            actor_id=team.manager.pk,
            today=today,
        )
        return {(pk, immediate) for pk, immediate in prepared.items()}, {
            (pk, email == "immediate") for pk, email in orm
        }

    def agree(today=None) -> set:
        prepared, orm = both(today)
        assert prepared == orm
        return {pk for pk, _ in prepared}

    Follow.objects.filter(document=doc).exclude(user=team.manager).delete()
    assert agree() == set()
    for person in (team.viewer, team.commenter, team.editor, team.manager):
        Follow.objects.get_or_create(user=person, document=doc)
    assert agree() == {team.viewer.pk, team.commenter.pk, team.editor.pk}  # never the actor
    NotificationSettings.objects.create(user=team.viewer, email="immediate")
    assert both()[0] == both()[1]
    assert dict(both()[0])[team.viewer.pk] is True
    make_notification(team.commenter, doc)
    Notification.objects.filter(recipient=team.commenter).update(dedupe_key=key)
    assert agree() == {team.viewer.pk, team.editor.pk}  # already told under the key
    Follow.objects.filter(user=team.editor).delete()
    assert agree() == {team.viewer.pk}
    today = timezone.localdate()
    Membership.objects.filter(workspace=team.workspace, user=team.viewer).update(access_until=today)
    assert agree() == {team.viewer.pk}  # a member until tonight
    assert agree(today + timedelta(days=1)) == set()  # not tomorrow
    type(team.viewer).objects.filter(pk=team.viewer.pk).update(is_active=False)
    assert agree() == set()


def test_the_people_named_and_followers_to_tell_answer_as_the_orm_does(team, doc):
    """Who is told of a notification naming people (a mention, a reply, an approval) is read
    with SQL built once per process and list size, one statement for up to the largest list
    of people (``selectors.PLACES``): with or without the document's followers, with or
    without an actor, in each size of list and across a statement's boundary, it answers as
    the ORM's own query of the same definition does."""
    from django.db import connection
    from django.db.models import Q
    from django.test.utils import CaptureQueriesContext

    from commonroom.notifications.selectors import PLACES
    from commonroom.notifications.services import (
        _followers,
        _recipients,
        _to_tell,
    )

    key = "comment:prepared-test"
    Follow.objects.filter(document=doc).delete()
    Follow.objects.create(user=team.viewer, document=doc)
    NotificationSettings.objects.create(user=team.commenter, email="immediate")
    make_notification(team.editor, doc)
    Notification.objects.filter(recipient=team.editor).update(dedupe_key=key)

    def agree(named: list[int], *, followers: bool, actor) -> dict[int, bool]:
        who = Q(user_id__in=named)
        if followers:
            who |= _followers(doc.pk)
        orm = {
            pk: email == "immediate"
            for pk, email in _to_tell(
                workspace_id=team.workspace.pk,
                who=who,
                key=key,
                actor_id=actor,
                today=timezone.localdate(),
            )
        }
        with CaptureQueriesContext(connection) as asked:
            prepared = _recipients(
                team.workspace.pk,
                named,
                key,
                followers_of=doc.pk if followers else None,
                actor_id=actor,
            )
        assert len(asked) == max(1, -(-len(named) // PLACES[-1]))
        assert prepared == orm
        return prepared

    named = [team.commenter.pk, team.editor.pk, team.manager.pk]
    assert agree(named, followers=False, actor=None) == {
        team.commenter.pk: True,  # emailed at once
        team.manager.pk: False,  # the editor was told under the key already
    }
    assert agree(named, followers=False, actor=team.manager.pk) == {team.commenter.pk: True}
    assert agree(named, followers=True, actor=team.manager.pk) == {
        team.commenter.pk: True,
        team.viewer.pk: False,  # a follower
    }
    assert agree([], followers=True, actor=None) == {team.viewer.pk: False}
    # Below every real id, no such people: in a middle-sized list, in the largest, and past
    # it, where the real ones are the second statement's, the followers the first's.
    for many in (PLACES[0] + 1, PLACES[-1] - len(named), PLACES[-1]):
        nobody = [-1 - n for n in range(many)]
        assert agree(nobody + named, followers=True, actor=team.manager.pk) == {
            team.commenter.pk: True,
            team.viewer.pk: False,
        }
        assert agree(nobody + named, followers=False, actor=None) == {
            team.commenter.pk: True,
            team.manager.pk: False,
        }
    assert _recipients(team.workspace.pk, [], key) == {}


def test_unread_counts_in_statements_of_a_few_agree_with_the_orm(team, doc):
    """``unread_counts`` asks one prepared statement for up to the largest list of people
    (``PLACES``; a list's empty places name nobody): each person's count is what the ORM
    counts of the badge's rows for them, nobody missing, in each size of list and across a
    statement's boundary too."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from commonroom.notifications.selectors import PLACES, _unread, unread_counts

    for person, n in ((team.viewer, 3), (team.commenter, 1), (team.editor, 0)):
        for _ in range(n):
            make_notification(person, doc)
    first = Notification.objects.filter(recipient=team.viewer).order_by("pk").first()
    assert first is not None
    Notification.objects.filter(pk=first.pk).update(read_at=timezone.now())
    people = [team.viewer.pk, team.commenter.pk, team.editor.pk]

    def orm(ids: list[int]) -> dict[int, int]:
        return {pk: _unread(user_id=pk).count() for pk in ids}

    with CaptureQueriesContext(connection) as asked:
        few = unread_counts(people)
    assert len(asked) == 1
    assert few == orm(people) == {team.viewer.pk: 2, team.commenter.pk: 1, team.editor.pk: 0}
    assert unread_counts([team.viewer.pk]) == {team.viewer.pk: 2}
    assert unread_counts([]) == {}
    # No such people (counted 0), below every real id: a middle-sized list and the largest
    # in one statement; past it, the real ones are the second statement's.
    for extra, statements in (
        (PLACES[0] + 1, 1),
        (PLACES[-1] - len(people), 1),
        (PLACES[-1], 2),
    ):
        nobody = [-1 - i for i in range(extra)]
        with CaptureQueriesContext(connection) as asked:
            many = unread_counts(people + nobody)
        assert len(asked) == statements
        assert many == orm(people + nobody) == {**few, **dict.fromkeys(nobody, 0)}
