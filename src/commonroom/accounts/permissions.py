"""What a person may do outside any workspace: the one place that decides it.

Pages and services ask :func:`account_abilities`; templates get it from the context processor.
Named by :data:`AccountAbility`, so a misspelt name is a type error.

API tokens are decided apart (:func:`api_tokens_refusal`), because for an external guest the
answer reads the database: staff may create and use them; a guest only while an administrator
allows them (``User.api_tokens_allowed``) or a workspace of theirs allows its guests to (asked
through ``hooks.guest_api_tokens``, which workspaces answers). A guest's token stops working the
moment neither does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypedDict

from commonroom.accounts import hooks

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from commonroom.accounts.models import User

AccountAbility = Literal["create_workspace", "view_global_audit"]


class AccountAbilities(TypedDict):
    create_workspace: bool
    view_global_audit: bool


def account_abilities(user: User | AnonymousUser | None) -> AccountAbilities:
    if user is None or not user.is_authenticated or not user.is_active:
        return {"create_workspace": False, "view_global_audit": False}
    return {
        # Staff start workspaces; external guests only join the ones they are invited to.
        "create_workspace": not user.is_guest,
        # Administrators read the whole audit trail.
        "view_global_audit": bool(user.is_superuser),
    }


GUEST_TOKENS_REFUSED = (
    "External guests cannot create API tokens unless a manager of one of their workspaces "
    "allows guests' tokens in its settings, or an administrator allows them."
)


def api_tokens_refusal(user: User | AnonymousUser | None) -> str | None:
    """Why ``user`` may not create or use API tokens, as a sentence; None when they may."""
    if user is None or not user.is_authenticated:
        return "Sign in to manage API tokens."
    if not user.is_active:
        return "This account is deactivated: it cannot have API tokens."
    if not user.is_guest or user.api_tokens_allowed or hooks.guest_api_tokens.given(user):
        return None
    return GUEST_TOKENS_REFUSED
