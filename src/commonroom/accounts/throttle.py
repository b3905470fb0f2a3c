"""One account's password attempts from everywhere, slowed but never locked.

allauth limits failed sign-ins per client and per account *at that client* (``login_failed``
in ``ACCOUNT_RATE_LIMITS``; the key is made in ``adapters.py``), so a guesser cannot lock the
account's owner out from elsewhere. What that leaves open is a guess spread over many clients;
this module slows it. ``COMMONROOM_LOGIN_ACCOUNT_BACKOFF`` (failures, window, longest wait):

- each password attempt on the account is counted when it starts (so attempts running at once
  cannot slip past the count) and uncounted when it succeeds or is turned away; counts are
  forgotten once none has been added for the window;
- while the count is within the first ``failures``, attempts go ahead as they come;
- past that, an attempt goes ahead only if it can take the account's turn, which it holds for
  1 s, then 2 s, 4 s... (doubling with each further count) up to the longest wait: one attempt
  per turn, however many clients send them. An attempt that finds the turn taken is turned
  away, with the seconds left, before its password is looked at.

A success gives the turn back at once (but leaves the count: the guesser may still be there).
A password reset forgets the account's count and turn. Passkey sign-in and reset links never
come here, so the owner always has a way in; the refusal names them.

Apart from that, the sign-ins in progress at once from one client address are bounded
(``COMMONROOM_SIGN_INS_AT_ONCE``, per address as allauth counts it): the address's failed
sign-ins are counted when a password proves wrong, not as it starts, so that a trust's staff
arriving together behind one NAT address are not taken for a guesser; this bound is what stops
a guesser sending many at once from having them all tried before the first failures count.

And the sign-in forms sent from one address are limited (``COMMONROOM_SIGNIN_ADDRESS_RATE``,
600 a minute): only a flood guard, as failures have their own limits. allauth's own limit
("login" in ``ACCOUNT_RATE_LIMITS``) keeps each address's times in one cache entry behind a lock,
and answers 429 when it cannot take the lock within a second: 500 people arriving together
behind one NAT address contended for it, and a few correct sign-ins were turned away. Here the
count is two counters (this window and the last), added to atomically, with no lock.

The state is in Django's cache (Redis with ``REDIS_URL``: shared by every server process), under
a hash of the address, so the cache never holds the addresses people tried.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from dataclasses import dataclass

from allauth.core.internal.ratelimit import parse_rate
from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True)
class Backoff:
    failures: int  # attempts from anywhere before each must wait its turn
    window: int  # seconds the count is kept after its last addition
    longest: int  # seconds: the longest turn


@dataclass(frozen=True)
class Attempt:
    """A password attempt that may go ahead; ``turn``: it holds the account's turn."""

    email: str
    turn: bool


@dataclass(frozen=True)
class Wait:
    """A password attempt turned away: the account's turn is taken for ``seconds`` more."""

    seconds: int


def backoff() -> Backoff:
    return Backoff(*settings.COMMONROOM_LOGIN_ACCOUNT_BACKOFF)


def _keys(email: str) -> tuple[str, str]:
    digest = hashlib.sha256(email.lower().encode()).hexdigest()
    return f"login-backoff:{digest}:count", f"login-backoff:{digest}:turn"


def _count_add(key: str, window: int) -> int:
    cache.add(key, 0, timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between the two
        cache.set(key, 1, timeout=window)
        count = 1
    cache.touch(key, window)
    return int(count)


def _count_remove(key: str) -> None:
    with contextlib.suppress(ValueError):  # already forgotten
        cache.decr(key)


def attempt_start(email: str) -> Attempt | Wait:
    """Count a password attempt on ``email`` and say whether it may go ahead."""
    rule = backoff()
    count_key, turn_key = _keys(email)
    count = _count_add(count_key, rule.window)
    if count <= rule.failures:
        return Attempt(email=email, turn=False)
    hold = min(2 ** min(count - rule.failures - 1, 62), rule.longest)
    if cache.add(turn_key, time.time() + hold, timeout=hold):
        return Attempt(email=email, turn=True)
    _count_remove(count_key)
    until = cache.get(turn_key)
    left = math.ceil(until - time.time()) if isinstance(until, float) else 1
    return Wait(seconds=max(left, 1))


def attempt_succeeded(attempt: Attempt) -> None:
    """The password was right: uncount the attempt and give its turn back."""
    count_key, turn_key = _keys(attempt.email)
    _count_remove(count_key)
    if attempt.turn:
        cache.delete(turn_key)


def account_forget(email: str) -> None:
    """After a password reset: the guesses were at a password that is no longer the account's."""
    cache.delete_many(list(_keys(email)))


def address_key(client: str) -> str:
    return f"sign-ins-at-once:{hashlib.sha256(client.encode()).hexdigest()}"


def address_enter(client: str) -> str | None:
    """Count a sign-in in progress from ``client``: the key to give back with
    :func:`address_leave`, or ``None`` (and nothing counted) when the address already has
    ``COMMONROOM_SIGN_INS_AT_ONCE`` in progress. A count left by a process killed mid-sign-in
    is forgotten a minute after the address's last sign-in."""
    key = address_key(client)
    if _count_add(key, 60) > settings.COMMONROOM_SIGN_INS_AT_ONCE:
        _count_remove(key)
        return None
    return key


def address_leave(key: str) -> None:
    _count_remove(key)


def address_sign_in_sent(client: str, *, now: float | None = None) -> bool:
    """Count a sign-in form sent from ``client`` and say whether it may be looked at: at most
    ``COMMONROOM_SIGNIN_ADDRESS_RATE`` (``amount/duration``, as allauth writes rates) in any
    window of that duration, estimated as the count of this fixed window plus the last one's
    weighted by how much of it the sliding window still covers. A form turned away is not
    counted, as allauth does not count it."""
    rate = parse_rate(settings.COMMONROOM_SIGNIN_ADDRESS_RATE)
    if rate.amount <= 0:
        return True
    now = time.time() if now is None else now
    duration = float(rate.duration)
    window = int(now // duration)
    digest = hashlib.sha256(client.encode()).hexdigest()
    this_key = f"sign-in-forms:{digest}:{window}"
    count = _count_add(this_key, math.ceil(2 * duration))
    last = cache.get(f"sign-in-forms:{digest}:{window - 1}") or 0
    if count + int(last) * (1 - (now % duration) / duration) > rate.amount:
        _count_remove(this_key)
        return False
    return True
