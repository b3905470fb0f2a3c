"""The one place that decides what a person may do in a workspace.

``abilities_for_role`` turns a role into :class:`WorkspaceAbilities` (a dict of booleans).
``selectors.workspace_access`` (every read) and ``services.lock_access`` (every write, under the
lock) build the acting person's abilities with it; pages, the JSON API (which returns the dict to
clients), and later websockets and WebDAV all read that dict; nothing else compares roles.
An archived workspace is read-only for everyone: only reading, the audit trail and un-archiving
remain.

Abilities are named by :data:`WorkspaceAbility`, so a misspelt name (``access.can("uplaod")``,
``abilities["manage_member"]``) is a type error, not a silent refusal. The names are written
twice, as the ``Literal`` and as the dict's keys; a test checks the two agree.
"""

from __future__ import annotations

from typing import Literal, TypedDict, get_args

from commonroom.workspaces.models import ROLE_RANK, Role

WorkspaceAbility = Literal[
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
    "see_readers",
    "remind_readers",
]


class WorkspaceAbilities(TypedDict):
    view: bool
    download: bool
    comment: bool
    upload: bool
    edit_documents: bool
    delete_documents: bool
    manage_members: bool
    manage_workspace: bool
    manage_trash: bool
    view_audit: bool
    view_trash: bool
    open_settings: bool
    archive: bool
    unarchive: bool
    see_readers: bool
    remind_readers: bool


ABILITY_NAMES: tuple[WorkspaceAbility, ...] = get_args(WorkspaceAbility)


def abilities_for_role(role: str | None, *, archived: bool) -> WorkspaceAbilities:
    if role is None:
        return no_abilities()
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
        # Who has read a document's versions and who has not (read receipts): managers and
        # editors, archived or not; reminding those who have not is a write.
        "see_readers": editor,
        "remind_readers": writable and editor,
    }


def no_abilities() -> WorkspaceAbilities:
    """What someone who is not a member may do: nothing."""
    return {
        "view": False,
        "download": False,
        "comment": False,
        "upload": False,
        "edit_documents": False,
        "delete_documents": False,
        "manage_members": False,
        "manage_workspace": False,
        "manage_trash": False,
        "view_audit": False,
        "view_trash": False,
        "open_settings": False,
        "archive": False,
        "unarchive": False,
        "see_readers": False,
        "remind_readers": False,
    }
