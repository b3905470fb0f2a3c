"""What a person may do with a document: derived from their workspace abilities, in one place.

Named by :data:`DocumentAbility`, so a misspelt name is a type error (see
``workspaces.permissions``)."""

from __future__ import annotations

from typing import Literal, TypedDict

from commonroom.workspaces.selectors import WorkspaceAccess

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
]


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


def document_abilities(access: WorkspaceAccess, *, in_trash: bool = False) -> DocumentAbilities:
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
        }
    return {
        "view": a["view"],
        "download": a["download"],
        "comment": a["comment"],
        "upload_version": a["upload"],
        "restore_version": a["edit_documents"],
        "rename": a["edit_documents"],
        "move": a["edit_documents"],
        "delete": a["delete_documents"],
        "restore": False,
        "purge": False,
    }
