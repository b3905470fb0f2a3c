"""What a person may do outside any workspace: the one place that decides it.

Pages and services ask :func:`account_abilities`; templates get it from the context processor.
"""

from __future__ import annotations

from typing import Any


def account_abilities(user: Any) -> dict[str, bool]:
    signed_in = bool(user is not None and user.is_authenticated and user.is_active)
    return {
        # Staff start workspaces; external guests only join the ones they are invited to.
        "create_workspace": signed_in and not user.is_guest,
        # Administrators read the whole audit trail.
        "view_global_audit": signed_in and bool(user.is_superuser),
    }
