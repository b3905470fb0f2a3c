"""Routes that would sidestep sign-in rules: the admin site's own login, changing one's email,
and managing tokens with a token."""

from __future__ import annotations

import pytest
from django.urls import reverse

from commonroom.accounts.models import ApiToken, User
from commonroom.accounts.services import token_create

pytestmark = pytest.mark.django_db


def test_admin_login_goes_through_allauth(client):
    User.objects.create_superuser("dev@example.org", "a-long-admin-passphrase")
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    # Posting the password straight to the admin form does not sign in.
    client.post(
        "/admin/login/?next=/admin/",
        {"username": "dev@example.org", "password": "a-long-admin-passphrase"},
    )
    assert "_auth_user_id" not in client.session


def test_email_address_cannot_be_changed_from_the_web(client, team):
    client.force_login(team.commenter)
    assert client.get("/accounts/email/").status_code == 404
    response = client.post(
        "/accounts/email/", {"action_add": "", "email": "chief.executive@example.org"}
    )
    assert response.status_code == 404
    team.commenter.refresh_from_db()
    assert team.commenter.email == "sam@example.org"


@pytest.mark.parametrize("scope", ["read", "write"])
def test_a_token_cannot_manage_tokens(client, team, scope):
    issued = token_create(actor=team.manager, name="script", scope=scope)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {issued.secret}"}
    made = client.post("/api/v1/me/tokens", {"name": "another"}, "application/json", **auth)
    listed = client.get("/api/v1/me/tokens", **auth)
    revoked = client.delete(f"/api/v1/me/tokens/{issued.token.pk}", **auth)
    assert (made.status_code, listed.status_code, revoked.status_code) == (401, 401, 401)
    assert ApiToken.objects.count() == 1
    assert ApiToken.objects.get().revoked_at is None
