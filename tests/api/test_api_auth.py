"""Who the API lets in: personal access tokens (scoped, revocable, stored hashed, last use
recorded) and the browser session (whose writes need the CSRF token); and the caller's own
account and tokens under /me. Tokens are managed with the browser session only: a token cannot
list, create or revoke tokens, so a leaked one can never mint another that outlives it."""

from __future__ import annotations

import pytest
from api_support import (
    API,
    as_user,
    bearer,
    csrf_token,
    error_of,
    session,
    signed_in,
    token_for,
    ws_url,
)
from django.test import Client

pytestmark = pytest.mark.django_db


# --- Tokens as credentials -------------------------------------------------------------------


def test_a_bearer_token_acts_as_its_owner(team):
    response = bearer(team.editor).get(f"{API}/me")

    assert response.status_code == 200
    assert response.json() == {
        "id": team.editor.pk,
        "email": "tom@example.org",
        "full_name": team.editor.full_name,
        "kind": "staff",
    }


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer ",
        "Bearer cr_00000000_not-a-real-token",
        "Bearer not-even-the-right-shape",
        "Basic cHJpeWFAZXhhbXBsZS5vcmc6cGFzc3dvcmQ=",
    ],
)
def test_without_valid_credentials_every_call_is_401(team, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    client = Client(headers=headers)

    for response in (
        client.get(f"{API}/me"),
        client.get(f"{API}/workspaces"),
        client.post(f"{API}/workspaces", {"name": "Sneaky"}, content_type="application/json"),
    ):
        assert response.status_code == 401
        assert error_of(response)["code"] == "unauthorized"


def test_a_token_with_the_right_prefix_but_a_wrong_secret_is_refused(team):
    secret = token_for(team.manager)
    forged = secret[:-4] + ("aaaa" if not secret.endswith("aaaa") else "bbbb")

    response = Client(headers={"Authorization": f"Bearer {forged}"}).get(f"{API}/me")

    assert response.status_code == 401


def test_a_read_token_reads_but_may_not_write(team):
    client = bearer(team.manager, "read")

    assert client.get(ws_url(team.workspace)).status_code == 200
    response = client.patch(
        ws_url(team.workspace), {"name": "Renamed"}, content_type="application/json"
    )

    assert response.status_code == 403
    assert error_of(response)["code"] == "read_only_token"
    team.workspace.refresh_from_db()
    assert team.workspace.name == "Weekly budget meeting"


def test_a_revoked_token_stops_working_at_once(team):
    secret = token_for(team.viewer, "read")
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    assert client.get(f"{API}/me").status_code == 200
    browser = signed_in(team.viewer)
    token_id = browser.get(f"{API}/me/tokens").json()["items"][0]["id"]

    revoked = browser.delete(f"{API}/me/tokens/{token_id}")

    assert revoked.status_code == 204
    assert client.get(f"{API}/me").status_code == 401


def test_a_token_records_its_last_use(team):
    from commonroom.accounts.models import ApiToken

    secret = token_for(team.viewer, "read")
    token = ApiToken.objects.get(user=team.viewer)
    assert token.last_used_at is None

    Client(headers={"Authorization": f"Bearer {secret}"}).get(f"{API}/me", REMOTE_ADDR="10.9.8.7")

    token.refresh_from_db()
    assert token.last_used_at is not None
    assert token.last_used_ip == "10.9.8.7"


def test_a_deactivated_person_token_no_longer_works(team):
    client = bearer(team.editor)
    team.editor.is_active = False
    team.editor.save(update_fields=["is_active"])

    assert client.get(f"{API}/me").status_code == 401


# --- The browser session ---------------------------------------------------------------------


def test_a_signed_in_session_can_read(team):
    response = session(team.viewer).get(f"{API}/workspaces")

    assert response.status_code == 200
    assert [w["id"] for w in response.json()["items"]] == [str(team.workspace.pk)]


def test_a_session_write_without_the_csrf_token_is_refused(team):
    client = session(team.manager)

    response = client.post(
        f"{API}/workspaces", {"name": "Forged from another site"}, content_type="application/json"
    )

    assert response.status_code == 403
    assert error_of(response)["code"] == "csrf_failed"
    from commonroom.workspaces.models import Workspace

    assert not Workspace.objects.filter(name="Forged from another site").exists()


def test_a_session_upload_without_the_csrf_token_is_refused(team):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from commonroom.documents.models import Document

    client = session(team.editor)

    response = client.post(
        ws_url(team.workspace, "/documents"),
        {"file": SimpleUploadedFile("minutes.txt", b"hello", content_type="text/plain")},
    )

    assert response.status_code == 403
    assert error_of(response)["code"] == "csrf_failed"
    assert not Document.objects.exists()


def test_a_session_write_with_the_csrf_token_goes_through(team):
    client = session(team.manager)
    token = csrf_token(client)

    response = client.post(
        f"{API}/workspaces",
        {"name": "Board papers"},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )

    assert response.status_code == 201
    assert response.json()["name"] == "Board papers"


def test_a_wrong_csrf_token_is_refused(team):
    client = session(team.manager)
    csrf_token(client)

    response = client.delete(
        ws_url(team.workspace, f"/members/{team.viewer.memberships.get().pk}"),
        headers={"X-CSRFToken": "x" * 32},
    )

    assert response.status_code == 403
    assert error_of(response)["code"] == "csrf_failed"
    assert team.viewer.memberships.exists()


def test_an_anonymous_write_is_401_not_a_csrf_refusal():
    response = Client(enforce_csrf_checks=True).post(
        f"{API}/workspaces", {"name": "x"}, content_type="application/json"
    )

    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"


def test_a_bearer_token_needs_no_csrf_token(team):
    client = Client(
        enforce_csrf_checks=True, headers={"Authorization": f"Bearer {token_for(team.manager)}"}
    )

    response = client.post(
        f"{API}/workspaces", {"name": "Scripted"}, content_type="application/json"
    )

    assert response.status_code == 201


# --- /me and /me/tokens ----------------------------------------------------------------------


def test_a_bearer_token_cannot_list_create_or_revoke_tokens(team):
    """A leaked token must not mint tokens that outlive its revocation: /me/tokens takes the
    browser session only, and a token (even a write one, with no CSRF check to fail) gets 401."""
    from commonroom.accounts.models import ApiToken

    secret = token_for(team.manager, "write")
    own = ApiToken.objects.get(user=team.manager)
    client = Client(headers={"Authorization": f"Bearer {secret}"})

    for response in (
        client.get(f"{API}/me/tokens"),
        client.post(f"{API}/me/tokens", {"name": "escape", "scope": "write"}, "application/json"),
        client.delete(f"{API}/me/tokens/{own.pk}"),
    ):
        assert response.status_code == 401
        assert error_of(response)["code"] == "unauthorized"
    assert list(ApiToken.objects.values_list("pk", "revoked_at")) == [(own.pk, None)]
    # The token itself still works where tokens are accepted.
    assert client.get(f"{API}/me").status_code == 200


def test_creating_a_token_from_the_session_without_the_csrf_token_is_refused(team):
    from commonroom.accounts.models import ApiToken

    response = session(team.manager).post(
        f"{API}/me/tokens", {"name": "forged", "scope": "write"}, "application/json"
    )

    assert response.status_code == 403
    assert error_of(response)["code"] == "csrf_failed"
    assert not ApiToken.objects.exists()


def test_create_a_token_shows_its_secret_once_and_stores_only_its_hash(team):
    from commonroom.accounts.models import ApiToken
    from commonroom.audit.models import AuditEvent

    client = signed_in(team.manager)

    created = client.post(
        f"{API}/me/tokens", {"name": "  Minutes   sync ", "scope": "write"}, "application/json"
    )

    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "Minutes sync"
    assert body["scope"] == "write"
    secret = body["secret"]
    assert secret.startswith(body["prefix"] + "_")
    stored = ApiToken.objects.get(pk=body["id"])
    assert secret not in (stored.secret_hash, stored.prefix, stored.name)
    assert AuditEvent.objects.filter(action="token.created", target_id=body["prefix"]).exists()
    # The new token works, and the list never shows a secret again.
    assert Client(headers={"Authorization": f"Bearer {secret}"}).get(f"{API}/me").status_code == 200
    listed = client.get(f"{API}/me/tokens").json()["items"]
    assert body["id"] in [t["id"] for t in listed]
    assert all("secret" not in t for t in listed)
    assert secret not in str(listed)


def test_a_new_token_is_read_only_unless_write_is_asked_for(team):
    body = signed_in(team.manager).post(f"{API}/me/tokens", {"name": "Reports"}, "application/json")

    assert body.status_code == 201
    assert body.json()["scope"] == "read"


@pytest.mark.parametrize(
    "payload, status",
    [
        ({"name": "   "}, 400),
        ({"name": "x", "scope": "admin"}, 422),
        ({"scope": "read"}, 422),
    ],
)
def test_an_invalid_token_request_is_refused(team, payload, status):
    response = signed_in(team.manager).post(f"{API}/me/tokens", payload, "application/json")

    assert response.status_code == status
    error_of(response)


def test_the_token_list_holds_only_my_tokens(team):
    token_for(team.editor)
    token_for(team.viewer)

    listed = signed_in(team.viewer).get(f"{API}/me/tokens").json()["items"]

    from commonroom.accounts.models import ApiToken

    assert {t["id"] for t in listed} == set(
        ApiToken.objects.filter(user=team.viewer).values_list("pk", flat=True)
    )


def test_revoking_someone_elses_token_is_404_and_leaves_it_working(team):
    from commonroom.accounts.models import ApiToken

    secret = token_for(team.editor, "read")
    editors = ApiToken.objects.get(user=team.editor)

    response = signed_in(team.manager).delete(f"{API}/me/tokens/{editors.pk}")

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert Client(headers={"Authorization": f"Bearer {secret}"}).get(f"{API}/me").status_code == 200


def test_revoking_is_recorded_and_shown_in_the_list(team):
    from commonroom.audit.models import AuditEvent

    client = signed_in(team.manager)
    created = client.post(f"{API}/me/tokens", {"name": "Old script"}, "application/json").json()

    assert client.delete(f"{API}/me/tokens/{created['id']}").status_code == 204

    listed = {t["id"]: t for t in client.get(f"{API}/me/tokens").json()["items"]}
    assert listed[created["id"]]["revoked_at"] is not None
    assert AuditEvent.objects.filter(action="token.revoked", target_id=created["prefix"]).exists()


def test_me_as_anonymous_is_401():
    assert as_user(None).get(f"{API}/me").status_code == 401


def test_a_session_without_a_required_second_factor_cannot_use_the_api(team, settings):
    """Otherwise a password alone could mint a write token and skip the second factor."""
    from commonroom.accounts.models import ApiToken

    settings.COMMONROOM_MFA_REQUIRED = "all"
    client = session(team.manager)
    # Every page sends this person to set up a second factor; a valid CSRF pair all the same.
    csrf = "k" * 32
    client.cookies["csrftoken"] = csrf

    for response in (
        client.get(f"{API}/workspaces"),
        client.post(
            f"{API}/me/tokens",
            {"name": "escape hatch", "scope": "write"},
            "application/json",
            headers={"X-CSRFToken": csrf},
        ),
    ):
        assert response.status_code == 403
        assert error_of(response)["code"] == "second_factor_required"
    assert not ApiToken.objects.exists()


def test_a_session_with_its_second_factor_can_use_the_api(team, settings):
    from allauth.mfa.models import Authenticator

    settings.COMMONROOM_MFA_REQUIRED = "all"
    Authenticator.objects.create(user=team.manager, type=Authenticator.Type.TOTP, data={})

    assert session(team.manager).get(f"{API}/workspaces").status_code == 200
