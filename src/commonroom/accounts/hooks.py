"""How other apps follow accounts without accounts knowing them (``core.hooks``).

A service that changes what a person's open connections may do tells :func:`changed`, inside its
transaction, after the change is written and before its audit row. Live closes the sockets
opened with what stopped signing the person in (its ``receivers.py``). So accounts imports none
of the apps that follow it.

An :class:`Allowance` is a question accounts decides but other apps know part of the answer to:
whether an external guest may have API tokens (:data:`guest_api_tokens`) is also a choice of
their workspaces' managers, which workspaces answers (its ``receivers.py``). Accounts asks it in
``permissions.py`` without importing workspaces, which imports accounts.
"""

from __future__ import annotations

from collections.abc import Callable
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


class Allowance:
    """Something a person is allowed when any of the apps that add a check says so. Each check
    takes the person and answers from the database, on every ask (nothing is cached)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._checks: list[Callable[[User], bool]] = []

    def add(self, check: Callable[[User], bool]) -> None:
        """``check`` may allow it (from an app's ``ready()``); adding it twice has no effect."""
        if check not in self._checks:
            self._checks.append(check)

    def remove(self, check: Callable[[User], bool]) -> None:
        if check in self._checks:
            self._checks.remove(check)

    def given(self, user: User) -> bool:
        """Whether any check allows ``user``."""
        return any(check(user) for check in self._checks)


# An external guest may create and use API tokens when one of their workspaces allows its guests
# to (workspaces adds that check); an administrator's allowance on the person is accounts' own.
guest_api_tokens = Allowance("guest_api_tokens")
