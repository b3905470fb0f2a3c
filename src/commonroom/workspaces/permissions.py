"""The one place that decides what a person may do in a workspace.

``abilities_for_role`` turns a role into :class:`WorkspaceAbilities` (a dict of booleans).
What it needs besides the role: whether the workspace is archived, whether the person is an
external guest, and the workspace's download setting (:class:`DownloadSettings`): ``download``
means "may download originals" (the version files, the Word file with tracked changes, a final
record's certificate, WebDAV's GET); reading in the browser is ``view``, everyone's.
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

from commonroom.workspaces.models import ROLE_RANK, DownloadRule, Role, Workspace

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


class DownloadSettings(TypedDict):
    """A workspace's download setting: who in each role below manager may download originals
    (managers always may: they decide who else does, so no setting leaves no one able to)."""

    editor: DownloadRule
    commenter: DownloadRule
    viewer: DownloadRule


# The workspace's field holding each role's rule.
DOWNLOAD_FIELDS = {
    "editor": "editors_download",
    "commenter": "commenters_download",
    "viewer": "viewers_download",
}


def download_settings(workspace: Workspace) -> DownloadSettings:
    return {
        "editor": DownloadRule(workspace.editors_download),
        "commenter": DownloadRule(workspace.commenters_download),
        "viewer": DownloadRule(workspace.viewers_download),
    }


def _rule_for(role: str, downloads: DownloadSettings) -> DownloadRule:
    """The rule ``downloads`` sets for ``role``: managers always may."""
    return {
        Role.MANAGER: DownloadRule.EVERYONE,
        Role.EDITOR: downloads["editor"],
        Role.COMMENTER: downloads["commenter"],
        Role.VIEWER: downloads["viewer"],
    }[Role(role)]


def may_download(role: str, *, guest: bool, downloads: DownloadSettings) -> bool:
    """Whether a member with ``role`` (an external guest or not) may download originals."""
    rule = _rule_for(role, downloads)
    return rule == DownloadRule.EVERYONE or (rule == DownloadRule.STAFF and not guest)


_PLURAL = {Role.EDITOR: "editors", Role.COMMENTER: "commenters", Role.VIEWER: "viewers"}


def download_refusal(role: str, *, guest: bool, downloads: DownloadSettings) -> str | None:
    """Why a member with ``role`` may not download originals, as a sentence; ``None`` if they
    may (:func:`may_download`)."""
    if may_download(role, guest=guest, downloads=downloads):
        return None
    who = _PLURAL[Role(role)]
    if guest and _rule_for(role, downloads) == DownloadRule.STAFF:
        who = f"external guests who are {who}"
    return (
        f"In this workspace, {who} cannot download documents: you can still read them here in "
        "the browser. A manager of the workspace can change this in its settings."
    )


def may_comment(role: str, *, archived: bool) -> bool:
    return not archived and ROLE_RANK[Role(role)] >= ROLE_RANK[Role.COMMENTER]


def abilities_for_role(
    role: str | None, *, archived: bool, guest: bool, downloads: DownloadSettings
) -> WorkspaceAbilities:
    """What a member with ``role`` may do: ``guest`` says whether they are an external guest,
    ``downloads`` is the workspace's setting (:func:`download_settings`)."""
    if role is None:
        return no_abilities()
    rank = ROLE_RANK[Role(role)]
    writable = not archived
    manager = rank >= ROLE_RANK[Role.MANAGER]
    editor = rank >= ROLE_RANK[Role.EDITOR]
    return {
        "view": True,
        # Reading an archived workspace's documents includes downloading them, as allowed.
        "download": may_download(role, guest=guest, downloads=downloads),
        "comment": may_comment(role, archived=archived),
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
