"""The last day of a member's or an invitation's access through the API: shown, set, extended,
removed; refused with the API's error shape when it cannot hold, and not found for outsiders."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from api_support import API, bearer, error_of, ws_url

from commonroom.audit.models import Action, AuditEvent
from commonroom.workspaces.tests.clock import local, stopped_clock

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock(monkeypatch: Any) -> Any:
    return stopped_clock(monkeypatch, local(date(2027, 1, 25), 12))


def member_id(team: Any, user: Any) -> int:
    return int(team.workspace.memberships.get(user=user).pk)


def test_a_member_shows_their_last_day_and_a_manager_sets_extends_and_removes_it(
    team: Any,
) -> None:
    api = bearer(team.manager)
    url = ws_url(team.workspace, f"/members/{member_id(team, team.viewer)}")

    listed = {m["email"]: m for m in api.get(ws_url(team.workspace, "/members")).json()["items"]}
    assert listed[team.viewer.email]["access_until"] is None

    set_ = api.patch(url, {"access_until": "2027-01-31"}, content_type="application/json")
    assert set_.status_code == 200, set_.content
    assert set_.json()["access_until"] == "2027-01-31"
    assert set_.json()["role"] == "viewer"
    extended = api.patch(url, {"access_until": "2027-02-28"}, content_type="application/json")
    assert extended.json()["access_until"] == "2027-02-28"
    unchanged = api.patch(url, {"role": "commenter"}, content_type="application/json")
    assert unchanged.json()["role"] == "commenter"
    assert unchanged.json()["access_until"] == "2027-02-28"
    removed = api.patch(url, {"access_until": None}, content_type="application/json")
    assert removed.json()["access_until"] is None

    assert list(
        AuditEvent.objects.filter(action__startswith="member.access")
        .order_by("seq")
        .values_list("action", flat=True)
    ) == [
        Action.MEMBER_ACCESS_END_SET,
        Action.MEMBER_ACCESS_EXTENDED,
        Action.MEMBER_ACCESS_EXTENDED,
    ]


def test_the_last_day_is_told_to_managers_and_to_the_member_only(team: Any) -> None:
    url = ws_url(team.workspace, f"/members/{member_id(team, team.viewer)}")
    bearer(team.manager).patch(url, {"access_until": "2027-01-31"}, content_type="application/json")

    def told_to(user: Any) -> Any:
        listed = bearer(user).get(ws_url(team.workspace, "/members")).json()["items"]
        return {m["email"]: m["access_until"] for m in listed}[team.viewer.email]

    assert told_to(team.manager) == "2027-01-31"
    assert told_to(team.viewer) == "2027-01-31"  # their own
    assert told_to(team.editor) is None
    assert told_to(team.commenter) is None


def test_made_a_manager_and_the_date_removed_in_one_request(team: Any) -> None:
    api = bearer(team.manager)
    url = ws_url(team.workspace, f"/members/{member_id(team, team.editor)}")
    api.patch(url, {"access_until": "2027-01-31"}, content_type="application/json")

    refused = api.patch(url, {"role": "manager"}, content_type="application/json")
    assert refused.status_code == 409
    assert error_of(refused)["code"] == "access_until_manager"

    both = api.patch(
        url, {"role": "manager", "access_until": None}, content_type="application/json"
    )
    assert both.status_code == 200
    assert (both.json()["role"], both.json()["access_until"]) == ("manager", None)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"access_until": "2027-01-24"}, 400, "access_until_past"),
        ({"role": "commenter", "access_until": "2027-01-24"}, 400, "access_until_past"),
        ({"access_until": "31/01/2027"}, 422, None),
    ],
)
def test_a_bad_date_is_refused_and_changes_nothing(
    team: Any, body: dict[str, Any], status: int, code: str | None
) -> None:
    url = ws_url(team.workspace, f"/members/{member_id(team, team.viewer)}")
    response = bearer(team.manager).patch(url, body, content_type="application/json")
    assert response.status_code == status
    if code:
        assert error_of(response)["code"] == code
    membership = team.workspace.memberships.get(user=team.viewer)
    assert (membership.role, membership.access_until) == ("viewer", None)


@pytest.mark.parametrize("who", ["outsider", "editor"])
def test_only_the_workspaces_managers_change_it(team: Any, who: str) -> None:
    url = ws_url(team.workspace, f"/members/{member_id(team, team.viewer)}")
    response = bearer(getattr(team, who)).patch(
        url, {"access_until": "2027-01-31"}, content_type="application/json"
    )
    assert response.status_code == (404 if who == "outsider" else 403)
    assert team.workspace.memberships.get(user=team.viewer).access_until is None


def test_an_invitation_carries_its_last_day(team: Any) -> None:
    api = bearer(team.manager)
    made = api.post(
        ws_url(team.workspace, "/invitations"),
        {"email": "aisha@board.example.net", "role": "commenter", "access_until": "2027-01-31"},
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    assert made.json()["access_until"] == "2027-01-31"
    listed = api.get(ws_url(team.workspace, "/invitations")).json()["items"]
    assert [i["access_until"] for i in listed] == ["2027-01-31"]

    manager = api.post(
        ws_url(team.workspace, "/invitations"),
        {"email": "chair@example.org", "role": "manager", "access_until": "2027-01-31"},
        content_type="application/json",
    )
    assert manager.status_code == 400
    assert error_of(manager)["code"] == "access_until_manager"


def test_the_schema_documents_the_field(team: Any) -> None:
    schema = bearer(team.viewer).get(f"{API}/openapi.json").json()
    member = schema["components"]["schemas"]["MemberOut"]["properties"]["access_until"]
    assert "last day" in member["description"]
