"""Workspaces, members and invitations through the JSON API: what each role may do, what a
non-member sees (nothing: 404), and the shape of every answer, abilities included."""

from __future__ import annotations

import uuid

import pytest
from api_support import API, bearer, error_of, signed_in, ws_url

pytestmark = pytest.mark.django_db


def membership_id(workspace, user) -> int:
    return int(workspace.memberships.get(user=user).pk)


# --- Workspaces ------------------------------------------------------------------------------


def test_list_shows_only_my_workspaces_with_my_role_and_abilities(team):
    from commonroom.workspaces.tests.factories import make_workspace

    make_workspace(manager=team.outsider, name="Someone else's")

    listed = bearer(team.viewer).get(f"{API}/workspaces").json()["items"]

    assert [w["id"] for w in listed] == [str(team.workspace.pk)]
    (ws,) = listed
    assert ws["name"] == "Weekly budget meeting"
    assert ws["role"] == "viewer"
    assert ws["archived"] is False
    assert ws["abilities"]["view"] is True
    assert ws["abilities"]["upload"] is False
    assert ws["abilities"]["manage_members"] is False


def test_create_makes_me_its_manager(team):
    response = bearer(team.editor).post(
        f"{API}/workspaces",
        {"name": "  Finance   committee ", "description": "Monthly figures"},
        "application/json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Finance committee"
    assert body["description"] == "Monthly figures"
    assert body["role"] == "manager"
    assert body["abilities"]["manage_members"] is True
    assert uuid.UUID(body["id"])
    assert body["id"] in [
        w["id"] for w in bearer(team.editor).get(f"{API}/workspaces").json()["items"]
    ]


def test_a_guest_cannot_create_a_workspace(db):
    from commonroom.accounts.tests.factories import GuestFactory

    # (a guest allowed API tokens by an administrator, or their token would not get this far)
    response = bearer(GuestFactory(api_tokens_allowed=True)).post(
        f"{API}/workspaces", {"name": "Mine"}, "application/json"
    )

    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"


@pytest.mark.parametrize("name", ["", "   ", "x" * 121])
def test_create_refuses_a_bad_name(team, name):
    response = bearer(team.manager).post(f"{API}/workspaces", {"name": name}, "application/json")

    assert response.status_code == 400
    assert error_of(response)["code"] in {"name_required", "name_too_long"}


@pytest.mark.parametrize(
    "role, expected", [("manager", 200), ("editor", 200), ("commenter", 200), ("viewer", 200)]
)
def test_every_member_can_read_the_workspace(team, role, expected):
    response = bearer(team.by_role[role]).get(ws_url(team.workspace))

    assert response.status_code == expected
    assert response.json()["role"] == role


def test_a_non_member_gets_404_for_the_workspace_and_everything_in_it(team):
    client = bearer(team.outsider)

    for path in (
        "",
        "/members",
        "/invitations",
        "/folders",
        "/documents",
        "/trash/documents",
        "/trash/folders",
    ):
        response = client.get(ws_url(team.workspace, path))
        assert response.status_code == 404, path
        assert error_of(response) == {
            "code": "not_found",
            "detail": "This page does not exist, or you do not have access to it.",
        }
    response = client.patch(ws_url(team.workspace), {"name": "Mine now"}, "application/json")
    assert response.status_code == 404


@pytest.mark.parametrize("forged", [str(uuid.uuid4()), "not-a-uuid", "1", "..%2F..%2Fetc"])
def test_a_forged_workspace_id_is_404(team, forged):
    response = bearer(team.manager).get(f"{API}/workspaces/{forged}")

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_manager_renames_and_describes(team):
    from commonroom.audit.models import AuditEvent

    response = bearer(team.manager).patch(
        ws_url(team.workspace),
        {"name": "Weekly budget review", "description": "Tuesdays"},
        "application/json",
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Weekly budget review"
    assert response.json()["description"] == "Tuesdays"
    team.workspace.refresh_from_db()
    assert team.workspace.name == "Weekly budget review"
    assert AuditEvent.objects.filter(
        action="workspace.updated", workspace_id=team.workspace.pk
    ).exists()


@pytest.mark.parametrize("role", ["editor", "commenter", "viewer"])
def test_only_a_manager_may_change_the_workspace(team, role):
    response = bearer(team.by_role[role]).patch(
        ws_url(team.workspace), {"name": "Taken over"}, "application/json"
    )

    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"
    team.workspace.refresh_from_db()
    assert team.workspace.name == "Weekly budget meeting"


def test_archive_makes_it_read_only_and_unarchive_reopens_it(team):
    manager = bearer(team.manager)

    archived = manager.patch(ws_url(team.workspace), {"archived": True}, "application/json")

    assert archived.status_code == 200
    body = archived.json()
    assert body["archived"] is True
    assert body["abilities"]["upload"] is False
    assert body["abilities"]["manage_members"] is False
    assert body["abilities"]["unarchive"] is True
    # Still readable, but nothing can be changed while archived.
    assert bearer(team.viewer).get(ws_url(team.workspace, "/documents")).status_code == 200
    refused = manager.patch(ws_url(team.workspace), {"name": "Changed"}, "application/json")
    assert refused.status_code == 403
    assert "archived" in error_of(refused)["detail"]
    assert manager.post(
        ws_url(team.workspace, "/folders"), {"name": "New"}, "application/json"
    ).status_code == (403)

    reopened = manager.patch(ws_url(team.workspace), {"archived": False}, "application/json")

    assert reopened.status_code == 200
    assert reopened.json()["archived"] is False
    assert reopened.json()["abilities"]["upload"] is True


def test_unarchive_and_rename_in_one_request(team):
    manager = bearer(team.manager)
    manager.patch(ws_url(team.workspace), {"archived": True}, "application/json")

    response = manager.patch(
        ws_url(team.workspace), {"archived": False, "name": "Reopened"}, "application/json"
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Reopened"
    assert response.json()["archived"] is False


def test_only_a_manager_may_archive(team):
    response = bearer(team.editor).patch(
        ws_url(team.workspace), {"archived": True}, "application/json"
    )

    assert response.status_code == 403
    team.workspace.refresh_from_db()
    assert team.workspace.archived_at is None


def test_a_patch_body_that_is_not_an_object_is_refused(team):
    response = bearer(team.manager).patch(ws_url(team.workspace), "[]", "application/json")

    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"


def test_a_patch_with_a_wrongly_typed_field_is_422_with_the_field_named(team):
    response = bearer(team.manager).patch(
        ws_url(team.workspace), {"archived": 1}, "application/json"
    )

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid"
    assert error["detail"][0]["loc"][-1] == "archived"


# --- Members ---------------------------------------------------------------------------------


def test_members_list_every_member_with_their_role(team):
    listed = bearer(team.viewer).get(ws_url(team.workspace, "/members")).json()["items"]

    assert {m["email"]: m["role"] for m in listed} == {
        "priya@example.org": "manager",
        "tom@example.org": "editor",
        "sam@example.org": "commenter",
        "viewer@example.org": "viewer",
    }
    assert {m["id"] for m in listed} == set(team.workspace.memberships.values_list("pk", flat=True))


def test_manager_changes_a_role(team):
    from commonroom.audit.models import AuditEvent

    member = membership_id(team.workspace, team.viewer)

    response = bearer(team.manager).patch(
        ws_url(team.workspace, f"/members/{member}"), {"role": "editor"}, "application/json"
    )

    assert response.status_code == 200
    assert response.json()["role"] == "editor"
    assert bearer(team.viewer).get(ws_url(team.workspace)).json()["abilities"]["upload"] is True
    assert AuditEvent.objects.filter(action="member.role_changed", target_id=str(team.viewer.pk))


@pytest.mark.parametrize("role", ["editor", "commenter", "viewer"])
def test_only_a_manager_may_change_roles(team, role):
    member = membership_id(team.workspace, team.viewer)

    response = bearer(team.by_role[role]).patch(
        ws_url(team.workspace, f"/members/{member}"), {"role": "manager"}, "application/json"
    )

    assert response.status_code == 403
    assert team.workspace.memberships.get(user=team.viewer).role == "viewer"


def test_an_unknown_role_is_422(team):
    member = membership_id(team.workspace, team.viewer)

    response = bearer(team.manager).patch(
        ws_url(team.workspace, f"/members/{member}"), {"role": "owner"}, "application/json"
    )

    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid"


def test_the_last_manager_cannot_step_down_or_be_removed(team):
    me = membership_id(team.workspace, team.manager)
    client = bearer(team.manager)

    demoted = client.patch(
        ws_url(team.workspace, f"/members/{me}"), {"role": "viewer"}, "application/json"
    )
    removed = client.delete(ws_url(team.workspace, f"/members/{me}"))

    for response in (demoted, removed):
        assert response.status_code == 409
        assert error_of(response)["code"] == "last_manager"
    assert team.workspace.memberships.get(user=team.manager).role == "manager"


def test_removing_a_member_cuts_off_their_token_from_the_workspace_at_once(team):
    from commonroom.audit.models import AuditEvent

    removed_client = bearer(team.editor)
    assert removed_client.get(ws_url(team.workspace, "/documents")).status_code == 200

    response = bearer(team.manager).delete(
        ws_url(team.workspace, f"/members/{membership_id(team.workspace, team.editor)}")
    )

    assert response.status_code == 204
    assert response.content == b""
    assert removed_client.get(ws_url(team.workspace)).status_code == 404
    assert removed_client.get(ws_url(team.workspace, "/documents")).status_code == 404
    assert removed_client.get(f"{API}/workspaces").json() == {"items": [], "next": None}
    assert AuditEvent.objects.filter(action="member.removed", target_id=str(team.editor.pk))


@pytest.mark.parametrize("forged", ["999999", "-1", "0", "abc", str(2**70)])
def test_a_forged_member_id_is_404(team, forged):
    response = bearer(team.manager).delete(ws_url(team.workspace, f"/members/{forged}"))

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert team.workspace.memberships.count() == 4


def test_a_member_of_another_workspace_cannot_be_changed_from_this_one(team):
    from commonroom.workspaces.tests.factories import add_member, make_workspace

    other = make_workspace(manager=team.outsider, name="Other")
    add_member(other, team.viewer, "viewer")
    foreign = membership_id(other, team.viewer)

    response = bearer(team.manager).patch(
        ws_url(team.workspace, f"/members/{foreign}"), {"role": "manager"}, "application/json"
    )

    assert response.status_code == 404
    assert other.memberships.get(user=team.viewer).role == "viewer"


# --- Invitations -----------------------------------------------------------------------------


def test_invite_emails_the_link_and_never_returns_it(
    team, smtp_server, django_capture_on_commit_callbacks
):
    from commonroom.audit.models import AuditEvent

    with django_capture_on_commit_callbacks(execute=True):
        response = bearer(team.manager).post(
            ws_url(team.workspace, "/invitations"),
            {"email": "Aisha@Example.org", "role": "commenter"},
            "application/json",
        )

    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "aisha@example.org"
    assert body["role"] == "commenter"
    assert body["status"] == "pending"
    assert "url" not in body
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "aisha@example.org"
    assert "/invitations/" in smtp_server.body(message)
    assert "/invitations/" not in response.content.decode()
    assert "Weekly budget meeting" in message["Subject"]
    assert AuditEvent.objects.filter(action="invitation.sent", target_label="aisha@example.org")


def invite_by_api(team, smtp_server, capture, email="aisha@example.org"):
    """Invite through the API; return the response body and the link's path from the email."""
    import re

    with capture(execute=True):
        body = (
            bearer(team.manager)
            .post(
                ws_url(team.workspace, "/invitations"),
                {"email": email, "role": "commenter"},
                "application/json",
            )
            .json()
        )
    (message,) = smtp_server.wait_for(1)
    match = re.search(r"https?://[^/\s]+(/invitations/\S+/)", smtp_server.body(message))
    assert match, smtp_server.body(message)
    return body, match.group(1)


def test_the_invitation_link_works_once(team, smtp_server, django_capture_on_commit_callbacks):
    from django.test import Client

    _, path = invite_by_api(team, smtp_server, django_capture_on_commit_callbacks)

    assert Client().get(path).status_code == 200


def test_invitations_are_listed_for_managers_only(team):
    client = bearer(team.manager)
    client.post(
        ws_url(team.workspace, "/invitations"),
        {"email": "aisha@example.org", "role": "viewer"},
        "application/json",
    )

    listed = client.get(ws_url(team.workspace, "/invitations")).json()["items"]
    refused = bearer(team.editor).get(ws_url(team.workspace, "/invitations"))

    assert [(i["email"], i["role"], i["status"]) for i in listed] == [
        ("aisha@example.org", "viewer", "pending")
    ]
    assert all("url" not in i and "token" not in str(i) for i in listed)
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "permission_denied"


@pytest.mark.parametrize("role", ["editor", "commenter", "viewer"])
def test_only_a_manager_may_invite(team, role):
    from commonroom.workspaces.models import Invitation

    response = bearer(team.by_role[role]).post(
        ws_url(team.workspace, "/invitations"),
        {"email": "aisha@example.org", "role": "viewer"},
        "application/json",
    )

    assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_inviting_a_member_is_a_conflict(team):
    response = bearer(team.manager).post(
        ws_url(team.workspace, "/invitations"),
        {"email": "tom@example.org", "role": "viewer"},
        "application/json",
    )

    assert response.status_code == 409
    assert error_of(response)["code"] == "already_member"


@pytest.mark.parametrize(
    "payload, status",
    [
        ({"email": "not an address", "role": "viewer"}, 400),
        ({"email": "aisha@example.org", "role": "owner"}, 422),
        ({"email": "aisha@example.org"}, 422),
    ],
)
def test_a_bad_invitation_is_refused(team, payload, status):
    response = bearer(team.manager).post(
        ws_url(team.workspace, "/invitations"), payload, "application/json"
    )

    assert response.status_code == status
    error_of(response)


def test_withdrawing_an_invitation_makes_its_link_useless(
    team, smtp_server, django_capture_on_commit_callbacks
):
    from django.test import Client

    client = bearer(team.manager)
    created, path = invite_by_api(team, smtp_server, django_capture_on_commit_callbacks)

    response = client.delete(ws_url(team.workspace, f"/invitations/{created['id']}"))

    assert response.status_code == 204
    listed = client.get(ws_url(team.workspace, "/invitations")).json()["items"]
    assert [i["status"] for i in listed] == ["withdrawn"]
    assert Client().get(path).status_code == 410


def test_withdrawing_a_forged_invitation_is_404(team):
    response = bearer(team.manager).delete(ws_url(team.workspace, f"/invitations/{uuid.uuid4()}"))

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize(
    "path, payload",
    [
        ("/workspaces", {"name": "Budget\x00"}),
        ("/workspaces", {"name": "Budget", "description": "a\x00b"}),
        ("/me/tokens", {"name": "sync\x00"}),
    ],
)
def test_text_with_a_nul_character_is_422_not_a_database_error(team, path, payload):
    from commonroom.accounts.models import ApiToken
    from commonroom.workspaces.models import Workspace

    # Tokens are managed with the browser session only.
    client = signed_in(team.manager) if path == "/me/tokens" else bearer(team.manager)
    tokens = ApiToken.objects.count()

    response = client.post(f"{API}{path}", payload, "application/json")

    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid"
    assert Workspace.objects.count() == 1
    assert ApiToken.objects.count() == tokens
