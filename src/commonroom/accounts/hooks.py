"""How other apps follow accounts without accounts knowing them (``core.hooks``).

A service that changes what a person's open connections may do tells :func:`changed`, inside its
transaction, after the change is written and before its audit row. Live closes the sockets
opened with what stopped signing the person in (its ``receivers.py``). So accounts imports none
of the apps that follow it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from commonroom.core.hooks import Hook

if TYPE_CHECKING:
    from commonroom.accounts.models import User


@dataclass(frozen=True)
class SignedOutEverywhere:
    """Every browser session of ``actor`` was ended (``sessions`` of them), this one included:
    what those sessions had opened must close too."""

    actor: User
    sessions: int


@dataclass(frozen=True)
class SignedOut:
    """Browser sessions of ``actor`` ended one at a time (signing out in a browser, or ending
    another from the sessions page): ``session_keys`` no longer sign anyone in."""

    actor: User
    session_keys: tuple[str, ...]


@dataclass(frozen=True)
class TokenRevoked:
    """``actor``'s API token ``token_id`` was revoked: it no longer signs anyone in."""

    actor: User
    token_id: int


Change = SignedOutEverywhere | SignedOut | TokenRevoked

hook: Hook[Change] = Hook("accounts")
subscribe = hook.subscribe
unsubscribe = hook.unsubscribe
subscribed = hook.subscribed
changed = hook.changed
