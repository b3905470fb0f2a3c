"""The audit trail pages: a workspace's trail for its managers, everything for administrators;
filters by person, action, document and date; CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from unittest import mock
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from commonroom.accounts.tests.factories import UserFactory
from commonroom.audit.models import Action, AuditEvent
from commonroom.core.request_info import SYSTEM
from commonroom.documents.selectors import document_access
from commonroom.documents.services import document_record_view
from commonroom.workspaces.tests.factories import make_workspace, upload_document

CSV_HEADER = [
    "seq",
    "time",
    "action",
    "actor",
    "workspace",
    "document",
    "target_type",
    "target",
    "ip",
    "user_agent",
    "details",
    "hash",
]


# The recorded days are in a November to come: a chain's times never go back, so the events of
# a workspace made today cannot be recorded in the past.
YEAR = datetime.now(UTC).year + 10


def at(day: int):
    """Record the events of the block as if they happened on November ``day`` of ``YEAR`` at
    noon (UTC)."""
    moment = datetime(YEAR, 11, day, 12, 0, tzinfo=UTC)
    return mock.patch("commonroom.audit.services.timezone.now", return_value=moment)


@pytest.fixture
def trail(team):
    """Minutes uploaded by the manager on the 2nd, the agenda by the editor on the 3rd, the
    minutes viewed by the viewer on the 4th; and an upload in another workspace."""
    ws = team.workspace
    with at(2):
        team.minutes = upload_document(ws, team.manager, name="minutes.txt")
    with at(3):
        team.agenda = upload_document(ws, team.editor, name="agenda.txt")
    with at(4):
        doc_access = document_access(
            user=team.viewer, workspace_id=ws.pk, document_id=team.minutes.pk
        )
        document_record_view(actor=team.viewer, doc_access=doc_access, info=SYSTEM)
    team.elsewhere = make_workspace(manager=team.outsider, name="Elsewhere")
    upload_document(team.elsewhere, team.outsider, name="secret.txt")
    return team


def rows(response):
    return list(response.context["page"].object_list)


def trail_url(team, **query):
    url = reverse("workspace_audit", args=[team.workspace.pk])
    if query:
        url += "?" + urlencode(query)
    return url


# --- Who may see it ----------------------------------------------------------------------------


def test_manager_sees_the_workspace_trail_and_only_it(trail, client):
    client.force_login(trail.manager)
    response = client.get(trail_url(trail))
    assert response.status_code == 200
    events = rows(response)
    assert {e.workspace_id for e in events} == {trail.workspace.pk}
    expected = AuditEvent.objects.filter(workspace_id=trail.workspace.pk).count()
    assert len(events) == expected
    assert [e.seq for e in events] == sorted((e.seq for e in events), reverse=True)
    assert b"secret.txt" not in response.content
    assert b"agenda.txt" in response.content


@pytest.mark.parametrize(
    ("role", "status"),
    [("viewer", 403), ("commenter", 403), ("editor", 403), ("non-member", 404)],
)
def test_others_cannot_see_the_trail(trail, client, role, status):
    client.force_login(trail.by_role[role])
    assert client.get(trail_url(trail)).status_code == status
    assert client.get(trail_url(trail, format="csv")).status_code == status


def test_anonymous_is_sent_to_sign_in(trail, client):
    response = client.get(trail_url(trail))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_managers_of_an_archived_workspace_still_see_its_trail(trail, client):
    trail.workspace.archived_at = datetime(2020, 12, 1, tzinfo=UTC)
    trail.workspace.save()
    client.force_login(trail.manager)
    assert client.get(trail_url(trail)).status_code == 200


# --- Filters -----------------------------------------------------------------------------------


@pytest.fixture
def manager_client(trail, client):
    client.force_login(trail.manager)
    return client


def test_filter_by_person(trail, manager_client):
    events = rows(manager_client.get(trail_url(trail, person=trail.editor.email.upper())))
    assert events
    assert {e.actor_email for e in events} == {trail.editor.email}
    assert [e.action for e in events] == [Action.DOCUMENT_UPLOADED]


def test_filter_by_action(trail, manager_client):
    events = rows(manager_client.get(trail_url(trail, action=Action.DOCUMENT_VIEWED)))
    assert [(e.action, e.actor_email) for e in events] == [
        (Action.DOCUMENT_VIEWED, trail.viewer.email)
    ]


def test_unknown_action_filter_is_ignored(trail, manager_client):
    everything = rows(manager_client.get(trail_url(trail)))
    assert rows(manager_client.get(trail_url(trail, action="drop table"))) == everything


def test_filter_by_document(trail, manager_client):
    events = rows(manager_client.get(trail_url(trail, document=str(trail.minutes.pk))))
    assert {e.document_id for e in events} == {trail.minutes.pk}
    assert sorted(e.action for e in events) == sorted(
        [Action.DOCUMENT_UPLOADED, Action.DOCUMENT_VIEWED]
    )


def test_malformed_document_filter_is_not_found(trail, manager_client):
    assert manager_client.get(trail_url(trail, document="not-a-uuid")).status_code == 404


@pytest.mark.parametrize(
    ("query", "expected_days"),
    [
        ({"from": f"{YEAR}-11-03"}, {3, 4}),
        ({"to": f"{YEAR}-11-03"}, {"today", 2, 3}),
        ({"from": f"{YEAR}-11-03", "to": f"{YEAR}-11-03"}, {3}),
        ({"from": f"{YEAR}-11-02", "to": f"{YEAR}-11-04"}, {2, 3, 4}),
        ({"from": f"{YEAR}-11-05", "to": f"{YEAR}-11-30"}, set()),
        ({"from": f"{YEAR + 1}-01-01"}, set()),
        ({"to": "2020-01-01"}, set()),
    ],
)
def test_filter_by_date(trail, manager_client, query, expected_days):
    events = rows(manager_client.get(trail_url(trail, **query)))
    # The workspace itself was created today, before the recorded November days.
    days = {e.created_at.day if e.created_at.year == YEAR else "today" for e in events}
    assert days == expected_days


def test_malformed_dates_are_ignored(trail, manager_client):
    everything = rows(manager_client.get(trail_url(trail)))
    assert rows(manager_client.get(trail_url(trail, **{"from": "yesterday"}))) == everything


def test_filters_combine(trail, manager_client):
    events = rows(
        manager_client.get(
            trail_url(trail, person=trail.manager.email, document=str(trail.agenda.pk))
        )
    )
    assert events == []


# --- CSV ---------------------------------------------------------------------------------------


def read_csv(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def test_csv_export_has_a_header_and_every_row(trail, manager_client):
    table = read_csv(manager_client.get(trail_url(trail, format="csv")))
    assert table[0] == CSV_HEADER
    expected = AuditEvent.objects.filter(workspace_id=trail.workspace.pk).order_by("-seq")
    assert [r[0] for r in table[1:]] == [str(e.seq) for e in expected]
    for row, event in zip(table[1:], expected, strict=True):
        assert row[2] == event.action
        assert row[3] == event.actor_email
        assert row[4] == str(trail.workspace.pk)
        assert row[-1] == event.hash


def test_csv_export_applies_the_filters(trail, manager_client):
    table = read_csv(
        manager_client.get(trail_url(trail, format="csv", action=Action.DOCUMENT_VIEWED))
    )
    assert table[0] == CSV_HEADER
    assert len(table) == 2
    assert table[1][2] == Action.DOCUMENT_VIEWED
    assert table[1][3] == trail.viewer.email
    assert table[1][5] == str(trail.minutes.pk)


# --- The whole trail, for administrators -------------------------------------------------------


def test_administrator_sees_everything(trail, client):
    admin = UserFactory.create(email="dev@example.org", is_superuser=True, is_staff=True)
    client.force_login(admin)
    response = client.get(reverse("global_audit"))
    assert response.status_code == 200
    workspaces = {e.workspace_id for e in rows(response)}
    assert {trail.workspace.pk, trail.elsewhere.pk} <= workspaces
    table = read_csv(client.get(reverse("global_audit") + "?format=csv"))
    assert table[0] == CSV_HEADER
    assert len(table) - 1 == AuditEvent.objects.count()


@pytest.mark.parametrize("who", ["manager", "non-member", "django-staff"])
def test_global_trail_is_not_found_for_everyone_else(trail, client, who):
    user = (
        UserFactory.create(email="helpdesk@example.org", is_staff=True)
        if who == "django-staff"
        else trail.by_role[who]
    )
    client.force_login(user)
    assert client.get(reverse("global_audit")).status_code == 404
    assert client.get(reverse("global_audit") + "?format=csv").status_code == 404


def test_global_trail_sends_anonymous_to_sign_in(db, client):
    response = client.get(reverse("global_audit"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_the_document_page_links_managers_to_its_trail(client, team):
    from commonroom.documents.tests.factories import upload

    v = upload(team.editor, team.workspace, "minutes.txt", b"x")
    link = f"/w/{team.workspace.pk}/audit/?document={v.document_id}"
    page_url = f"/w/{team.workspace.pk}/d/{v.document_id}/"
    client.force_login(team.manager)
    assert link.encode() in client.get(page_url).content
    trail = client.get(link)
    assert [e.action for e in trail.context["page"]] == ["document.viewed", "document.uploaded"]
    client.force_login(team.editor)
    assert link.encode() not in client.get(page_url).content
