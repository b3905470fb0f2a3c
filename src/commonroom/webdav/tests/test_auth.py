"""Signing in to WebDAV: the person's email and one of their API tokens, every request."""

from __future__ import annotations

from typing import Any

import pytest

from commonroom.accounts.services import token_revoke
from commonroom.audit.models import AuditEvent
from commonroom.webdav import auth
from commonroom.webdav.tests.client import Dav, token_for
from commonroom.workspaces.models import Membership
from commonroom.workspaces.tests.factories import upload_document

pytestmark = pytest.mark.django_db

WS = "/Weekly budget meeting"


def test_anonymous_is_asked_for_basic_credentials(team: Any) -> None:
    response = Dav().propfind("/", depth="0")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="Commonroom", charset="UTF-8"'
    assert "API token" in response.text


def test_offices_empty_bearer_header_is_anonymous_not_an_error(team: Any) -> None:
    response = Dav().request("PROPFIND", "/", headers={"Authorization": "Bearer", "Depth": "0"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


def test_options_without_credentials_says_dav_and_reveals_nothing(team: Any) -> None:
    upload_document(team.workspace, team.manager, name="minutes.txt")
    anonymous = Dav()
    existing = anonymous.request("OPTIONS", WS + "/minutes.txt")
    missing = anonymous.request("OPTIONS", "/nothing/here", headers={"Authorization": "Bearer "})
    for response in (existing, missing):
        assert response.status_code == 200
        assert response.headers["MS-Author-Via"] == "DAV"
        assert response.headers["DAV"] == "1,2"
    assert existing.headers["Allow"] == missing.headers["Allow"]


def test_offices_head_of_the_root_without_credentials(team: Any) -> None:
    office = {"User-Agent": "Microsoft Office Word 2014"}
    assert Dav().request("HEAD", "/", headers=office).status_code == 200
    assert Dav().request("HEAD", "/").status_code == 401
    assert Dav().request("HEAD", WS + "/minutes.txt", headers=office).status_code == 401


def test_options_with_credentials_answers_for_the_resource(team: Any) -> None:
    response = Dav(team.editor).request("OPTIONS", WS + "/")
    assert response.status_code == 200
    assert response.headers["MS-Author-Via"] == "DAV"
    assert "LOCK" in response.headers["Allow"]


def test_the_email_must_be_the_tokens_owners(team: Any) -> None:
    secret = token_for(team.editor)
    assert Dav(auth=(team.editor.email.upper(), secret)).propfind("/", "0").status_code == 207
    refused = Dav(auth=(team.manager.email, secret)).propfind("/", "0")
    assert refused.status_code == 401
    assert "do not match" in refused.text


def test_a_password_is_not_an_app_password(team: Any) -> None:
    team.editor.set_password("correct horse battery staple")
    team.editor.save()
    refused = Dav(auth=(team.editor.email, "correct horse battery staple")).propfind("/", "0")
    assert refused.status_code == 401


def test_a_failure_is_audited_as_a_failed_sign_in(team: Any) -> None:
    Dav(auth=(team.editor.email, "cr_wrong_secret")).propfind("/", "0")
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.actor_email == team.editor.email
    assert event.data == {"via": "webdav", "reason": "wrong_token"}


def test_a_revoked_token_is_refused_at_the_next_request(team: Any) -> None:
    secret = token_for(team.editor)
    client = Dav(auth=(team.editor.email, secret))
    assert client.propfind(WS + "/", "0").status_code == 207
    token = team.editor.api_tokens.get()
    token_revoke(actor=team.editor, token_id=token.pk)
    assert client.propfind(WS + "/", "0").status_code == 401


def test_a_removed_member_finds_nothing_at_the_next_request(team: Any) -> None:
    upload_document(team.workspace, team.manager, name="minutes.txt", content=b"x")
    client = Dav(team.editor)
    assert client.get(WS + "/minutes.txt").status_code == 200
    Membership.objects.filter(user=team.editor).delete()
    assert client.get(WS + "/minutes.txt").status_code == 404
    assert client.propfind(WS + "/", "0").status_code == 404
    assert "/dav/Weekly budget meeting/" not in client.listing("/")


def test_a_read_only_token_reads_but_changes_nothing(team: Any) -> None:
    upload_document(team.workspace, team.manager, name="minutes.txt", content=b"x")
    reader = Dav(team.editor, scope="read")
    assert reader.get(WS + "/minutes.txt").content == b"x"
    assert reader.propfind(WS + "/", "1").status_code == 207
    for method, path in [
        ("PUT", "/minutes.txt"),
        ("DELETE", "/minutes.txt"),
        ("MKCOL", "/new"),
        ("LOCK", "/minutes.txt"),
        ("PROPPATCH", "/minutes.txt"),
        ("MOVE", "/minutes.txt"),
        ("COPY", "/minutes.txt"),
    ]:
        response = reader.request(method, WS + path, content=b"")
        assert response.status_code == 403, method
        assert "read-only" in response.text
    assert reader.get(WS + "/minutes.txt").content == b"x"


def test_too_many_failures_are_refused_even_with_the_right_token(team: Any, settings: Any) -> None:
    secret = token_for(team.editor)
    limit, _ = auth.FAILURES_PER_ACCOUNT
    for _ in range(limit):
        Dav(auth=(team.editor.email, "cr_12345678_wrong")).propfind("/", "0")
    refused = Dav(auth=(team.editor.email, secret)).propfind("/", "0")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    limited = AuditEvent.objects.filter(action="auth.login_failed", data__reason="rate_limited")
    assert limited.count() == 1
    Dav(auth=(team.editor.email, secret)).propfind("/", "0")
    assert limited.count() == 1  # once per window, not once per attempt
    assert Dav(team.manager).propfind("/", "0").status_code == 207  # others are not held up


def test_failures_from_one_place_never_keep_the_owner_out_from_another(team: Any) -> None:
    """Counted per account at each client (decision 23): a stranger who knows Tom's address
    and sends wrong tokens is refused where they are; Tom, elsewhere, is not."""
    secret = token_for(team.editor)
    limit, _ = auth.FAILURES_PER_ACCOUNT
    for _ in range(limit):
        Dav(auth=(team.editor.email, "cr_12345678_wrong"), remote_addr="203.0.113.9").propfind(
            "/", "0"
        )
    stranger = Dav(auth=(team.editor.email, secret), remote_addr="203.0.113.9")
    assert stranger.propfind("/", "0").status_code == 429
    tom = Dav(auth=(team.editor.email, secret), remote_addr="198.51.100.7")
    assert tom.propfind("/", "0").status_code == 207
    # An IPv6 client is counted by its /64, which one subscriber holds whole.
    for n in range(limit):
        guesser = Dav(auth=(team.manager.email, "cr_1234_wrong"), remote_addr=f"2001:db8::{n + 1}")
        guesser.propfind("/", "0")
    priya = token_for(team.manager)
    same_network = Dav(auth=(team.manager.email, priya), remote_addr="2001:db8::ffff")
    assert same_network.propfind("/", "0").status_code == 429
    other_network = Dav(auth=(team.manager.email, priya), remote_addr="2001:db8:1::1")
    assert other_network.propfind("/", "0").status_code == 207


def test_the_trail_and_the_limits_see_the_client_a_trusted_proxy_names(
    team: Any, settings: Any
) -> None:
    """X-Forwarded-For is believed only from COMMONROOM_TRUSTED_PROXIES, as for the pages."""
    settings.COMMONROOM_TRUSTED_PROXIES = ["10.0.0.5"]
    wrong = (team.editor.email, "cr_12345678_wrong")
    behind = {"X-Forwarded-For": "203.0.113.9"}
    Dav(auth=wrong, remote_addr="10.0.0.5").propfind("/", "0", headers=behind)
    Dav(auth=wrong, remote_addr="198.51.100.7").propfind("/", "0", headers=behind)  # forged
    ips = AuditEvent.objects.filter(action="auth.login_failed").order_by("seq")
    assert list(ips.values_list("ip", flat=True)) == ["203.0.113.9", "198.51.100.7"]

    limit, _ = auth.FAILURES_PER_ACCOUNT
    for _ in range(limit - 1):
        Dav(auth=wrong, remote_addr="10.0.0.5").propfind("/", "0", headers=behind)
    right = (team.editor.email, token_for(team.editor))
    refused = Dav(auth=right, remote_addr="10.0.0.5").propfind("/", "0", headers=behind)
    assert refused.status_code == 429
    other_client = {"X-Forwarded-For": "192.0.2.44"}
    allowed = Dav(auth=right, remote_addr="10.0.0.5").propfind("/", "0", headers=other_client)
    assert allowed.status_code == 207


def test_a_guard_in_front_can_tell_who_a_put_is_from_before_its_body(team: Any) -> None:
    write, read = token_for(team.editor), token_for(team.editor, "read")

    def header(email: str, secret: str) -> str:
        import base64

        return "Basic " + base64.b64encode(f"{email}:{secret}".encode()).decode()

    assert auth.person_of(header(team.editor.email, write)) == team.editor.pk
    assert auth.person_of(header(team.editor.email, read)) is None  # a read token uploads nothing
    assert auth.person_of(header(team.editor.email.upper(), write)) == team.editor.pk
    assert auth.person_of(header(team.manager.email, write)) is None
    assert auth.person_of("Bearer") is None
    assert auth.person_of(header(team.editor.email, "cr_12345678_wrong")) is None
    assert not AuditEvent.objects.filter(action="auth.login_failed").exists()
    token = team.editor.api_tokens.get(scope="write")
    assert token.last_used_at is None  # nothing recorded: the endpoint records the use
    token_revoke(actor=team.editor, token_id=token.pk)
    assert auth.person_of(header(team.editor.email, write)) is None
