"""A real OpenID Connect provider on loopback for the single sign-on tests.

panva's ``oidc-provider`` (OpenID Certified; tests/oidc/, installed by ``make test`` with
``npm ci``) run by Node.js in a child process, with a sign-in page of its own standing in for
NHSmail's. ``configure`` points Commonroom's settings at it, exactly as the environment would
(settings.py, "Single sign-on"). ``sign_in_at_provider`` plays the person at the provider's page
with a plain HTTP client, for the tests that need no browser.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from commonroom.live.tests.servers import free_port

HERE = Path(__file__).resolve().parents[4] / "tests" / "oidc"
CLIENT_ID = "commonroom-test"
CLIENT_SECRET = "a-secret-of-the-test-provider"
PASSWORD = "correct horse battery"

# Who the provider knows: NHSmail staff, someone from a domain the sign-in is not for, and a
# staff address the provider has not verified.
ACCOUNTS: dict[str, dict[str, Any]] = {
    "aisha.khan@nhs.net": {"name": "Aisha Khan", "password": PASSWORD},
    "tom.baker@nhs.net": {"name": "Tom Baker", "password": PASSWORD},
    "newcomer@nhs.net": {"name": "Nia Newcomer", "password": PASSWORD},
    "someone@gmail.com": {"name": "Some One", "password": PASSWORD},
    "unverified@nhs.net": {"name": "Una Verified", "password": PASSWORD, "email_verified": False},
}


@dataclass
class OidcProvider:
    redirect_uris: list[str]
    post_logout_uris: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        node = shutil.which("node")
        if node is None:
            pytest.fail("Node.js is needed for the single sign-on tests (Debian's nodejs).")
        if not (HERE / "node_modules" / "oidc-provider").is_dir():
            pytest.fail(f"The test OpenID provider is not installed: run `npm ci --prefix {HERE}`.")
        env = dict(
            os.environ,
            OIDC_PORT=str(self.port),
            OIDC_CLIENT_ID=CLIENT_ID,
            OIDC_CLIENT_SECRET=CLIENT_SECRET,
            OIDC_REDIRECT_URIS=",".join(self.redirect_uris),
            OIDC_POST_LOGOUT_URIS=",".join(self.post_logout_uris),
            OIDC_ACCOUNTS=json.dumps(ACCOUNTS),
            NODE_NO_WARNINGS="1",
        )
        self.process = subprocess.Popen(
            [node, str(HERE / "provider.mjs")],
            cwd=HERE,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("READY"):
            self.stop()
            pytest.fail(f"The test OpenID provider did not start: {line!r}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()

    def id_token_mode(self, mode: str) -> None:
        """ "normal", or an ID token "forged", "expired", for another "audience" or "nonce"."""
        httpx.post(f"{self.issuer}/__test/id-token", json={"mode": mode}, timeout=5)

    def last_authorisation(self) -> dict[str, str]:
        found: dict[str, str] = httpx.get(f"{self.issuer}/__test/last-auth", timeout=5).json()
        return found


@contextmanager
def running_provider(
    redirect_uris: list[str], post_logout_uris: list[str] | None = None
) -> Iterator[OidcProvider]:
    provider = OidcProvider(redirect_uris, post_logout_uris or [])
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()


def configure(settings: Any, provider: OidcProvider, **extra: Any) -> None:
    """Commonroom's settings as COMMONROOM_OIDC_* in the environment would make them."""
    settings.COMMONROOM_OIDC_ISSUER = provider.issuer
    settings.COMMONROOM_OIDC_CLIENT_ID = CLIENT_ID
    settings.COMMONROOM_OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.COMMONROOM_OIDC_LABEL = "Sign in with NHSmail"
    settings.COMMONROOM_OIDC_DOMAINS = {"nhs.net"}
    settings.COMMONROOM_OIDC_MFA_AMR = {"mfa"}
    settings.COMMONROOM_OIDC_MFA_ACR = set()
    settings.COMMONROOM_FORM_ACTION_ORIGINS = [provider.issuer]
    for name, value in extra.items():
        setattr(settings, name, value)
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            **settings.SOCIALACCOUNT_PROVIDERS["openid_connect"],
            "APPS": [
                {
                    "provider_id": "sso",
                    "name": settings.COMMONROOM_OIDC_LABEL,
                    "client_id": CLIENT_ID,
                    "secret": CLIENT_SECRET,
                    "settings": {"server_url": provider.issuer},
                }
            ],
        }
    }


def sign_in_at_provider(
    authorise_url: str, email: str, *, mfa: bool = False, password: str = PASSWORD
) -> str:
    """Play the person at the provider: open the authorisation address Commonroom sent the
    browser to, sign in on the provider's page, and return the address the provider sends the
    browser back to (Commonroom's callback, with the code and state)."""
    with httpx.Client(timeout=10) as browser:
        response = browser.get(authorise_url)
        for _ in range(10):
            if response.status_code in (302, 303):
                location = urljoin(str(response.url), response.headers["location"])
                if not location.startswith(authorise_url.split("/auth")[0]):
                    return location  # back to Commonroom
                response = browser.get(location)
                continue
            form = re.search(r'<form method="post" action="([^"]+)"', response.text)
            if form is None:
                raise AssertionError(f"no sign-in form at the provider: {response.text[:300]}")
            data = {"email": email, "password": password}
            if mfa:
                data["mfa"] = "yes"
            response = browser.post(urljoin(str(response.url), form.group(1)), data=data)
        raise AssertionError("the provider never sent the browser back")


def callback_path(location: str) -> str:
    """Commonroom's callback address as the test client asks for it (path and query)."""
    parts = urlsplit(location)
    assert parse_qs(parts.query).get("code") or parse_qs(parts.query).get("error"), location
    return f"{parts.path}?{parts.query}"


def wait_gone(provider: OidcProvider) -> None:
    """After stop(): until the port refuses connections."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            httpx.get(provider.issuer, timeout=0.5)
        except httpx.HTTPError:
            return
        time.sleep(0.1)
