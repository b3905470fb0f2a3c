"""How other apps follow accounts without accounts knowing them (``core.hooks``).

A service that changes what a person's open connections may do tells :func:`changed`, inside its
transaction, after the change is written and before its audit row. Live closes the person's
sockets (its ``receivers.py``). So accounts imports none of the apps that follow it.
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


Change = SignedOutEverywhere

hook: Hook[Change] = Hook("accounts")
subscribe = hook.subscribe
unsubscribe = hook.unsubscribe
subscribed = hook.subscribed
changed = hook.changed
