"""Personal access tokens: shown once, stored hashed, scoped, revocable, last use recorded;
managed through the API with the browser session only, never with a token."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from commonroom.accounts import services
from commonroom.accounts.models import ApiToken
from commonroom.accounts.tests.factories import UserFactory
from commonroom.audit.models import Action, AuditEvent
from commonroom.core.exceptions import ApplicationError, NotFound


def api(secret: str | None = None, **extra) -> Client:
    if secret is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return Client(**extra)


def signed_in(user) -> Client:
    """A signed-in browser session sending its CSRF token, as the app's own pages do."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/")
    client.defaults["HTTP_X_CSRFTOKEN"] = client.cookies["csrftoken"].value
    return client


@pytest.fixture
def tom(db):
    return UserFactory.create(email="tom@example.org")


def test_created_token_is_shown_once_and_stored_only_as_a_hash(tom):
    issued = services.token_create(actor=tom, name="  Minutes   sync ", scope="write")

    token = ApiToken.objects.get()
    assert token.name == "Minutes sync"
    assert issued.secret.startswith(token.prefix + "_")
    assert token.secret_hash == hashlib.sha256(issued.secret.encode()).hexdigest()
    stored = [str(getattr(token, f.attname)) for f in ApiToken._meta.concrete_fields]
    assert not any(issued.secret in value for value in stored)
    event = AuditEvent.objects.get(action=Action.TOKEN_CREATED)
    assert (event.actor_id, event.target_label, event.data) == (
        tom.pk,
        "Minutes sync",
        {"scope": "write"},
    )
    assert issued.secret not in str(event.data) + event.target_id + event.target_label


def test_tokens_page_shows_the_secret_once(tom, client):
    client.force_login(tom)
    created = client.post(reverse("account_tokens"), {"name": "script", "scope": "read"})
    assert created.status_code == 200
    secret = created.context["issued"].secret
    assert secret.encode() in created.content
    again = client.get(reverse("account_tokens"))
    assert b"script" in again.content
    assert secret.encode() not in again.content
    assert api(secret).get("/api/v1/me").json()["email"] == tom.email


@pytest.mark.parametrize(("name", "scope"), [("", "read"), ("   ", "write"), ("ok", "admin")])
def test_token_needs_a_name_and_a_valid_scope(tom, name, scope):
    with pytest.raises(ApplicationError):
        services.token_create(actor=tom, name=name, scope=scope)
    assert not ApiToken.objects.exists()


def test_token_authenticates_as_its_owner(tom):
    secret = services.token_create(actor=tom, name="script").secret
    response = api(secret).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["email"] == tom.email


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),  # right prefix, wrong secret
        lambda s: s.split("_", 2)[0] + "_" + s.split("_", 2)[1],  # prefix only
        lambda s: "cr_00000000_" + s.rsplit("_", 1)[-1],  # wrong prefix
        lambda s: "",
    ],
)
def test_wrong_token_is_unauthorised(tom, mangle):
    secret = services.token_create(actor=tom, name="script").secret
    response = api(mangle(secret)).get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_no_credentials_is_unauthorised(db):
    assert api().get("/api/v1/me").status_code == 401
    assert api().get("/api/v1/workspaces").status_code == 401


def test_read_scope_cannot_write(tom):
    secret = services.token_create(actor=tom, name="reader", scope="read").secret
    client = api(secret)

    assert client.get("/api/v1/workspaces").status_code == 200
    response = client.post("/api/v1/workspaces", {"name": "Sneaky"}, "application/json")

    assert response.status_code == 403
    assert response.json()["code"] == "read_only_token"
    assert client.get("/api/v1/workspaces").json()["items"] == []


def test_write_scope_can_write(tom):
    secret = services.token_create(actor=tom, name="writer", scope="write").secret
    response = api(secret).post("/api/v1/workspaces", {"name": "Board"}, "application/json")
    assert response.status_code == 201
    assert response.json()["role"] == "manager"


def test_revoked_token_is_unauthorised(tom):
    issued = services.token_create(actor=tom, name="script")
    assert api(issued.secret).get("/api/v1/me").status_code == 200

    services.token_revoke(actor=tom, token_id=issued.token.pk)

    response = api(issued.secret).get("/api/v1/me")
    assert response.status_code == 401
    assert AuditEvent.objects.filter(action=Action.TOKEN_REVOKED, actor_id=tom.pk).exists()


def test_revoking_through_the_page_and_the_api(tom, client):
    first = services.token_create(actor=tom, name="first")
    second = services.token_create(actor=tom, name="second", scope="write")
    client.force_login(tom)
    response = client.post(reverse("account_token_revoke", args=[first.token.pk]))
    assert response.status_code == 302
    assert api(first.secret).get("/api/v1/me").status_code == 401
    # A token cannot revoke tokens (not even itself): that takes the signed-in session.
    assert api(second.secret).delete(f"/api/v1/me/tokens/{second.token.pk}").status_code == 401
    assert api(second.secret).get("/api/v1/me").status_code == 200
    assert signed_in(tom).delete(f"/api/v1/me/tokens/{second.token.pk}").status_code == 204
    assert api(second.secret).get("/api/v1/me").status_code == 401


def test_nobody_revokes_another_persons_token(tom, client):
    issued = services.token_create(actor=tom, name="script")
    sam = UserFactory.create(email="sam@example.org")
    with pytest.raises(NotFound):
        services.token_revoke(actor=sam, token_id=issued.token.pk)
    client.force_login(sam)
    assert client.post(reverse("account_token_revoke", args=[issued.token.pk])).status_code == 404
    assert api(issued.secret).get("/api/v1/me").status_code == 200


def test_token_of_a_deactivated_person_stops_working(tom):
    secret = services.token_create(actor=tom, name="script").secret
    tom.is_active = False
    tom.save()
    assert api(secret).get("/api/v1/me").status_code == 401


def test_last_use_is_recorded(tom):
    issued = services.token_create(actor=tom, name="script")
    assert issued.token.last_used_at is None

    api(issued.secret, REMOTE_ADDR="198.51.100.4").get("/api/v1/me")

    issued.token.refresh_from_db()
    assert issued.token.last_used_at is not None
    assert issued.token.last_used_ip == "198.51.100.4"
    listed = signed_in(tom).get("/api/v1/me/tokens").json()["items"]
    assert listed[0]["last_used_at"] is not None


def test_api_creates_a_token_and_shows_the_secret_once(tom):
    first = services.token_create(actor=tom, name="bootstrap", scope="write").secret
    # Even a write token cannot mint another token, which would outlive its revocation.
    refused = api(first).post(
        "/api/v1/me/tokens", {"name": "ci", "scope": "read"}, "application/json"
    )
    assert refused.status_code == 401
    assert ApiToken.objects.filter(user=tom).count() == 1
    browser = signed_in(tom)
    response = browser.post(
        "/api/v1/me/tokens", {"name": "ci", "scope": "read"}, "application/json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["scope"] == "read"
    assert api(body["secret"]).get("/api/v1/me").status_code == 200
    assert api(first).get("/api/v1/me/tokens").status_code == 401
    listed = browser.get("/api/v1/me/tokens").json()["items"]
    assert {t["name"] for t in listed} == {"bootstrap", "ci"}
    assert all("secret" not in t for t in listed)


def test_command_prints_a_working_token(tom):
    out = StringIO()
    call_command("token", "create", "TOM@example.org", "nightly export", stdout=out)

    secret = out.getvalue().strip()
    assert api(secret).get("/api/v1/me").json()["email"] == tom.email
    token = ApiToken.objects.get(user=tom)
    assert (token.name, token.scope) == ("nightly export", "read")
    assert (
        api(secret).post("/api/v1/workspaces", {"name": "x"}, "application/json").status_code == 403
    )


def test_command_creates_a_write_token_on_request(tom):
    out = StringIO()
    call_command("token", "create", tom.email, "importer", "--scope", "write", stdout=out)
    secret = out.getvalue().strip()
    response = api(secret).post("/api/v1/workspaces", {"name": "Imported"}, "application/json")
    assert response.status_code == 201


def test_command_refuses_an_unknown_person(db):
    with pytest.raises(CommandError, match=r"nobody@example\.org"):
        call_command("token", "create", "nobody@example.org", "x", stdout=StringIO())
    assert not ApiToken.objects.exists()
