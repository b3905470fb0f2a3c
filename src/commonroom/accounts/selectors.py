"""Reading accounts: second-factor policy and API token authentication."""

from __future__ import annotations

import hashlib
import hmac
import time
import unicodedata
from typing import Any

from allauth.account.internal.flows.login import get_authentication_records
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from commonroom.accounts.exceptions import TokenRefused
from commonroom.accounts.models import ApiToken, User
from commonroom.accounts.permissions import api_tokens_refusal

TOKEN_PREFIX = "cr_"  # noqa: S105 (a public marker, not a secret)


def second_factor_required(user: User) -> bool:
    policy = settings.COMMONROOM_MFA_REQUIRED
    if policy == "all":
        return True
    if policy == "staff":
        return not user.is_guest
    return False


def second_factor_missing(user: User) -> bool:
    if not second_factor_required(user):
        return False
    return not Authenticator.objects.filter(user=user).exists()


# A confirmation of the second factor counts for a deliberate act (approving a version) for
# this long, and once (the page that uses it notes the time it used).
CONFIRMATION_FRESH = 300.0  # seconds


def second_factor_kinds(user: User) -> set[str]:
    """The kinds of second factor ``user`` has ("totp", "webauthn"), recovery codes aside."""
    return set(
        Authenticator.objects.filter(user=user)
        .exclude(type=Authenticator.Type.RECOVERY_CODES)
        .values_list("type", flat=True)
    )


def second_factor_confirmed(
    request: HttpRequest, *, after: float = 0.0
) -> tuple[str, float] | None:
    """The second factor the signed-in person confirmed again in this session (allauth's
    "confirm it's you" step), within the last few minutes and later than ``after``: its kind
    ("totp", "webauthn", "recovery_codes") and when, or None."""
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


def token_authenticate(raw: str, *, ip: str = "") -> ApiToken | None:
    """The active token ``raw`` stands for, or None. Records its last use. A right token whose
    owner may no longer use tokens (a guest no longer allowed them) raises :class:`TokenRefused`
    with the sentence that says why (only to whoever holds the whole secret)."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or raw.count("_") < 2:
        return None
    prefix = raw[: len(TOKEN_PREFIX) + 8]
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or token.revoked_at is not None or not token.user.is_active:
        return None
    if not hmac.compare_digest(token.secret_hash, hash_secret(raw)):
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
