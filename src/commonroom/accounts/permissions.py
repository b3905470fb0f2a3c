"""What a person may do outside any workspace: the one place that decides it.

Pages and services ask :func:`account_abilities`; templates get it from the context processor.
Named by :data:`AccountAbility`, so a misspelt name is a type error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypedDict

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
