"""Single sign-on against a real OpenID provider on loopback (tests/oidc: panva's oidc-provider).

The person's part at the provider is played with an HTTP client; Commonroom is the Django test
client. What a browser sees end to end is tests/e2e/test_sso.py.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from django.test import Client

from commonroom.accounts.models import User, UserKind
from commonroom.accounts.tests.factories import UserFactory
from commonroom.accounts.tests.oidc_provider import (
    OidcProvider,
    callback_path,
    configure,
    running_provider,
    sign_in_at_provider,
    wait_gone,
)
from commonroom.audit.actions import Action
from commonroom.audit.models import AuditEvent

CALLBACK = "http://testserver/accounts/oidc/sso/login/callback/"
SIGNED_OUT = "http://testserver/accounts/login/"
START = "/accounts/oidc/sso/login/"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with running_provider([CALLBACK], [SIGNED_OUT]) as running:
        yield running


@pytest.fixture
def sso(settings: Any, provider: OidcProvider) -> OidcProvider:
    configure(settings, provider)
    provider.id_token_mode("normal")
    return provider


def start(client: Client, next_url: str = "") -> str:
    """Press "Sign in with NHSmail": the address of the provider the browser is sent to."""
    response = client.post(START + (f"?next={next_url}" if next_url else ""))
    assert response.status_code == 302, response.content[:500]
    return str(response["Location"])


def sign_in(client: Client, email: str, *, mfa: bool = False, next_url: str = "") -> Any:
    location = sign_in_at_provider(start(client, next_url), email, mfa=mfa)
    return client.get(callback_path(location))


def test_the_sign_in_page_offers_the_button_only_when_configured(
    client: Client, settings: Any, provider: OidcProvider
) -> None:
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with NHSmail" not in page
    configure(settings, provider)
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with NHSmail" in page
    assert 'action="/accounts/oidc/sso/login/' in page
    assert "Or sign in with your email address" in page


def test_staff_sign_in_links_the_existing_account_by_its_verified_address(
    client: Client, sso: OidcProvider
) -> None:
    aisha = UserFactory.create(email="aisha.khan@nhs.net", full_name="Aisha Khan")
    password_before = aisha.password
    response = sign_in(client, "aisha.khan@nhs.net", mfa=True)
    assert response.status_code == 302
    assert client.get("/").wsgi_request.user == aisha
    linked = SocialAccount.objects.get(user=aisha)
    assert linked.provider == "sso"
    aisha.refresh_from_db()
    assert aisha.password == password_before  # linking leaves her password alone
    assert EmailAddress.objects.get(user=aisha).verified
    assert AuditEvent.objects.filter(action=Action.SSO_LINKED, actor_id=aisha.pk).exists()
    login = AuditEvent.objects.filter(action=Action.LOGIN, actor_id=aisha.pk).latest("id")
    assert login.data["method"] == "sso"
    assert login.data["amr"] == ["pwd", "mfa"]
    assert login.data["acr"] == "AAL2"
    assert login.data["second_factor_at_provider"] is True
    # The authorisation request carried PKCE (S256) and a nonce.
    sent = sso.last_authorisation()
    assert sent["code_challenge_method"] == "S256"
    assert len(sent["nonce"]) >= 32
    assert "scope" in sent and "openid" in sent["scope"].split()


def test_a_second_sign_in_finds_the_link_and_goes_where_the_person_was_going(
    client: Client, sso: OidcProvider, team: Any
) -> None:
    tom = UserFactory.create(email="tom.baker@nhs.net")
    from commonroom.workspaces.tests.factories import add_member

    add_member(team.workspace, tom, "editor")
    sign_in(client, "tom.baker@nhs.net", mfa=True)
    client.logout()
    target = f"/w/{team.workspace.pk}/"
    response = sign_in(client, "tom.baker@nhs.net", mfa=True, next_url=target)
    assert response.status_code == 302
    assert response["Location"] == target
    assert SocialAccount.objects.filter(user=tom).count() == 1
    assert client.get(target).status_code == 200


def test_first_sign_in_makes_a_staff_account_for_a_configured_domain(
    client: Client, sso: OidcProvider
) -> None:
    assert not User.objects.filter(email="newcomer@nhs.net").exists()
    response = sign_in(client, "newcomer@nhs.net", mfa=True)
    assert response.status_code == 302
    made = User.objects.get(email="newcomer@nhs.net")
    assert made.kind == UserKind.STAFF
    assert made.full_name == "Nia Newcomer"
    assert not made.has_usable_password()
    assert client.get("/").wsgi_request.user == made
    assert AuditEvent.objects.filter(action=Action.ACCOUNT_CREATED_SSO, actor_id=made.pk).exists()


def test_an_address_outside_the_configured_domains_is_refused_and_nothing_is_made(
    client: Client, sso: OidcProvider
) -> None:
    response = sign_in(client, "someone@gmail.com", mfa=True)
    assert response.status_code == 403
    text = response.content.decode()
    assert "only for addresses at @nhs.net" in text
    assert "sign in with your email address and password" in text
    assert not User.objects.filter(email="someone@gmail.com").exists()
    assert not client.get("/").wsgi_request.user.is_authenticated
    failed = AuditEvent.objects.filter(action=Action.LOGIN_FAILED).latest("id")
    assert failed.data["reason"] == "sso_refused"


def test_a_guest_with_an_outside_address_cannot_come_in_through_the_provider(
    client: Client, sso: OidcProvider
) -> None:
    guest = UserFactory.create(email="someone@gmail.com", kind=UserKind.GUEST)
    response = sign_in(client, "someone@gmail.com", mfa=True)
    assert response.status_code == 403
    assert not SocialAccount.objects.filter(user=guest).exists()
    assert not client.get("/").wsgi_request.user.is_authenticated


def test_an_address_the_provider_has_not_verified_is_refused(
    client: Client, sso: OidcProvider
) -> None:
    existing = UserFactory.create(email="unverified@nhs.net")
    response = sign_in(client, "unverified@nhs.net", mfa=True)
    assert response.status_code == 403
    assert "has not confirmed" in response.content.decode()
    assert not SocialAccount.objects.filter(user=existing).exists()
    assert not client.get("/").wsgi_request.user.is_authenticated


@pytest.mark.parametrize("mode", ["forged", "expired", "audience", "nonce"])
def test_an_id_token_that_cannot_be_trusted_signs_nobody_in(
    client: Client, sso: OidcProvider, mode: str
) -> None:
    """Signed by another key, expired, for another client, or answering another sign-in."""
    aisha = UserFactory.create(email="aisha.khan@nhs.net")
    sso.id_token_mode(mode)
    response = sign_in(client, "aisha.khan@nhs.net", mfa=True)
    assert response.status_code == 400
    assert "could not be trusted or had expired" in response.content.decode()
    assert not client.get("/").wsgi_request.user.is_authenticated
    assert not SocialAccount.objects.filter(user=aisha).exists()
    failed = AuditEvent.objects.filter(action=Action.LOGIN_FAILED).latest("id")
    assert failed.data["reason"] == "sso_failed"


def test_a_callback_replayed_or_forged_signs_nobody_in(client: Client, sso: OidcProvider) -> None:
    UserFactory.create(email="aisha.khan@nhs.net")
    location = sign_in_at_provider(start(client), "aisha.khan@nhs.net", mfa=True)
    assert client.get(callback_path(location)).status_code == 302
    client.logout()
    # The same code and state again, in the same browser: the state was used up.
    again = client.get(callback_path(location))
    assert again.status_code in (400, 403)
    assert not client.get("/").wsgi_request.user.is_authenticated
    # A made-up code with a state this browser never had.
    forged = client.get("/accounts/oidc/sso/login/callback/?code=abc&state=xyz")
    assert forged.status_code in (400, 403)
    assert not client.get("/").wsgi_request.user.is_authenticated


def test_the_provider_down_is_a_sentence_not_a_500(
    client: Client, settings: Any, sso: OidcProvider
) -> None:
    down = OidcProvider([CALLBACK])
    down.start()
    configure(settings, down)
    location = start(client)
    assert location.startswith(down.issuer)
    down.stop()
    wait_gone(down)
    # Pressing the button while it is down...
    response = client.post(START)
    assert response.status_code == 503
    assert "NHSmail is not answering at the moment" in response.content.decode()
    # ...and coming back to us after it went down mid-way.
    back = client.get("/accounts/oidc/sso/login/callback/?code=abc&state=whatever")
    assert back.status_code in (400, 503)
    assert b"Traceback" not in back.content


def test_the_providers_second_factor_spares_staff_a_second_one_here(
    client: Client, settings: Any, sso: OidcProvider
) -> None:
    settings.COMMONROOM_MFA_REQUIRED = "staff"
    UserFactory.create(email="aisha.khan@nhs.net")
    sign_in(client, "aisha.khan@nhs.net", mfa=True)
    assert client.get("/").status_code == 200  # not sent to set up a second factor
    assert client.get("/api/v1/me").status_code == 200


def test_without_the_providers_second_factor_staff_still_need_ours(
    client: Client, settings: Any, sso: OidcProvider
) -> None:
    settings.COMMONROOM_MFA_REQUIRED = "staff"
    UserFactory.create(email="aisha.khan@nhs.net")
    sign_in(client, "aisha.khan@nhs.net", mfa=False)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/second-factor/")


def test_an_acr_level_can_count_as_the_second_factor(
    client: Client, settings: Any, sso: OidcProvider
) -> None:
    """NHS CIS2 says its assurance level in `acr`; an operator names the levels that count."""
    settings.COMMONROOM_MFA_REQUIRED = "staff"
    settings.COMMONROOM_OIDC_MFA_AMR = set()
    settings.COMMONROOM_OIDC_MFA_ACR = {"AAL2"}
    UserFactory.create(email="aisha.khan@nhs.net")
    sign_in(client, "aisha.khan@nhs.net", mfa=True)
    assert client.get("/").status_code == 200


def test_a_local_second_factor_is_not_asked_again_after_the_providers(
    client: Client, sso: OidcProvider
) -> None:
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    aisha = UserFactory.create(email="aisha.khan@nhs.net")
    TOTP.activate(aisha, generate_totp_secret())
    response = sign_in(client, "aisha.khan@nhs.net", mfa=True)
    assert response.status_code == 302
    assert "/accounts/2fa/authenticate/" not in response["Location"]
    assert client.get("/").wsgi_request.user == aisha
    # Without the provider's, ours is asked for.
    client.logout()
    response = sign_in(client, "aisha.khan@nhs.net", mfa=False)
    assert "/accounts/2fa/authenticate/" in response["Location"]
    assert not client.get("/").wsgi_request.user.is_authenticated
    assert Authenticator.objects.filter(user=aisha).count() == 1


def test_a_code_by_email_is_not_asked_after_the_providers_second_factor(
    client: Client, sso: OidcProvider, mailoutbox: Any
) -> None:
    from commonroom.accounts.models import EmailCodeFactor

    aisha = UserFactory.create(email="aisha.khan@nhs.net")
    EmailCodeFactor.objects.create(user=aisha)
    response = sign_in(client, "aisha.khan@nhs.net", mfa=True)
    assert "/accounts/email-code/" not in response["Location"]
    assert client.get("/").wsgi_request.user == aisha
    assert mailoutbox == []
    # Without the provider's, a code is emailed and asked for.
    client.logout()
    response = sign_in(client, "aisha.khan@nhs.net", mfa=False)
    assert response["Location"] == "/accounts/email-code/"
    assert not client.get("/").wsgi_request.user.is_authenticated
    assert [m.to for m in mailoutbox] == [["aisha.khan@nhs.net"]]


def test_signing_out_signs_out_at_the_provider_too(client: Client, sso: OidcProvider) -> None:
    UserFactory.create(email="aisha.khan@nhs.net")
    sign_in(client, "aisha.khan@nhs.net", mfa=True)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    where = urlsplit(response["Location"])
    assert f"{where.scheme}://{where.netloc}" == sso.issuer
    assert where.path == "/session/end"
    query = parse_qs(where.query)
    assert query["post_logout_redirect_uri"] == [SIGNED_OUT]
    assert query["client_id"] == ["commonroom-test"]
    assert query["id_token_hint"][0].count(".") == 2
    assert not client.get("/").wsgi_request.user.is_authenticated


def test_a_password_sign_out_stays_here(client: Client, sso: OidcProvider) -> None:
    from commonroom.accounts.tests.factories import PASSWORD

    UserFactory.create(email="aisha.khan@nhs.net")
    client.post("/accounts/login/", {"login": "aisha.khan@nhs.net", "password": PASSWORD})
    assert client.get("/").wsgi_request.user.is_authenticated
    response = client.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/"


def test_no_request_parameter_changes_what_is_asked_of_the_provider(
    client: Client, sso: OidcProvider
) -> None:
    response = client.post(START + "?auth_params=nonce%3Dmine%26prompt%3Dnone&scope=offline_access")
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["nonce"][0] != "mine"
    assert sorted(query["scope"][0].split()) == ["email", "openid", "profile"]
    assert "prompt" not in query
    assert query["code_challenge_method"] == ["S256"]


def test_the_environment_configures_it() -> None:
    """COMMONROOM_OIDC_* make the provider; without an issuer there is none."""
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='commonroom.settings';"
        "django.setup(); from django.conf import settings as s;"
        "a = s.SOCIALACCOUNT_PROVIDERS['openid_connect']['APPS'];"
        "print(len(a), a and a[0]['name'], a and a[0]['settings']['server_url'],"
        " sorted(s.COMMONROOM_OIDC_DOMAINS), sorted(s.COMMONROOM_OIDC_MFA_AMR))"
    )
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith("COMMONROOM_OIDC_")}
    configured = dict(
        base,
        COMMONROOM_OIDC_ISSUER="https://login.example.nhs.uk/",
        COMMONROOM_OIDC_CLIENT_ID="id",
        COMMONROOM_OIDC_CLIENT_SECRET="secret",
        COMMONROOM_OIDC_LABEL="Sign in with NHS CIS2",
        COMMONROOM_OIDC_DOMAINS="nhs.net, Trust.NHS.uk",
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=configured, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == (
        "1 Sign in with NHS CIS2 https://login.example.nhs.uk ['nhs.net', 'trust.nhs.uk'] ['mfa']"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=base, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out.startswith("0 ")
    missing = dict(base, COMMONROOM_OIDC_ISSUER="https://login.example.nhs.uk/")
    refused = subprocess.run([sys.executable, "-c", code], env=missing, capture_output=True)
    assert refused.returncode != 0
    assert b"COMMONROOM_OIDC_CLIENT_ID" in refused.stderr
