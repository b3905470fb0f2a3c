"""What several server processes must share, and the refusal to run several without it.

Sign-in rate limits (allauth), the second factor's used codes (allauth.mfa: a TOTP code works
once), the audit trail's note of a refused sign-in, the PDF page budget, the comparison cache
and each person's upload slots (``core.upload_slots``) all live in Django's cache. Several
processes share it only when it is Redis (``REDIS_URL``); a local-memory cache in each of two
processes would give an attacker twice the guesses and let a code be used twice. So a setup that
runs several processes, or may (production), refuses to start without it, with a sentence saying
what to set, rather than quietly weakening.

Capacity limits stay per process on purpose: at most ``PDF_PAGE_DRAWERS`` PDF pages drawn at
once by each process (previews.services) bounds that process's child processes, which is what
it is for.
"""

from __future__ import annotations

from django.conf import settings

SET_REDIS = "Set REDIS_URL (for example redis://127.0.0.1:6379/0) to a Redis server they all use."


def shared_state_refusal(*, workers: int) -> str | None:
    """Why this process must not start with ``workers`` server processes, or ``None``."""
    if settings.SHARED_CACHE:
        return None
    if workers > 1:
        return (
            f"Commonroom will not start {workers} server processes without a shared cache: "
            "each would keep its own sign-in rate limits and one-time codes, so an attacker "
            f"would get {workers} times the guesses and a code could be used twice. {SET_REDIS}"
        )
    if settings.PRODUCTION:
        return (
            "Commonroom will not start in production (COMMONROOM_ENV=production) without a "
            "shared cache for sign-in rate limits and one-time codes, which must hold across "
            f"every server process and machine. {SET_REDIS}"
        )
    return None
