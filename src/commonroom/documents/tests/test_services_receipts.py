"""Read receipts (decision 26): what counts as reading a version, checked by the server; who
has read it; "new since you last read it"; reminding those who have not, once a day."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from commonroom.audit.actions import Action
from commonroom.audit.models import AuditEvent
from commonroom.core.exceptions import ApplicationError, Conflict, NotFound, PermissionDenied
from commonroom.core.request_info import SYSTEM
from commonroom.documents import hooks, services
from commonroom.documents.models import ReadReminder, VersionRead
from commonroom.documents.selectors import (
    READING_SECONDS,
    last_read_numbers,
    reading_token,
    version_get,
    version_readers,
)
from commonroom.documents.tests.factories import doc_access_for, new_version, upload
from commonroom.notifications.models import Notification
from commonroom.workspaces import services as workspaces
from commonroom.workspaces.models import Membership
from commonroom.workspaces.tests.factories import make_workspace


@pytest.fixture
def doc(team: Any) -> Any:
    return upload(team.manager, team.workspace, "minutes.txt", b"Minutes\n").document


def served(user: Any, doc: Any, number: int = 1, seconds_ago: float = 30) -> str:
    """The token a page showing version ``number`` to ``user`` got ``seconds_ago``."""
    past = timezone.now() - timedelta(seconds=seconds_ago)
    doc_access = doc_access_for(user, doc)
    with mock.patch("django.utils.timezone.now", return_value=past):
        return reading_token(
            user=user,
            doc_access=doc_access,
            version=version_get(doc_access=doc_access, number=number),
        )


def read(user: Any, doc: Any, *, token: str | None = None, seconds: int = 6, number: int = 1):
    return services.version_read_record(
        actor=user,
        doc_access=doc_access_for(user, doc),
        number=number,
        token=token if token is not None else served(user, doc, number),
        visible_seconds=seconds,
    )


def receipts() -> list[tuple[str, int, str]]:
    return sorted(VersionRead.objects.values_list("reader__email", "version__number", "read_by"))


def read_rows() -> int:
    return AuditEvent.objects.filter(action=Action.VERSION_READ).count()


# --- What counts as reading ----------------------------------------------------------------------


def test_a_preview_visible_long_enough_is_a_receipt_with_its_audit_row(team, doc):
    receipt, new = read(team.commenter, doc, seconds=READING_SECONDS)

    assert new is True
    assert receipt.read_by == "preview"
    assert receipt.visible_seconds == READING_SECONDS
    assert receipts() == [("sam@example.org", 1, "preview")]
    row = AuditEvent.objects.get(action=Action.VERSION_READ)
    assert row.actor_id == team.commenter.pk
    assert row.document_id == doc.pk
    assert row.data == {"version": 1, "read_by": "preview", "visible_seconds": READING_SECONDS}


def test_a_replayed_reading_changes_nothing(team, doc):
    token = served(team.commenter, doc)
    first, _ = read(team.commenter, doc, token=token)
    again, new = read(team.commenter, doc, token=token, seconds=9)

    assert new is False
    assert again.pk == first.pk
    assert again.visible_seconds == 6  # the first reading stands
    assert VersionRead.objects.count() == 1
    assert read_rows() == 1


def test_fewer_seconds_than_the_rule_is_refused(team, doc):
    with pytest.raises(ApplicationError) as refused:
        read(team.commenter, doc, seconds=READING_SECONDS - 1)
    assert refused.value.code == "not_read_yet"
    assert "after 5 seconds" in refused.value.message
    assert "Nothing was recorded." in refused.value.message
    assert receipts() == [] and read_rows() == 0


def test_more_visible_seconds_than_have_passed_since_the_page_was_served_is_refused(team, doc):
    token = served(team.commenter, doc, seconds_ago=3)
    with pytest.raises(ApplicationError) as refused:
        read(team.commenter, doc, token=token, seconds=60)
    assert refused.value.code == "implausible_reading"
    assert receipts() == [] and read_rows() == 0


def test_a_token_for_someone_else_is_refused(team, doc):
    theirs = served(team.viewer, doc)
    with pytest.raises(ApplicationError) as refused:
        read(team.commenter, doc, token=theirs)
    assert refused.value.code == "not_your_reading"
    assert "someone else" in refused.value.message
    assert receipts() == []


def test_a_token_for_another_version_is_refused(team, doc):
    new_version(team.manager, doc, b"Minutes, amended\n")
    old = served(team.commenter, doc, number=1)
    with pytest.raises(ApplicationError) as refused:
        read(team.commenter, doc, token=old, number=2)
    assert refused.value.code == "wrong_version"
    assert receipts() == []


def test_a_token_for_a_document_of_another_workspace_is_refused(team, doc):
    elsewhere = make_workspace(manager=team.manager)
    other = upload(team.manager, elsewhere, "other.txt", b"Other\n").document
    forged = served(team.manager, other)
    with pytest.raises(ApplicationError) as refused:
        read(team.manager, doc, token=forged)
    assert refused.value.code == "wrong_version"
    assert receipts() == []


def test_a_forged_token_is_refused(team, doc):
    with pytest.raises(ApplicationError) as refused:
        read(team.commenter, doc, token=served(team.commenter, doc) + "x")
    assert refused.value.code == "invalid_reading"
    assert receipts() == []


def test_an_old_page_must_be_reloaded(team, doc):
    old = served(team.commenter, doc, seconds_ago=13 * 3600)
    with pytest.raises(ApplicationError) as refused:
        read(team.commenter, doc, token=old)
    assert refused.value.code == "reading_expired"
    assert receipts() == []


def test_a_version_that_does_not_exist_is_not_found(team, doc):
    with pytest.raises(NotFound):
        read(team.commenter, doc, token=served(team.commenter, doc), number=7)
    assert receipts() == []


def test_a_member_removed_after_loading_the_page_gets_no_receipt(team, doc):
    doc_access = doc_access_for(team.commenter, doc)
    token = served(team.commenter, doc)
    workspaces.membership_remove(
        actor=team.manager,
        access=doc_access_for(team.manager, doc).access,
        membership_id=Membership.objects.get(user=team.commenter).pk,
    )
    with pytest.raises(NotFound):
        services.version_read_record(
            actor=team.commenter, doc_access=doc_access, number=1, token=token, visible_seconds=6
        )
    assert receipts() == []


def test_a_download_is_a_reading_once(team, doc):
    for _ in range(2):
        services.version_for_download(
            actor=team.viewer, doc_access=doc_access_for(team.viewer, doc), number=1, info=SYSTEM
        )
    assert receipts() == [("viewer@example.org", 1, "download")]
    assert read_rows() == 1
    assert AuditEvent.objects.filter(action=Action.VERSION_DOWNLOADED).count() == 2


@pytest.mark.parametrize("read_before", [False, True])
def test_a_download_turned_off_after_the_page_was_loaded_is_refused_under_the_lock(
    team, doc, read_before
):
    from commonroom.workspaces.models import Workspace

    if read_before:  # a receipt already: the download is checked all the same
        services.version_for_download(
            actor=team.viewer, doc_access=doc_access_for(team.viewer, doc), number=1, info=SYSTEM
        )
    doc_access = doc_access_for(team.viewer, doc)  # read while viewers may download
    assert doc_access.can("download")
    Workspace.objects.filter(pk=team.workspace.pk).update(viewers_download="nobody")

    with pytest.raises(PermissionDenied) as refused:
        services.version_for_download(
            actor=team.viewer, doc_access=doc_access, number=1, info=SYSTEM
        )

    assert "viewers cannot download documents" in str(refused.value)
    row = AuditEvent.objects.get(action=Action.DOWNLOAD_REFUSED)
    assert (row.actor_id, row.document_id) == (team.viewer.pk, doc.pk)
    assert row.data["version"] == 1
    downloads = AuditEvent.objects.filter(action=Action.VERSION_DOWNLOADED).count()
    assert downloads == (1 if read_before else 0)
    assert receipts() == ([("viewer@example.org", 1, "download")] if read_before else [])


def test_an_approval_is_a_reading(team, doc, django_capture_on_commit_callbacks):
    from commonroom.approvals import services as approvals

    request = approvals.approval_request_create(
        actor=team.manager,
        doc_access=doc_access_for(team.manager, doc),
        version_number=1,
        approver_ids=[team.editor.pk],
    )
    with django_capture_on_commit_callbacks(execute=True):
        approvals.approval_decide(
            actor=team.editor,
            doc_access=doc_access_for(team.editor, doc),
            request_id=request.pk,
            approve=True,
        )
    assert receipts() == [("tom@example.org", 1, "approval")]
    assert AuditEvent.objects.get(action=Action.VERSION_READ).data["read_by"] == "approval"


# --- Who has read it --------------------------------------------------------------------------


def test_who_has_read_the_latest_version_and_who_has_not(team, doc):
    read(team.commenter, doc)
    readers = version_readers(doc_access=doc_access_for(team.editor, doc))

    assert readers.sentence == "1 of 4 members have read version 1"
    assert [r.person for r in readers.read] == [team.commenter]
    assert readers.read[0].read is not None
    assert {r.person for r in readers.unread} == {team.manager, team.editor, team.viewer}


def test_an_older_version_can_be_chosen(team, doc):
    read(team.commenter, doc)
    new_version(team.manager, doc, b"Minutes, amended\n")
    doc_access = doc_access_for(team.manager, doc)

    assert version_readers(doc_access=doc_access).sentence == "0 of 4 members have read version 2"
    assert version_readers(doc_access=doc_access, number=1).sentence == (
        "1 of 4 members have read version 1"
    )


@pytest.mark.parametrize("role", ["commenter", "viewer"])
def test_only_managers_and_editors_see_who_has_read(team, doc, role):
    with pytest.raises(PermissionDenied):
        version_readers(doc_access=doc_access_for(team.by_role[role], doc))


def test_new_since_you_last_read_it(team, doc):
    other = upload(team.manager, team.workspace, "agenda.txt", b"Agenda\n").document
    read(team.commenter, doc)
    assert last_read_numbers(user=team.commenter, documents=[doc, other]) == {doc.pk: 1}

    new_version(team.manager, doc, b"Minutes, amended\n")
    doc.refresh_from_db()
    last = last_read_numbers(user=team.commenter, documents=[doc, other])
    assert last[doc.pk] < doc.current_version_number  # new since they last read it
    assert other.pk not in last  # never read: not "new since", simply unread


# --- Reminding those who have not read it -------------------------------------------------------


def test_remind_notifies_each_who_has_not_read_it_once_a_day(team, doc):
    read(team.commenter, doc)
    seen: list[hooks.ReadersReminded] = []
    told: list[tuple[bool, bool]] = []

    def note(change: hooks.ReadersReminded) -> None:
        seen.append(change)
        audited = AuditEvent.objects.filter(action=Action.READERS_REMINDED).exists()
        told.append((connection.in_atomic_block, audited))

    with hooks.subscribed(hooks.ReadersReminded, note):
        reminder = services.document_readers_remind(
            actor=team.editor, doc_access=doc_access_for(team.editor, doc)
        )
    assert reminder.recipients == 2  # the manager and the viewer: not the reader, not the asker
    assert set(seen[0].user_ids) == {team.manager.pk, team.viewer.pk}
    assert told == [(True, False)]  # inside its transaction, before its audit row
    notified = Notification.objects.filter(kind="read_reminder")
    assert set(notified.values_list("recipient_id", flat=True)) == {team.manager.pk, team.viewer.pk}
    assert AuditEvent.objects.filter(action=Action.READERS_REMINDED).count() == 1

    with pytest.raises(Conflict) as again:
        services.document_readers_remind(
            actor=team.manager, doc_access=doc_access_for(team.manager, doc)
        )
    assert again.value.code == "reminded_today"
    assert "nothing was sent" in again.value.message
    assert notified.count() == 2
    assert ReadReminder.objects.count() == 1
    assert AuditEvent.objects.filter(action=Action.READERS_REMINDED).count() == 1


def test_each_person_reminded_is_emailed_whatever_their_email_setting(
    team, doc, mailoutbox, django_capture_on_commit_callbacks
):
    from commonroom.notifications.services import settings_update

    settings_update(user=team.viewer, email="digest")  # no immediate emails otherwise
    with django_capture_on_commit_callbacks(execute=True):
        services.document_readers_remind(
            actor=team.editor, doc_access=doc_access_for(team.editor, doc)
        )
    sent = {message.to[0]: message.subject for message in mailoutbox}
    assert set(sent) == {"priya@example.org", "sam@example.org", "viewer@example.org"}
    assert all("asks you to read version 1 of minutes.txt" in s for s in sent.values())


def test_a_reminder_can_go_again_the_next_day(team, doc):
    services.document_readers_remind(actor=team.editor, doc_access=doc_access_for(team.editor, doc))
    ReadReminder.objects.update(day=timezone.localdate() - timedelta(days=1))
    services.document_readers_remind(actor=team.editor, doc_access=doc_access_for(team.editor, doc))
    assert ReadReminder.objects.count() == 2


def test_nobody_to_remind_is_a_sentence(team, doc):
    for person in (team.manager, team.commenter, team.viewer):
        read(person, doc)
    with pytest.raises(ApplicationError) as refused:
        services.document_readers_remind(
            actor=team.editor, doc_access=doc_access_for(team.editor, doc)
        )
    assert refused.value.code == "nobody_to_remind"
    assert ReadReminder.objects.count() == 0
    assert not Notification.objects.filter(kind="read_reminder").exists()


@pytest.mark.parametrize("role", ["commenter", "viewer"])
def test_only_managers_and_editors_remind(team, doc, role):
    person = team.by_role[role]
    with pytest.raises(PermissionDenied):
        services.document_readers_remind(actor=person, doc_access=doc_access_for(person, doc))
    assert ReadReminder.objects.count() == 0
    assert not Notification.objects.filter(kind="read_reminder").exists()


def test_a_document_in_the_trash_cannot_be_read(team, doc):
    doc_access = doc_access_for(team.commenter, doc)
    token = served(team.commenter, doc)
    services.document_delete(actor=team.manager, doc_access=doc_access_for(team.manager, doc))
    with pytest.raises(NotFound):
        services.version_read_record(
            actor=team.commenter, doc_access=doc_access, number=1, token=token, visible_seconds=6
        )
    with pytest.raises(NotFound):
        doc_access_for(team.commenter, doc)  # nor is it there for anyone to read
    assert receipts() == [] and read_rows() == 0


def test_purging_a_document_takes_its_receipts_and_reminders_with_it(team, doc):
    read(team.commenter, doc)
    services.document_readers_remind(actor=team.editor, doc_access=doc_access_for(team.editor, doc))
    services.document_delete(actor=team.manager, doc_access=doc_access_for(team.manager, doc))
    doc.refresh_from_db()
    services.document_purge(
        actor=team.manager, access=doc_access_for(team.manager, doc, include_trash=True).access,
        document=doc,
    )  # fmt: skip
    assert not VersionRead.objects.exists()
    assert not ReadReminder.objects.exists()
    assert read_rows() == 1  # the trail keeps the reading
