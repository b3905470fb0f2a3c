"""Read receipts on the pages (decision 26): who has read it (managers and editors only), the
rule in words, reminding once a day, and "new since you last read it" on the listing and the
document page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from commonroom.documents import services
from commonroom.documents.models import ReadReminder
from commonroom.documents.selectors import READING_RULE, reading_token, version_get
from commonroom.documents.tests.factories import doc_access_for, new_version, upload
from commonroom.notifications.models import Notification
from commonroom.previews.tests.factories import make_ready_preview


@pytest.fixture
def doc(team: Any) -> Any:
    return upload(team.manager, team.workspace, "minutes.txt", b"Minutes\n").document


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(user: Any, doc: Any, query: str = "") -> Any:
    return signed_in(user).get(reverse("document_detail", args=[doc.workspace_id, doc.pk]) + query)


def read(user: Any, doc: Any, number: int = 1) -> None:
    doc_access = doc_access_for(user, doc)
    past = timezone.now() - timedelta(seconds=30)
    with mock.patch("django.utils.timezone.now", return_value=past):
        version = version_get(doc_access=doc_access, number=number)
        token = reading_token(user=user, doc_access=doc_access, version=version)
    services.version_read_record(
        actor=user, doc_access=doc_access, number=number, token=token, visible_seconds=6
    )


def remind(user: Any, doc: Any) -> tuple[Any, list[str]]:
    client = signed_in(user)
    response = client.post(reverse("document_readers_remind", args=[doc.workspace_id, doc.pk]))
    return response, [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize("role", ["manager", "editor"])
def test_managers_and_editors_see_who_has_read_it(team, doc, role):
    read(team.commenter, doc)
    html = page(team.by_role[role], doc).content.decode()
    assert "Who has read it" in html
    assert "1 of 4 members have read version 1" in html
    assert "Read its preview" in html
    assert READING_RULE in html


@pytest.mark.parametrize("role", ["commenter", "viewer"])
def test_others_do_not(team, doc, role):
    read(team.commenter, doc)
    html = page(team.by_role[role], doc).content.decode()
    assert "Who has read it" not in html
    assert "members have read version" not in html
    assert "Remind those who have not read it" not in html


def test_an_older_version_is_chosen(team, doc):
    read(team.commenter, doc)
    new_version(team.manager, doc, b"Minutes, amended\n")
    assert "0 of 4 members have read version 2" in page(team.editor, doc).content.decode()
    older = page(team.editor, doc, "?readers=1").content.decode()
    assert "1 of 4 members have read version 1" in older


@pytest.mark.parametrize("role", ["manager", "editor"])
def test_a_version_that_is_not_there_falls_back_to_the_latest(team, doc, role):
    new_version(team.manager, doc, b"Minutes, amended\n")
    response = page(team.by_role[role], doc, "?readers=99")
    assert response.status_code == 200
    html = response.content.decode()
    assert "There is no version 99." in html
    assert "0 of 4 members have read version 2" in html


@pytest.mark.parametrize("query", ["?readers=abc", "?readers=-1", "?readers=1.5"])
def test_a_malformed_version_is_ignored(team, doc, query):
    response = page(team.editor, doc, query)
    assert response.status_code == 200
    html = response.content.decode()
    assert "0 of 4 members have read version 1" in html
    assert "There is no version" not in html


def test_the_page_carries_the_reading_token_and_the_rule_for_every_member(team, doc):
    make_ready_preview(doc)
    html = page(team.viewer, doc).content.decode()
    assert 'id="cr-reading"' in html
    assert "data-reading-token=" in html
    assert 'data-reading-seconds="5"' in html
    assert READING_RULE in html
    assert 'data-reading-done="true"' not in html
    read(team.viewer, doc)
    again = page(team.viewer, doc).content.decode()
    assert 'data-reading-done="true"' in again
    assert "You have read version 1." in again


def test_remind_from_the_page_then_a_sentence_the_same_day(
    team, doc, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        response, said = remind(team.editor, doc)
    assert response.status_code == 302
    assert said == [
        "Reminded 3 people who had not read version 1: a notification and an email each."
    ]
    assert Notification.objects.filter(kind="read_reminder").count() == 3

    response, said = remind(team.manager, doc)
    assert response.status_code == 302
    assert len(said) == 1 and "already reminded them today" in said[0]
    assert "nothing was sent" in said[0]
    assert Notification.objects.filter(kind="read_reminder").count() == 3
    assert ReadReminder.objects.count() == 1
    assert "reminded them today at" in page(team.editor, doc).content.decode()


def test_a_commenter_cannot_remind(team, doc):
    response, said = remind(team.commenter, doc)
    assert response.status_code == 302
    assert said == ["Only managers and editors can remind people to read a document."]
    assert ReadReminder.objects.count() == 0


def test_a_non_member_gets_404(team, doc):
    response, _ = remind(team.outsider, doc)
    assert response.status_code == 404
    assert ReadReminder.objects.count() == 0


def test_new_since_you_last_read_it_on_the_listing_and_the_page(team, doc):
    never_read = upload(team.manager, team.workspace, "agenda.txt", b"Agenda\n").document
    listing_url = reverse("workspace_detail", args=[team.workspace.pk])
    read(team.commenter, doc)
    new_version(team.manager, doc, b"Minutes, amended\n")
    new_version(team.manager, never_read, b"Agenda, amended\n")

    listing = signed_in(team.commenter).get(listing_url).content.decode()
    assert listing.count("New since you last read it") == 1
    # By name: agenda.txt (never read by them) first, then minutes.txt, which carries the tag.
    agenda_row, minutes_row = listing.split(">minutes.txt<")
    assert "New since you last read it" not in agenda_row
    assert "New since you last read it" in minutes_row
    html = page(team.commenter, doc).content.decode()
    assert "New since you last read it" in html
    assert "You last read version 1." in html
    # Someone who read nothing is not told "new since".
    assert (
        "New since you last read it" not in signed_in(team.viewer).get(listing_url).content.decode()
    )


def test_a_receipt_is_a_row_of_the_audit_csv(team, doc):
    read(team.commenter, doc)
    url = reverse("workspace_audit", args=[team.workspace.pk]) + "?format=csv"
    response: Any = signed_in(team.manager).get(url)
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    rows = [line for line in body.splitlines() if "version.read" in line]
    assert len(rows) == 1
    assert "sam@example.org" in rows[0]
    assert "preview" in rows[0]


def test_the_readers_part_alone_for_the_page_to_refresh(team, doc):
    url = reverse("document_readers", args=[doc.workspace_id, doc.pk])
    read(team.commenter, doc)
    part = signed_in(team.editor).get(url, headers={"HX-Request": "true"})
    assert part.status_code == 200
    html = part.content.decode()
    assert 'id="readers"' in html
    assert "1 of 4 members have read version 1" in html
    assert "<html" not in html
    assert signed_in(team.commenter).get(url).status_code == 403
    assert signed_in(team.outsider).get(url).status_code == 404
    assert signed_in(team.editor).get(url + "?readers=3").status_code == 404
