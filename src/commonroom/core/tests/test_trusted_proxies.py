"""Whose address a request is from: X-Forwarded-For believed only from the proxies named in
COMMONROOM_TRUSTED_PROXIES, read from the right. Shown where the address is used: the sign-in
page's limits and its audit rows, the sessions page, an API token's and a socket token's last
use. A forged header from anyone else changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse

from commonroom.accounts.models import ApiToken, TokenScope
from commonroom.accounts.services import token_create
from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.accounts.tests.test_sign_in import TOO_MANY, failures_allowed_per_account
from commonroom.asgi import application
from commonroom.audit.models import Action, AuditEvent
from commonroom.live.tests.servers import free_port

PROXY = "10.0.0.5"


@pytest.fixture
def person(db):
    return UserFactory.create(email="tom@example.org")


def attempt(email: str, password: str, *, peer: str, forwarded: str | None = None) -> Client:
    """A sign-in from a new browser whose connection comes from ``peer`` with ``forwarded`` as
    its X-Forwarded-For; the browser, to look at afterwards."""
    browser = Client()
    headers: dict[str, Any] = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    browser.post(reverse("account_login"), {"login": email, "password": password}, **headers)
    return browser


def signed_in(browser: Client) -> bool:
    return browser.get(reverse("home")).status_code == 200


def audited_ips(action: str) -> list[str]:
    return list(
        AuditEvent.objects.filter(action=action).order_by("seq").values_list("ip", flat=True)
    )


def test_with_no_trusted_proxy_a_forged_header_is_neither_audited_nor_counted(person, settings):
    """Nobody is trusted (the default): each attempt names a different client in the header,
    but all come from one connection's address, which is what the trail records and what the
    limit counts: the attempt after the limit is refused, whatever it claims."""
    assert settings.COMMONROOM_TRUSTED_PROXIES == []
    limit = failures_allowed_per_account()
    for n in range(limit):
        attempt(person.email, "wrong", peer="198.51.100.9", forwarded=f"192.0.2.{n + 1}")

    last = Client()
    refused = last.post(
        reverse("account_login"),
        {"login": person.email, "password": PASSWORD},
        REMOTE_ADDR="198.51.100.9",
        HTTP_X_FORWARDED_FOR="192.0.2.200",
    )

    assert TOO_MANY in refused.content
    assert not signed_in(last)
    assert set(audited_ips(Action.LOGIN_FAILED)) == {"198.51.100.9"}


def test_a_trusted_proxys_clients_are_told_apart(person, settings):
    """Behind the proxy, a guesser past the limit is refused; the owner, behind the same
    proxy, signs in; each is recorded by their own address, not the proxy's."""
    settings.COMMONROOM_TRUSTED_PROXIES = ["10.0.0.0/24"]
    for _ in range(failures_allowed_per_account()):
        attempt(person.email, "wrong", peer=PROXY, forwarded="198.51.100.66")
    guesser = attempt(person.email, PASSWORD, peer=PROXY, forwarded="198.51.100.66")
    assert not signed_in(guesser)

    owner = attempt(person.email, PASSWORD, peer=PROXY, forwarded="203.0.113.20")

    assert signed_in(owner)
    assert set(audited_ips(Action.LOGIN_FAILED)) == {"198.51.100.66"}
    assert audited_ips(Action.LOGIN) == ["203.0.113.20"]
    # allauth's sessions page shows the same address.
    assert "203.0.113.20" in owner.get(reverse("usersessions_list")).content.decode()


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "client"),
    [
        # Nobody trusted: the connection's address, whatever the header says.
        ([], "198.51.100.7", "192.0.2.1", "198.51.100.7"),
        # A peer not named is not a proxy, even beside one that is.
        (["10.0.0.0/24"], "10.0.1.5", "192.0.2.1", "10.0.1.5"),
        # The proxy's client; what the client wrote itself, to its left, is not read.
        (["10.0.0.0/24"], PROXY, "6.6.6.6, 198.51.100.7", "198.51.100.7"),
        # Two proxies: the first address from the right that is not one of them.
        (["10.0.0.0/24", "192.0.2.10"], PROXY, "6.6.6.6, 198.51.100.7, 192.0.2.10", "198.51.100.7"),
        # Several headers are one list.
        (["10.0.0.0/24"], PROXY, "6.6.6.6,198.51.100.7 ,", "198.51.100.7"),
        # Everyone in the list trusted: the leftmost, the furthest the proxies saw.
        (["10.0.0.0/8"], PROXY, "10.1.2.3, 10.0.0.9", "10.1.2.3"),
        # A trusted proxy with no header is the client.
        (["10.0.0.0/24"], PROXY, None, PROXY),
        # Ports some proxies add, and an IPv4 peer written as IPv6.
        (["10.0.0.5"], f"::ffff:{PROXY}", "198.51.100.7:5555", "198.51.100.7"),
        (["10.0.0.5"], PROXY, "[2001:db8::1]:443", "2001:db8::1"),
        # IPv6 proxies.
        (["2001:db8:1::/48"], "2001:db8:1::5", "2001:db8:99::7", "2001:db8:99::7"),
        # Not an address where the proxy wrote: the proxy that wrote it is the client.
        (["10.0.0.0/24"], PROXY, "198.51.100.7, unknown", PROXY),
    ],
)
def test_the_client_is_the_first_untrusted_address_from_the_right(
    person, settings, trusted, peer, forwarded, client
):
    settings.COMMONROOM_TRUSTED_PROXIES = trusted
    browser = attempt(person.email, PASSWORD, peer=peer, forwarded=forwarded)
    assert signed_in(browser)
    assert audited_ips(Action.LOGIN) == [client]


def test_a_proxy_nobody_named_is_pointed_out_once(person, caplog):
    """X-Forwarded-For from this machine or the local network, with no proxy named: most
    likely a reverse proxy its operator forgot to name, which makes all its clients one
    client. The log says so, once per process and address; a public address's header is
    just ignored."""
    with caplog.at_level("WARNING", logger="commonroom.core.request_info"):
        for _ in range(3):
            attempt(person.email, "wrong", peer="127.0.0.9", forwarded="198.51.100.7")
        attempt(person.email, "wrong", peer="81.2.69.160", forwarded="198.51.100.7")
    told = [r.getMessage() for r in caplog.records if "X-Forwarded-For" in r.getMessage()]
    assert len(told) == 1
    assert told[0].startswith("Requests from 127.0.0.9 carry X-Forwarded-For")
    assert "COMMONROOM_TRUSTED_PROXIES" in told[0]


@pytest.mark.parametrize(
    ("peer", "used_from"), [(PROXY, "198.51.100.4"), ("192.0.2.50", "192.0.2.50")]
)
def test_an_api_tokens_last_use_is_the_proxys_client(person, settings, peer, used_from):
    """Through the proxy, the client it names; from anyone else, their own address."""
    settings.COMMONROOM_TRUSTED_PROXIES = [PROXY]
    issued = token_create(actor=person, name="script", scope=TokenScope.READ)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")

    api.get("/api/v1/me", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR="198.51.100.4")

    issued.token.refresh_from_db()
    assert issued.token.last_used_ip == used_from


@pytest.mark.parametrize(
    ("peer", "used_from"), [(PROXY, "198.51.100.4"), ("192.0.2.50", "192.0.2.50")]
)
@pytest.mark.django_db(transaction=True)
def test_a_socket_tokens_last_use_is_the_proxys_client(settings, team, peer, used_from):
    settings.COMMONROOM_TRUSTED_PROXIES = [PROXY]
    issued = token_create(actor=team.viewer, name="socket", scope=TokenScope.READ)

    async def connect() -> None:
        socket = WebsocketCommunicator(
            application,
            f"/ws/w/{team.workspace.pk}/",
            headers=[
                (b"host", b"testserver"),
                (b"authorization", f"Bearer {issued.secret}".encode()),
                (b"x-forwarded-for", b"198.51.100.4"),
            ],
        )
        socket.scope["client"] = (peer, 50123)  # the connection's own address
        connected, _ = await socket.connect(timeout=5)
        assert connected
        await socket.disconnect()

    async_to_sync(connect)()

    assert ApiToken.objects.get(pk=issued.token.pk).last_used_ip == used_from


def run_check(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "commonroom", "check"],
        env={**os.environ, "COMMONROOM_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_proxy_list_that_is_not_addresses_refuses_to_start(tmp_path):
    """A mistyped proxy would make every client behind it one client: refused, with a
    sentence; a good list starts."""
    refused = run_check(tmp_path, COMMONROOM_TRUSTED_PROXIES="10.0.0.5, nginx")
    assert refused.returncode != 0
    assert "COMMONROOM_TRUSTED_PROXIES lists addresses or networks" in refused.stderr
    assert "'nginx' is neither" in refused.stderr
    accepted = run_check(tmp_path, COMMONROOM_TRUSTED_PROXIES="10.0.0.5, 10.1.0.0/16, ::1")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr


def test_serve_no_longer_takes_forwarded_allow_ips(tmp_path):
    """Which proxies are believed is one setting, read by Django; an old service file that
    still passes uvicorn's option is told so instead of starting with it ignored."""
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "commonroom",
            "serve",
            "--no-worker",
            "--port",
            str(free_port()),
            "--forwarded-allow-ips",
            "127.0.0.1",
        ],
        env={**os.environ, "COMMONROOM_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "name your reverse proxies in COMMONROOM_TRUSTED_PROXIES" in refused.stderr
