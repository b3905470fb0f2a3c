"""Read receipts through the JSON API (decision 26): start a reading, send it back, see who has
read a version, remind those who have not; every refusal a sentence, nothing recorded."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from api_support import bearer, doc_url, error_of, session, upload_via_api
from django.utils import timezone

from commonroom.audit.actions import Action
from commonroom.audit.models import AuditEvent
from commonroom.documents.models import ReadReminder, VersionRead
from commonroom.notifications.models import Notification
from commonroom.workspaces.tests.factories import make_workspace

pytestmark = pytest.mark.django_db

JSON = "application/json"


@pytest.fixture
def doc_id(team: Any) -> str:
    response = upload_via_api(bearer(team.manager), team.workspace)
    return str(response.json()["document"]["id"])


def start(client: Any, team: Any, doc_id: str, number: int = 1, ago: float = 30) -> str:
    """A reading started ``ago`` seconds earlier: its token."""
    past = timezone.now() - timedelta(seconds=ago)
    with mock.patch("django.utils.timezone.now", return_value=past):
        response = client.get(doc_url(team.workspace, doc_id, f"/versions/{number}/reading"))
    assert response.status_code == 200, response.content
    assert response.json()["seconds_needed"] == 5
    assert "5 seconds" in response.json()["rule"]
    return str(response.json()["token"])


def send(client: Any, team: Any, doc_id: str, token: str, seconds: int = 6, number: int = 1):
    return client.post(
        doc_url(team.workspace, doc_id, f"/versions/{number}/readings"),
        {"token": token, "visible_seconds": seconds},
        JSON,
    )


def test_a_reading_is_recorded_once_and_replays_change_nothing(team, doc_id):
    sam = bearer(team.commenter)
    token = start(sam, team, doc_id)

    first = send(sam, team, doc_id, token)
    assert first.status_code == 201, first.content
    assert first.json()["read_by"] == "preview"
    assert first.json()["new"] is True
    again = send(sam, team, doc_id, token)
    assert again.status_code == 200
    assert again.json()["new"] is False
    assert again.json()["read_at"] == first.json()["read_at"]
    assert VersionRead.objects.count() == 1
    assert AuditEvent.objects.filter(action=Action.VERSION_READ).count() == 1


def test_the_browser_session_sends_readings_with_its_csrf_token(team, doc_id):
    browser = session(team.commenter)
    token = start(browser, team, doc_id)
    refused = send(browser, team, doc_id, token)
    assert refused.status_code == 403  # no CSRF header: nothing recorded
    assert VersionRead.objects.count() == 0


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("someone else's token", "not_your_reading"),
        ("too few seconds", "not_read_yet"),
        ("more seconds than have passed", "implausible_reading"),
        ("another version's token", "wrong_version"),
        ("a forged token", "invalid_reading"),
    ],
)
def test_bad_readings_are_a_sentence_and_nothing_recorded(team, doc_id, case, code):
    sam = bearer(team.commenter)
    upload_via_api(bearer(team.manager), team.workspace, content=b"Amended minutes.\n")
    token, seconds, number = start(sam, team, doc_id, number=2), 6, 2
    if case == "someone else's token":
        token = start(bearer(team.viewer), team, doc_id, number=2)
    elif case == "too few seconds":
        seconds = 4
    elif case == "more seconds than have passed":
        token, seconds = start(sam, team, doc_id, number=2, ago=2), 40
    elif case == "another version's token":
        token = start(sam, team, doc_id, number=1)
    else:
        token = token[:-2] + "xx"

    response = send(sam, team, doc_id, token, seconds=seconds, number=number)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == code
    assert error["detail"].endswith("Nothing was recorded.")
    assert VersionRead.objects.count() == 0
    assert AuditEvent.objects.filter(action=Action.VERSION_READ).count() == 0


def test_a_non_member_gets_404_everywhere_and_nothing_recorded(team, doc_id):
    member_token = start(bearer(team.commenter), team, doc_id)
    outsider = bearer(team.outsider)
    for response in (
        outsider.get(doc_url(team.workspace, doc_id, "/versions/1/reading")),
        send(outsider, team, doc_id, member_token),
        outsider.get(doc_url(team.workspace, doc_id, "/reading")),
        outsider.get(doc_url(team.workspace, doc_id, "/readers")),
        outsider.post(doc_url(team.workspace, doc_id, "/readers/remind")),
    ):
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
    assert VersionRead.objects.count() == 0
    assert ReadReminder.objects.count() == 0


def test_a_document_of_another_workspace_is_404(team, doc_id):
    elsewhere = make_workspace(manager=team.manager)
    url = f"/api/v1/workspaces/{elsewhere.pk}/documents/{doc_id}"
    manager = bearer(team.manager)
    token = start(manager, team, doc_id)
    assert manager.get(f"{url}/readers").status_code == 404
    response = manager.post(
        f"{url}/versions/1/readings", {"token": token, "visible_seconds": 6}, JSON
    )
    assert response.status_code == 404
    assert VersionRead.objects.count() == 0


def test_a_version_that_does_not_exist_is_404(team, doc_id):
    sam = bearer(team.commenter)
    assert sam.get(doc_url(team.workspace, doc_id, "/versions/9/reading")).status_code == 404
    response = send(sam, team, doc_id, start(sam, team, doc_id), number=9)
    assert response.status_code == 404
    assert VersionRead.objects.count() == 0


def test_who_has_read_it_for_managers_and_editors(team, doc_id):
    sam = bearer(team.commenter)
    send(sam, team, doc_id, start(sam, team, doc_id))

    body = bearer(team.editor).get(doc_url(team.workspace, doc_id, "/readers")).json()
    assert body["summary"] == "1 of 4 members have read version 1"
    assert (body["version"], body["members"], body["read_count"]) == (1, 4, 1)
    assert [(r["email"], r["read_by"]) for r in body["read"]] == [("sam@example.org", "preview")]
    assert sorted(r["email"] for r in body["unread"]) == [
        "priya@example.org",
        "tom@example.org",
        "viewer@example.org",
    ]
    assert all(r["read_at"] is None for r in body["unread"])
    assert body["reminded_today"] is None


@pytest.mark.parametrize("role", ["commenter", "viewer"])
def test_others_may_not_see_who_has_read_it(team, doc_id, role):
    client = bearer(team.by_role[role])
    for response in (
        client.get(doc_url(team.workspace, doc_id, "/readers")),
        client.post(doc_url(team.workspace, doc_id, "/readers/remind")),
    ):
        assert response.status_code == 403
        assert "managers and editors" in error_of(response)["detail"]
    assert ReadReminder.objects.count() == 0


def test_an_older_version_is_chosen_with_version(team, doc_id):
    sam = bearer(team.commenter)
    send(sam, team, doc_id, start(sam, team, doc_id))
    upload_via_api(bearer(team.manager), team.workspace, content=b"Amended minutes.\n")
    editor = bearer(team.editor)
    assert editor.get(doc_url(team.workspace, doc_id, "/readers")).json()["summary"] == (
        "0 of 4 members have read version 2"
    )
    older = editor.get(doc_url(team.workspace, doc_id, "/readers?version=1"))
    assert older.json()["summary"] == "1 of 4 members have read version 1"
    assert editor.get(doc_url(team.workspace, doc_id, "/readers?version=5")).status_code == 404


def test_new_since_you_last_read_it(team, doc_id):
    sam = bearer(team.commenter)
    never = sam.get(doc_url(team.workspace, doc_id, "/reading")).json()
    assert never == {"current_version": 1, "last_read_version": None, "new_since_read": False}
    send(sam, team, doc_id, start(sam, team, doc_id))
    upload_via_api(bearer(team.manager), team.workspace, content=b"Amended minutes.\n")
    after = sam.get(doc_url(team.workspace, doc_id, "/reading")).json()
    assert after == {"current_version": 2, "last_read_version": 1, "new_since_read": True}


def test_a_download_through_the_api_is_a_reading(team, doc_id):
    viewer = bearer(team.viewer)
    response = viewer.get(doc_url(team.workspace, doc_id, "/versions/1/content"))
    assert response.status_code == 200
    assert list(VersionRead.objects.values_list("reader__email", "read_by")) == [
        ("viewer@example.org", "download")
    ]


def test_remind_once_a_day(team, doc_id):
    editor = bearer(team.editor)
    first = editor.post(doc_url(team.workspace, doc_id, "/readers/remind"))
    assert first.status_code == 201, first.content
    assert first.json()["recipients"] == 3
    assert first.json()["sent_by_email"] == "tom@example.org"
    assert Notification.objects.filter(kind="read_reminder").count() == 3

    second = bearer(team.manager).post(doc_url(team.workspace, doc_id, "/readers/remind"))
    assert second.status_code == 409
    assert error_of(second)["code"] == "reminded_today"
    assert Notification.objects.filter(kind="read_reminder").count() == 3
    readers = editor.get(doc_url(team.workspace, doc_id, "/readers")).json()
    assert readers["reminded_today"]["recipients"] == 3


def test_a_read_scoped_token_cannot_send_a_reading(team, doc_id):
    reader = bearer(team.commenter, scope="read")
    token = start(reader, team, doc_id)
    assert send(reader, team, doc_id, token).status_code in (401, 403)
    assert VersionRead.objects.count() == 0
