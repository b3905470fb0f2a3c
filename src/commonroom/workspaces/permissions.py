"""The one place that decides what a person may do in a workspace.

``abilities_for_role`` turns a role into a dict of booleans. ``selectors.workspace_access`` (every
read) and ``services.lock_access`` (every write, under the lock) build the acting person's
abilities with it; pages, the JSON API (which returns the dict to clients), and later websockets
and WebDAV all read that dict; nothing else compares roles.
An archived workspace is read-only for everyone: only reading, the audit trail and un-archiving
remain.
"""

from __future__ import annotations

from commonroom.workspaces.models import ROLE_RANK, Role

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
