"""What approvals tell the apps that follow them (``core.hooks``), without importing them.

Told inside the change's transaction, after it is written and before its audit rows.
Notifications follow them: the people asked (and reminded) are notified and emailed, the
requester hears each decision, everyone on the request hears how it ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from commonroom.core.hooks import Hook

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.approvals.models import ApprovalRequest, Approver


@dataclass(frozen=True)
class ApprovalAsked:
    """``user_ids`` were asked to approve (a new request, or added to an open one)."""

    actor: User
    request: ApprovalRequest
    user_ids: tuple[int, ...]


@dataclass(frozen=True)
class ApprovalReminded:
    """The approvers still to decide were reminded: by ``actor``, or by the daily job (``actor``
    None) because the due date is near (``why`` "soon") or past ("overdue")."""

    actor: User | None
    request: ApprovalRequest
    user_ids: tuple[int, ...]
    why: str


@dataclass(frozen=True)
class ApprovalDecided:
    actor: User
    request: ApprovalRequest
    approver: Approver


@dataclass(frozen=True)
class ApprovalEnded:
    """The request ended (``request.state``: approved, declined, cancelled, superseded)."""

    actor: User | None
    request: ApprovalRequest


Change = ApprovalAsked | ApprovalReminded | ApprovalDecided | ApprovalEnded

hook: Hook[Change] = Hook("approvals")
subscribe = hook.subscribe
unsubscribe = hook.unsubscribe
subscribed = hook.subscribed
changed = hook.changed
