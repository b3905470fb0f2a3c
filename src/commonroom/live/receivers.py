"""Live follows documents (``documents.hooks``): each change becomes a workspace event of
``live.events``, written in the change's transaction and announced after it commits
(``services.publish``). A folder's documents taken to the trash or brought back with it have no
event of their own: pages showing them know which folders they are in.

It follows accounts and workspaces (their ``hooks``) too: a revoked token or a signed-out
session closes every socket opened with it, signing out everywhere closes every socket the
person opened with a browser session (their tokens still sign them in), a removal from a
workspace closes their sockets on it, and a role change nudges their open pages; each after the
change commits (``services.credential_revoke``, ``services.sessions_revoke``,
``services.revoke_user``, ``services.nudge_user``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from commonroom.accounts import hooks as accounts_hooks
from commonroom.documents import hooks
from commonroom.live.events import (
    DocumentEvent,
    DocumentKind,
    DocumentMovedEvent,
    DocumentSealedEvent,
    EditLocksEvent,
    FolderEvent,
    FolderKind,
    FolderMovedEvent,
    VersionEvent,
)
from commonroom.live.services import (
    credential_revoke,
    nudge_user,
    publish,
    revoke_user,
    sessions_revoke,
)
from commonroom.workspaces import hooks as workspaces_hooks

if TYPE_CHECKING:
    from commonroom.documents.models import Document, Folder


def _document(kind: DocumentKind, doc: Document, actor_id: int) -> None:
    publish(
        workspace_id=doc.workspace_id,
        event=DocumentEvent(
            kind=kind, document=doc.pk, folder=doc.folder_id, name=doc.name, actor_id=actor_id
        ),
    )


def _folder(kind: FolderKind, folder: Folder, actor_id: int) -> None:
    publish(
        workspace_id=folder.workspace_id,
        event=FolderEvent(
            kind=kind,
            folder=folder.pk,
            parent=folder.parent_id,
            name=folder.name,
            actor_id=actor_id,
        ),
    )


def on_version_added(change: hooks.VersionAdded) -> None:
    doc, version = change.document, change.version
    publish(
        workspace_id=doc.workspace_id,
        event=VersionEvent(
            kind="version.created",
            document=doc.pk,
            folder=doc.folder_id,
            name=doc.name,
            number=version.number,
            restored_from=version.restored_from_number,
            author_id=change.actor.pk,
        ),
    )


def on_document_renamed(change: hooks.DocumentRenamed) -> None:
    _document("document.renamed", change.document, change.actor.pk)


def on_document_moved(change: hooks.DocumentMoved) -> None:
    doc = change.document
    publish(
        workspace_id=doc.workspace_id,
        event=DocumentMovedEvent(
            kind="document.moved",
            document=doc.pk,
            folder=doc.folder_id,
            from_folder=change.from_folder_id,
            name=doc.name,
            actor_id=change.actor.pk,
        ),
    )


def on_document_trashed(change: hooks.DocumentTrashed) -> None:
    _document("document.trashed", change.document, change.actor.pk)


def on_document_restored(change: hooks.DocumentRestored) -> None:
    _document("document.restored", change.document, change.actor.pk)


SealedKind = Literal["document.sealed", "document.reopened"]


def _sealed(kind: SealedKind, doc: Document, number: int, actor_id: int) -> None:
    publish(
        workspace_id=doc.workspace_id,
        event=DocumentSealedEvent(
            kind=kind, document=doc.pk, folder=doc.folder_id, number=number, actor_id=actor_id
        ),
    )


def on_document_sealed(change: hooks.DocumentSealed) -> None:
    _sealed("document.sealed", change.document, change.version.number, change.actor.pk)


def on_document_reopened(change: hooks.DocumentReopened) -> None:
    _sealed("document.reopened", change.document, change.version.number, change.actor.pk)


def on_document_purged(change: hooks.DocumentPurged) -> None:
    publish(
        workspace_id=change.workspace_id,
        event=DocumentEvent(
            kind="document.purged",
            document=change.document_id,
            folder=change.folder_id,
            name=change.name,
            actor_id=change.actor.pk,
        ),
    )


def on_edit_locks_changed(change: hooks.EditLocksChanged) -> None:
    publish(
        workspace_id=change.workspace_id,
        event=EditLocksEvent(kind="locks.changed", actor_id=change.actor_id),
    )


def on_folder_created(change: hooks.FolderCreated) -> None:
    _folder("folder.created", change.folder, change.actor.pk)


def on_folder_renamed(change: hooks.FolderRenamed) -> None:
    _folder("folder.renamed", change.folder, change.actor.pk)


def on_folder_moved(change: hooks.FolderMoved) -> None:
    folder = change.folder
    publish(
        workspace_id=folder.workspace_id,
        event=FolderMovedEvent(
            kind="folder.moved",
            folder=folder.pk,
            parent=folder.parent_id,
            from_parent=change.from_parent_id,
            name=folder.name,
            actor_id=change.actor.pk,
        ),
    )


def on_folder_trashed(change: hooks.FolderTrashed) -> None:
    _folder("folder.trashed", change.folder, change.actor.pk)


def on_folder_restored(change: hooks.FolderRestored) -> None:
    _folder("folder.restored", change.folder, change.actor.pk)


def on_folder_purged(change: hooks.FolderPurged) -> None:
    publish(
        workspace_id=change.workspace_id,
        event=FolderEvent(
            kind="folder.purged",
            folder=change.folder_id,
            parent=change.parent_id,
            name=change.name,
            actor_id=change.actor.pk,
        ),
    )


def on_signed_out_everywhere(change: accounts_hooks.SignedOutEverywhere) -> None:
    # Every session of the person ended: so does every socket one of them opened.
    sessions_revoke(user_id=change.actor.pk)


def on_signed_out(change: accounts_hooks.SignedOut) -> None:
    for key in change.session_keys:
        credential_revoke(kind="session", key=key)


def on_token_revoked(change: accounts_hooks.TokenRevoked) -> None:
    credential_revoke(kind="token", key=str(change.token_id))


def on_member_removed(change: workspaces_hooks.MemberRemoved) -> None:
    revoke_user(user_id=change.user_id, workspace_id=change.workspace.pk)


def on_member_role_changed(change: workspaces_hooks.MemberRoleChanged) -> None:
    nudge_user(
        user_id=change.user_id,
        kind="access",
        data={"workspace": change.workspace.pk, "role": change.role_label.lower()},
    )


def connect() -> None:
    accounts_hooks.subscribe(accounts_hooks.SignedOutEverywhere, on_signed_out_everywhere)
    accounts_hooks.subscribe(accounts_hooks.SignedOut, on_signed_out)
    accounts_hooks.subscribe(accounts_hooks.TokenRevoked, on_token_revoked)
    workspaces_hooks.subscribe(workspaces_hooks.MemberRemoved, on_member_removed)
    workspaces_hooks.subscribe(workspaces_hooks.MemberRoleChanged, on_member_role_changed)
    hooks.subscribe(hooks.VersionAdded, on_version_added)
    hooks.subscribe(hooks.DocumentRenamed, on_document_renamed)
    hooks.subscribe(hooks.DocumentMoved, on_document_moved)
    hooks.subscribe(hooks.DocumentTrashed, on_document_trashed)
    hooks.subscribe(hooks.DocumentRestored, on_document_restored)
    hooks.subscribe(hooks.DocumentSealed, on_document_sealed)
    hooks.subscribe(hooks.DocumentReopened, on_document_reopened)
    hooks.subscribe(hooks.DocumentPurged, on_document_purged)
    hooks.subscribe(hooks.FolderCreated, on_folder_created)
    hooks.subscribe(hooks.FolderRenamed, on_folder_renamed)
    hooks.subscribe(hooks.FolderMoved, on_folder_moved)
    hooks.subscribe(hooks.FolderTrashed, on_folder_trashed)
    hooks.subscribe(hooks.FolderRestored, on_folder_restored)
    hooks.subscribe(hooks.FolderPurged, on_folder_purged)
    hooks.subscribe(hooks.EditLocksChanged, on_edit_locks_changed)
