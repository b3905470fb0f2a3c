"""The one place that decides what a person may do in a workspace.

``workspace_abilities`` returns a dict of booleans. Pages, the JSON API (which returns it to
clients), and later websockets and WebDAV all ask it; nothing else compares roles.
An archived workspace is read-only for everyone: only reading, the audit trail and un-archiving
remain.
"""

from __future__ import annotations

from typing import Any

from commonroom.workspaces.models import ROLE_RANK, Role, Workspace

ABILITY_NAMES = (
    "view",
    "download",
    "comment",
    "upload",
    "edit_documents",
    "delete_documents",
    "manage_members",
    "manage_workspace",
    "manage_trash",
    "view_audit",
    "view_trash",
    "open_settings",
    "archive",
    "unarchive",
)

NO_ABILITIES: dict[str, bool] = dict.fromkeys(ABILITY_NAMES, False)


def abilities_for_role(role: str | None, *, archived: bool) -> dict[str, bool]:
    if role is None:
        return dict(NO_ABILITIES)
    rank = ROLE_RANK[Role(role)]
    writable = not archived
    manager = rank >= ROLE_RANK[Role.MANAGER]
    editor = rank >= ROLE_RANK[Role.EDITOR]
    return {
        "view": True,
        "download": True,
        "comment": writable and rank >= ROLE_RANK[Role.COMMENTER],
        "upload": writable and editor,
        "edit_documents": writable and editor,
        "delete_documents": writable and editor,
        "manage_members": writable and manager,
        "manage_workspace": writable and manager,
        "manage_trash": writable and manager,
        "view_audit": manager,
        # Managers see the trash and the settings page even when archived (read-only there).
        "view_trash": manager,
        "open_settings": manager,
        "archive": writable and manager,
        "unarchive": archived and manager,
    }


def workspace_abilities(
    user: Any, workspace: Workspace, role: str | None = None
) -> dict[str, bool]:
    """What ``user`` may do in ``workspace``. Pass ``role`` when the caller already loaded it."""
    if user is None or not user.is_authenticated or not user.is_active:
        return dict(NO_ABILITIES)
    if role is None:
        role = workspace.memberships.filter(user=user).values_list("role", flat=True).first()
    return abilities_for_role(role, archived=workspace.is_archived)
