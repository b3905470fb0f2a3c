"""What a person may do with a document: derived from their workspace abilities and the
document's state (in the trash, sealed), in one place.

Named by :data:`DocumentAbility`, so a misspelt name is a type error (see
``workspaces.permissions``). A sealed document (its final record stands: see
``services.version_seal``) takes no new version, name, place or trip to the trash
(:data:`SEALED_REFUSES`); a manager may reopen it. A manager may also break a lock another
program holds on it (``break_lock``: ``services.document_lock_break``). Managers and editors
see who has read each version and remind those who have not (``see_readers``,
``remind_readers``: the workspace's abilities of those names, the one place it is decided).
:func:`require` refuses with the seal's sentence (409 ``sealed``) when the seal alone is why,
else as ``workspaces.services.deny``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypedDict

from commonroom.documents.exceptions import Sealed
from commonroom.workspaces.selectors import WorkspaceAccess
from commonroom.workspaces.services import deny

if TYPE_CHECKING:
    from commonroom.documents.selectors import DocumentAccess

DocumentAbility = Literal[
    "view",
    "download",
    "comment",
    "upload_version",
    "restore_version",
    "rename",
    "move",
    "delete",
    "restore",
    "purge",
    "reopen",
    "break_lock",
    "see_readers",
    "remind_readers",
]

# What a seal takes away from those who could otherwise do it.
SEALED_REFUSES: frozenset[DocumentAbility] = frozenset(
    {"upload_version", "restore_version", "rename", "move", "delete"}
)


class DocumentAbilities(TypedDict):
    view: bool
    download: bool
    comment: bool
    upload_version: bool
    restore_version: bool
    rename: bool
    move: bool
    delete: bool
    restore: bool
    purge: bool
    reopen: bool
    break_lock: bool
    see_readers: bool
    remind_readers: bool


def document_abilities(
    access: WorkspaceAccess, *, in_trash: bool = False, sealed: bool = False
) -> DocumentAbilities:
    a = access.abilities
    if in_trash:
        return {
            "view": False,
            "download": False,
            "comment": False,
            "upload_version": False,
            "restore_version": False,
            "rename": False,
            "move": False,
            "delete": False,
            "restore": a["manage_trash"],
            "purge": a["manage_trash"],
            "reopen": False,
            "break_lock": False,
            "see_readers": False,
            "remind_readers": False,
        }
    open_ = not sealed
    return {
        "view": a["view"],
        "download": a["download"],
        "comment": a["comment"],
        "upload_version": open_ and a["upload"],
        "restore_version": open_ and a["edit_documents"],
        "rename": open_ and a["edit_documents"],
        "move": open_ and a["edit_documents"],
        "delete": open_ and a["delete_documents"],
        "restore": False,
        "purge": False,
        "reopen": sealed and a["manage_workspace"],
        # End another program's hold on it (a WebDAV lock left behind): a manager's, sealed
        # or not, never in an archived workspace (read-only: nothing there can be changed).
        "break_lock": a["manage_workspace"],
        # Who has read which version, and reminding those who have not (read receipts):
        # decided by the workspace's abilities, sealed or not (a final record is read too).
        "see_readers": a["see_readers"],
        "remind_readers": a["remind_readers"],
    }


def refused_by_seal(doc_access: DocumentAccess, ability: DocumentAbility) -> bool:
    """Whether ``ability`` is refused only because the document is sealed."""
    return (
        doc_access.document.sealed_version_id is not None
        and ability in SEALED_REFUSES
        and document_abilities(doc_access.access, sealed=False)[ability]
    )


def require(doc_access: DocumentAccess, ability: DocumentAbility, message: str) -> None:
    """Refuse unless the person may do ``ability`` now: with the seal's sentence when the seal
    is why (:class:`Sealed`, 409), else with ``message`` (403; in an archived workspace, that
    it is archived)."""
    if doc_access.can(ability):
        return
    if refused_by_seal(doc_access, ability):
        raise Sealed.of(doc_access.document)
    deny(doc_access.access, message)
