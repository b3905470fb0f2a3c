"""Reading accounts: second-factor policy, API token authentication, and whether what a
long-lived connection signed in with (a token, a browser session) still signs its person in."""

from __future__ import annotations

import hashlib
import hmac
import time
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Literal, cast

from allauth.account import app_settings as account_settings
from allauth.account.internal.flows.login import get_authentication_records
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db.models import CharField, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme

from commonroom.accounts.exceptions import TokenRefused
from commonroom.accounts.models import ApiToken, EmailCodeFactor, NamedPerson, User
from commonroom.accounts.models import person_name as person_name  # for rows read as values
from commonroom.accounts.permissions import api_tokens_refusal
from commonroom.core.prepared import Prepared, columns_of, instance_from

TOKEN_PREFIX = "cr_"  # noqa: S105 (a public marker, not a secret)


def second_factor_required(user: User) -> bool:
    policy = settings.COMMONROOM_MFA_REQUIRED
    if policy == "all":
        return True
    if policy == "staff":
        return not user.is_guest
    return False


# The kind of second factor a code sent by email is, beside allauth's ("totp", "webauthn",
# "recovery_codes"): in the sign-in's authentication records and in second_factor_kinds.
EMAIL_CODE = "email_code"


def email_code_enabled(user: User) -> bool:
    """Whether ``user`` chose a code by email as a second factor."""
    return EmailCodeFactor.objects.filter(user=user).exists()


# What a sign-in through the identity provider said, kept in its session (accounts/sso.py).
SSO_SESSION_KEY = "commonroom_sso"


def second_factor_missing(user: User, session: Any = None) -> bool:
    """Whether ``user`` must have a second factor and has none: no authenticator of allauth's
    (an authenticator app, a passkey) and no code by email. A browser ``session`` signed in
    through an identity provider that did a second factor of its own has one."""
    if not second_factor_required(user):
        return False
    record = session.get(SSO_SESSION_KEY) if session is not None else None
    if isinstance(record, dict) and record.get("second_factor"):
        return False
    return not Authenticator.objects.filter(user=user).exists() and not email_code_enabled(user)


# The ways of proving who one is that spare a confirmation minutes later: a password (at
# sign-in, or set on accepting an invitation), a second factor, the identity provider. Not a
# password-reset link: it proves only the mailbox, which a code by email also is.
PROVED_BY = frozenset({"password", "mfa", "socialaccount"})


def proved_identity_recently(request: HttpRequest) -> bool:
    """Whether the signed-in person proved who they are in this session (``PROVED_BY``) within
    allauth's reauthentication window (``ACCOUNT_REAUTHENTICATION_TIMEOUT``), by allauth's own
    records of it: if so, allauth does not ask them to confirm it again before a change to
    their second factors."""
    user = request.user
    if not user.is_authenticated:
        return False
    records = get_authentication_records(request, user)
    latest = max(
        (float(r.get("at") or 0) for r in records if r.get("method") in PROVED_BY), default=0.0
    )
    return time.time() - latest < account_settings.REAUTHENTICATION_TIMEOUT


# Where the person was going when they were sent to set up a second factor (a page of this
# site, checked), kept in the session until they continue there.
SECOND_FACTOR_NEXT = "second_factor_next"


def safe_next(request: HttpRequest, url: str | None) -> str | None:
    """``url`` if it is a page of this site (never another host, nor a scheme such as
    javascript:), else None."""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return str(url)
    return None


def second_factor_next(request: HttpRequest) -> str | None:
    """Where the person is to continue once their second factor is set up, if they were going
    somewhere."""
    return safe_next(request, request.session.get(SECOND_FACTOR_NEXT))


def sso_refusal(*, email: str, verified: bool) -> str | None:
    """Why someone the identity provider signed in may not come in through it, or None.
    Single sign-on is for the organisation's own addresses (``COMMONROOM_OIDC_DOMAINS``), each
    verified by the provider; anyone else (an external guest) signs in with email and password."""
    domains = sorted(settings.COMMONROOM_OIDC_DOMAINS)
    where = ", ".join(f"@{d}" for d in domains) or "your organisation's addresses"
    domain = email.rpartition("@")[2].lower() if "@" in email else ""
    if not domain or domain not in settings.COMMONROOM_OIDC_DOMAINS:
        shown = email or "an account with no email address"
        return (
            f"You signed in as {shown}, but this sign-in is only for addresses at {where}. "
            "If you were invited as a guest, sign in with your email address and password."
        )
    if not verified:
        return (
            f"Your sign-in service has not confirmed that {email} is yours, so it cannot be used "
            "here. Ask your IT service desk to check your account."
        )
    return None


def sso_second_factor(claims: dict[str, Any]) -> bool:
    """Whether an ID token says the identity provider itself asked for a second factor: one of
    ``COMMONROOM_OIDC_MFA_AMR`` among its ``amr`` (RFC 8176; Entra ID says "mfa") or its ``acr``
    among ``COMMONROOM_OIDC_MFA_ACR`` (an assurance level, as NHS CIS2 gives)."""
    amr = claims.get("amr")
    values = {str(v) for v in amr} if isinstance(amr, list) else set()
    if values & set(settings.COMMONROOM_OIDC_MFA_AMR):
        return True
    acr = claims.get("acr")
    return isinstance(acr, str) and acr in settings.COMMONROOM_OIDC_MFA_ACR


# A confirmation of the second factor counts for a deliberate act (approving a version) for
# this long, and once (the page that uses it notes the time it used).
CONFIRMATION_FRESH = 300.0  # seconds


def second_factor_kinds(user: User) -> set[str]:
    """The kinds of second factor ``user`` has ("totp", "webauthn", "email_code"), recovery
    codes aside."""
    kinds = set(
        Authenticator.objects.filter(user=user)
        .exclude(type=Authenticator.Type.RECOVERY_CODES)
        .values_list("type", flat=True)
    )
    if email_code_enabled(user):
        kinds.add(EMAIL_CODE)
    return kinds


def second_factor_confirmed(
    request: HttpRequest, *, after: float = 0.0
) -> tuple[str, float] | None:
    """The second factor the signed-in person confirmed again in this session (allauth's
    "confirm it's you" step, or a code by email confirmed the same way), within the last few
    minutes and later than ``after``: its kind ("totp", "webauthn", "recovery_codes",
    "email_code") and when, or None."""
    now = time.time()
    found = None
    for record in get_authentication_records(request, request.user):
        if record.get("method") != "mfa" or not record.get("reauthenticated"):
            continue
        at = float(record.get("at") or 0)
        if at > after and now - at <= CONFIRMATION_FRESH:
            found = (str(record.get("type") or "mfa"), at)
    return found


def name_key(name: str) -> str:
    """A display name as it reads, to tell whether two names would pass for each other: the
    same letters and digits whatever their case, width, accents, spacing or punctuation
    ("Priya  Shah.", "PRIYA SHAH" and "Priyá Shah" are all "priyashah")."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", name).casefold())
    return "".join(ch for ch in folded if ch.isalnum())


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenRead:
    """An API token's row (with its person) as the guard in front of an upload read it, for
    the request's own sign-in a moment later (:func:`token_read_for`): what ``secret`` matched,
    and when (``time.monotonic()``)."""

    secret: str
    token: ApiToken
    at: float


# The token read by the guard in front of this request (``commonroom.asgi``), if any: set in
# the request's own task, so seen by its view's thread and by no other request.
TOKEN_READ: ContextVar[TokenRead | None] = ContextVar("commonroom_token_read", default=None)
# How old the guard's read may be for the request's sign-in to take it instead of reading the
# row again: the guard reads it just before the request reaches Django (before its body).
TOKEN_READ_FRESH_SECONDS = 1.0


def token_read_for(raw: str) -> ApiToken | None:
    """The token row the guard in front of this request read for the secret ``raw``, when it
    read one for that very secret within :data:`TOKEN_READ_FRESH_SECONDS`; else None (read it
    again). Taken once: a second sign-in in the same request reads the row itself."""
    read = TOKEN_READ.get()
    if read is None:
        return None
    TOKEN_READ.set(None)
    if time.monotonic() - read.at > TOKEN_READ_FRESH_SECONDS:
        return None
    if not hmac.compare_digest(read.secret.encode(), raw.encode()):
        return None
    return read.token


def token_authenticate(raw: str, *, ip: str = "", read: ApiToken | None = None) -> ApiToken | None:
    """The active token ``raw`` stands for, or None. Records its last use. A right token whose
    owner may no longer use tokens (a guest no longer allowed them) raises :class:`TokenRefused`
    with the sentence that says why (only to whoever holds the whole secret). ``read``: the row
    (with its person) this request has already read for ``raw`` (:func:`token_read_for`), judged
    here as a row read now would be, instead of being read again."""
    token = read if read is not None else _token_matching(raw)
    if token is None or token.revoked_at is not None or not token.user.is_active:
        return None
    refusal = api_tokens_refusal(token.user)
    if refusal is not None:
        raise TokenRefused(
            "This token no longer works: it belongs to an external guest, and neither a "
            "workspace of theirs nor an administrator allows guests' API tokens any more."
        )
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=ip[:64])
    return token


def _token_by_prefix(*, prefix: str) -> QuerySet[ApiToken, dict[str, Any]]:
    """The token whose public prefix is ``prefix`` (unique: one row at most), with its person,
    as ``ApiToken.objects.select_related("user")`` reads them."""
    return (
        ApiToken.objects.filter(prefix=prefix)
        .order_by("pk")
        .values(*columns_of(ApiToken), *columns_of(User, "user__"))
    )


# Asked by every request with an API token (its sign-in, and the guard in front of an upload):
# :func:`_token_by_prefix`, its SQL built once per process (decision 41).
_TOKEN_BY_PREFIX = Prepared("accounts.token_by_prefix", _token_by_prefix, prefix=CharField())


def _token_matching(raw: str) -> ApiToken | None:
    """The token whose whole secret ``raw`` is, revoked or not, with its person, or None (one
    query)."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or raw.count("_") < 2:
        return None
    prefix = raw[: len(TOKEN_PREFIX) + 8]
    found = _TOKEN_BY_PREFIX.rows(prefix=prefix)
    if not found:
        return None
    token = instance_from(ApiToken, found[0])
    if token is None or not hmac.compare_digest(token.secret_hash, hash_secret(raw)):
        return None
    token.user = cast(User, instance_from(User, found[0], "user__"))
    return token


def tokens_for_user(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def users_in_workspaces(workspace_ids: QuerySet[Any, Any]) -> list[User]:
    """The people who belong to any of the workspaces whose ids ``workspace_ids`` gives (a
    subquery, read in the same query through the ``memberships`` relation), each once, by
    name then email."""
    return list(
        User.objects.filter(memberships__workspace_id__in=workspace_ids)
        .distinct()
        .order_by("full_name", "email")
    )


CredentialKind = Literal["token", "session"]


@dataclass(frozen=True)
class Credential:
    """What a long-lived connection (a websocket) signed in with: an API token (``key`` is its
    id) or a browser session (``key`` is the session key), and whose it is."""

    kind: CredentialKind
    key: str
    user_id: int


def credentials_valid(credentials: Iterable[Credential]) -> set[Credential]:
    """Those of ``credentials`` that still sign their person in, as a new request with them
    would be: a token not revoked, of an active person; a session not ended nor expired that
    still holds its person, whose password has not changed since (Django's session hash).
    At most three queries however many are asked about, and those that ask whether a guest
    with a token there is still allowed tokens."""
    wanted = set(credentials)
    tokens = {c for c in wanted if c.kind == "token" and c.key.isdigit()}
    sessions = {c for c in wanted if c.kind == "session"}
    valid: set[Credential] = set()
    if tokens:
        found = ApiToken.objects.filter(
            pk__in={int(c.key) for c in tokens}, revoked_at__isnull=True, user__is_active=True
        ).select_related("user")
        # A guest no longer allowed tokens is refused as token_authenticate refuses them.
        live = {(t.pk, t.user_id) for t in found if _token_signs_in(t)}
        valid |= {c for c in tokens if (int(c.key), c.user_id) in live}
    if sessions:
        data = _sessions_data({c.key for c in sessions})
        users = User.objects.filter(pk__in={c.user_id for c in sessions}, is_active=True)
        by_id = {u.pk: u for u in users.only("pk", "password")}
        valid |= {c for c in sessions if _session_holds(data.get(c.key), by_id.get(c.user_id))}
    return valid


def _token_signs_in(token: ApiToken) -> bool:
    """Whether ``token`` (read with its person) still signs them in: not revoked, its person
    active, and, for a guest, still allowed tokens (as :func:`token_authenticate` refuses
    them)."""
    return (
        token.revoked_at is None and token.user.is_active and api_tokens_refusal(token.user) is None
    )


def _sessions_data(keys: set[str]) -> dict[str, dict[str, Any]]:
    """The stored data of the sessions among ``keys`` that have not ended or expired."""
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if issubclass(store_class, DatabaseSessionStore):  # the table is the truth: one query
        rows = store_class.get_model_class().objects.filter(
            session_key__in=keys, expire_date__gt=timezone.now()
        )
        store = store_class()
        return {row.session_key: store.decode(row.session_data) for row in rows}
    found: dict[str, dict[str, Any]] = {}
    for key in keys:
        loaded = store_class(session_key=key).load()
        if loaded:
            found[key] = loaded
    return found


def _session_holds(data: dict[str, Any] | None, user: User | None) -> bool:
    if data is None or user is None or str(data.get(SESSION_KEY)) != str(user.pk):
        return False
    stored = str(data.get(HASH_SESSION_KEY) or "")
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return bool(stored) and any(constant_time_compare(stored, h) for h in hashes)


def uploader_id(*, bearer: str = "", session_key: str = "", email: str | None = None) -> int | None:
    """The id of the person a request with this API token (``bearer``, the whole secret) or
    browser session (``session_key``, the cookie's value) is signed in as, if that person may
    upload with it; else None. Asked before Django reads an upload's body, to decide how large
    it may be (``core.asgi_limits``), so it answers as a request would be answered: a token
    that still signs in (:func:`credentials_valid`) and may write; else a session that still
    signs in, whose person has the second factor the policy requires (their own, or the
    identity provider's that the session records). With ``email`` (an app password sent with
    an address, as WebDAV's Basic sign-in does), the token counts only if it is that address's
    owner's. Nothing is recorded."""
    return uploader(bearer=bearer, session_key=session_key, email=email)[0]


def uploader(
    *, bearer: str = "", session_key: str = "", email: str | None = None
) -> tuple[int | None, ApiToken | None]:
    """:func:`uploader_id`, with the token's row (and its person) read to decide it, when a
    token was read (whatever it decided), for the request's own sign-in
    (:class:`TokenRead`)."""
    token = _token_matching(bearer) if bearer else None
    read = token
    if token is not None and email is not None and token.user.email.lower() != email.lower():
        token = None
    # Read with its person a moment ago: whether it still signs in is decided from that row,
    # as credentials_valid decides it, without reading it again.
    if token is not None and token.can_write and _token_signs_in(token):
        return token.user_id, read
    if not session_key:
        return None, read
    data = _sessions_data({session_key}).get(session_key) or {}
    try:
        user_id = int(data.get(SESSION_KEY, ""))
    except (TypeError, ValueError):
        return None, read
    if not credentials_valid([Credential(kind="session", key=session_key, user_id=user_id)]):
        return None, read
    user = User.objects.get(pk=user_id)
    return (None if second_factor_missing(user, data) else user_id), read


# Within a page's reading (:func:`people_read_once`), each person's row as
# :func:`people_digest` read it (None: no such person), so that the page's fragments, each
# checking the names it shows, read every person once between them.
_named_once: ContextVar[dict[Any, tuple[Any, ...] | None] | None] = ContextVar(
    "people_named_once", default=None
)


@contextmanager
def people_read_once() -> Iterator[None]:
    """Within it (one request's page), :func:`people_digest` reads each person at most once:
    a page whose kept fragments name the same people (the versions' authors commenting on
    them) checks their names with one query, not one a fragment. For one request only: a name
    changed since is read by the next request."""
    token = _named_once.set({})
    try:
        yield
    finally:
        _named_once.reset(token)


def people_seen(people: Iterable[NamedPerson]) -> None:
    """People a page has just read with their names (the members, as rows): within
    :func:`people_read_once`, :func:`people_digest` takes their names from there instead of
    reading them again. Outside it, nothing."""
    named = _named_once.get()
    if named is None:
        return
    for p in people:
        named.setdefault(p.pk, (p.pk, p.full_name, p.email, p.kind))


def people_digest(ids: Collection[Any]) -> str:
    """A digest of how the people ``ids`` are named on every page (name, address, staff or
    guest), one query for them all (none for those already read within
    :func:`people_read_once`): a kept page fragment naming them is drawn again when it changes
    (``core.fragments``). A person gone reads as absent."""
    if not ids:
        return ""
    named = _named_once.get()
    if named is None:
        rows = sorted(
            User.objects.filter(pk__in=list(ids)).values_list("pk", "full_name", "email", "kind")
        )
    else:
        missing = [pk for pk in ids if pk not in named]
        if missing:
            named.update(dict.fromkeys(missing))
            found = User.objects.filter(pk__in=missing).values_list(
                "pk", "full_name", "email", "kind"
            )
            named.update((row[0], tuple(row)) for row in found)
        rows = sorted(row for pk in ids if (row := named[pk]) is not None)
    return hashlib.sha256(repr(rows).encode()).hexdigest()


# What is read of a person in a list read as rows (``values()``, after a prefix: ``author__id``).
PERSON_COLUMNS = ("id", "full_name", "email", "kind")


def person_columns(prefix: str) -> tuple[str, ...]:
    """:data:`PERSON_COLUMNS` of the person ``prefix`` names (``"author__"``)."""
    return tuple(f"{prefix}{column}" for column in PERSON_COLUMNS)


def mentioned_put(rows: Sequence[dict[str, Any]], mentioned: Any) -> None:
    """Put on each of ``rows`` (read as values, each with its ``id``) the ids of the people it
    mentions, ascending, as ``mentioned``: one query of ``mentioned``, a many-to-many of
    people (``Comment.mentioned``, ``Message.mentioned``), however many rows."""
    field = mentioned.field
    item, person = f"{field.m2m_field_name()}_id", f"{field.m2m_reverse_field_name()}_id"
    found: dict[Any, list[int]] = {}
    pairs = mentioned.through.objects.filter(**{f"{item}__in": [row["id"] for row in rows]})
    for item_id, person_id in pairs.values_list(item, person):
        found.setdefault(item_id, []).append(person_id)
    for row in rows:
        row["mentioned"] = sorted(found.get(row["id"], []))


@dataclass(frozen=True, slots=True, eq=False)
class PersonRow(NamedPerson):
    """A person read as values (no ``User`` made: a page listing hundreds of members reads
    them seven times faster so), named as a ``User`` is: ``display_name``, ``is_guest``,
    ``guest_domain``, for ``{% person %}`` and every page. Equal to the same person, whether a
    row or a ``User``, as Django's models are equal by primary key."""

    pk: Any
    email: str
    full_name: str
    kind: str
    is_active: bool

    @property
    def id(self) -> Any:
        return self.pk

    def __str__(self) -> str:
        return self.display_name

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PersonRow | User):
            return bool(self.pk == other.pk)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.pk)


# The fields of a person as ``PersonRow`` reads them, for a values read through a relation.
PERSON_FIELDS = ("pk", "email", "full_name", "kind", "is_active")
