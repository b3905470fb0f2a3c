"""Who a WebDAV request is: HTTP Basic with the person's email address and one of their API
tokens as the password (an "app password"), checked on every request.

Nothing is remembered between requests: a revoked token, a deactivated account or an external
guest no longer allowed tokens is refused at the next request (``accounts.selectors
.token_authenticate`` decides, as for the API), and membership is read again by every lookup.
A read-scoped token may only read (``SAFE_METHODS``).

Failed attempts are audited as failed sign-ins (``accounts.services.sign_in_failure_record``,
with ``via: webdav``) and counted in Django's cache (shared by every server process with
``REDIS_URL``), per client and per account at that client, as the sign-in page counts them
(decision 23): the client is its address as ``core.request_info.client_address`` decides it
(X-Forwarded-For only from trusted proxies), an IPv6 one by its /64. Past a limit every attempt
from that client (for that account), right or wrong, is refused with 429 until the window
ends, and that refusal is audited once per window. Nobody elsewhere is held up: failures from
one place never keep the account's owner out from another. (An app password is a random
secret, not a word a person chose, so there is no guess spread over many clients to slow.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.cache import cache

from commonroom.accounts.exceptions import TokenRefused
from commonroom.accounts.selectors import token_authenticate, uploader_id
from commonroom.accounts.services import sign_in_failure_record
from commonroom.core.request_info import RequestInfo, client_network

if TYPE_CHECKING:
    from commonroom.accounts.models import ApiToken, User

REALM = "Commonroom"
CHALLENGE = f'Basic realm="{REALM}", charset="UTF-8"'
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PROPFIND"})

# Failures allowed before a pause: per client, and per account at that client.
FAILURES_PER_IP = (20, 60)  # 20 a minute
FAILURES_PER_ACCOUNT = (10, 300)  # 10 in five minutes

ASK_FOR_PASSWORD = (
    "Sign in with your email address and an API token as the password "  # noqa: S105
    "(create one under “API tokens” in your account)."
)
WRONG = "That email address and API token do not match. Check both, or create a new token."
TOO_MANY = "Too many failed sign-ins from here. Wait a few minutes and try again."
READ_ONLY = "This API token is read-only: it cannot change anything. Use a read and write token."


@dataclass(frozen=True)
class Identity:
    user: User
    token: ApiToken

    @property
    def principal(self) -> str:
        """Who holds a lock, for WsgiDAV: the person's id (an address may change)."""
        return str(self.user.pk)


@dataclass(frozen=True)
class Refusal:
    status: int  # 401 or 429
    message: str


def credentials(authorization: str) -> tuple[str, str] | None:
    """The address and secret of a Basic ``Authorization`` header, or None (none sent, another
    scheme, or Office's empty ``Bearer``)."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    email, sep, secret = decoded.partition(":")
    if not sep:
        return None
    return email.strip()[:254], secret


def _account(email: str) -> str:
    """The account tried, as the cache holds it: a hash, so that the cache never holds the
    addresses people typed (as ``accounts.throttle``)."""
    return hashlib.sha256(email.lower().encode()).hexdigest()


def _keys(ip: str, email: str) -> list[tuple[str, tuple[int, int]]]:
    client = client_network(ip)
    return [
        (f"webdav:fail:ip:{client}", FAILURES_PER_IP),
        (f"webdav:fail:account:{_account(email)}:{client}", FAILURES_PER_ACCOUNT),
    ]


def _limited(ip: str, email: str) -> bool:
    return any(int(cache.get(key) or 0) >= limit for key, (limit, _) in _keys(ip, email))


def _count_failure(ip: str, email: str) -> None:
    for key, (_, window) in _keys(ip, email):
        if cache.add(key, 1, timeout=window):
            continue
        try:
            cache.incr(key)
        except ValueError:  # expired between the two calls
            cache.add(key, 1, timeout=window)


def authenticate(authorization: str, *, info: RequestInfo) -> Identity | Refusal:
    """The person a request's ``Authorization`` header signs in, or why not."""
    found = credentials(authorization)
    if found is None:
        return Refusal(401, ASK_FOR_PASSWORD)
    email, secret = found
    if _limited(info.ip, email):
        # Audited once per window and place, not once per attempt.
        limited_key = f"webdav:limited:{_account(email)}:{client_network(info.ip)}"
        if cache.add(limited_key, 1, timeout=60):
            sign_in_failure_record(
                credentials={"email": email},
                info=info,
                data={"via": "webdav", "reason": "rate_limited"},
            )
        return Refusal(429, TOO_MANY)
    try:
        token = token_authenticate(secret, ip=info.ip)
    except TokenRefused as refused:
        _failed(email, info, "token_not_allowed")
        return Refusal(401, refused.message)
    if token is None or token.user.email.lower() != email.lower():
        _failed(email, info, "wrong_token")
        return Refusal(401, WRONG)
    return Identity(user=token.user, token=token)


def _failed(email: str, info: RequestInfo, reason: str) -> None:
    _count_failure(info.ip, email)
    sign_in_failure_record(
        credentials={"email": email}, info=info, data={"via": "webdav", "reason": reason}
    )


def person_of(authorization: str) -> int | None:
    """For the body guard in front of the endpoint (``core.asgi_limits``, told by ``asgi.py``),
    which decides a PUT's size before its body is read: the id of the person a Basic
    ``Authorization`` header signs in, with a token that may write (``accounts.selectors
    .uploader_id``, as for an upload's bearer token), or None. Records nothing: the endpoint
    itself audits and counts failures when the request reaches it."""
    found = credentials(authorization)
    if found is None:
        return None
    email, secret = found
    return uploader_id(bearer=secret, email=email)


def may_write(identity: Identity, method: str) -> bool:
    return method in SAFE_METHODS or identity.token.can_write
