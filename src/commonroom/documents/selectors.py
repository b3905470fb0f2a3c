"""Reading folders, documents and versions as a given person may see them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import F, Prefetch, QuerySet

from commonroom.core.exceptions import NotFound
from commonroom.documents.models import Document, Folder, Version
from commonroom.documents.permissions import document_abilities
from commonroom.workspaces.selectors import WorkspaceAccess, parse_uuid, workspace_access


@dataclass(frozen=True)
class DocumentAccess:
    document: Document
    access: WorkspaceAccess
    abilities: dict[str, bool]

    def can(self, ability: str) -> bool:
        return self.abilities.get(ability, False)


def document_access(
    *, user: Any, workspace_id: Any, document_id: Any, include_trash: bool = False
) -> DocumentAccess:
    """A document of a workspace the user belongs to; trashed ones only for trash managers."""
    access = workspace_access(user=user, workspace_id=workspace_id)
    doc = (
        Document.objects.select_related("folder", "created_by")
        .filter(pk=parse_uuid(document_id), workspace_id=access.workspace.pk)
        .first()
    )
    if doc is None:
        raise NotFound()
    if doc.in_trash and not (include_trash and access.can("manage_trash")):
        raise NotFound()
    return DocumentAccess(doc, access, document_abilities(access, in_trash=doc.in_trash))


def folder_get(*, access: WorkspaceAccess, folder_id: Any, include_trash: bool = False) -> Folder:
    folder = (
        Folder.objects.filter(pk=parse_uuid(folder_id), workspace_id=access.workspace.pk)
        .select_related("parent")
        .first()
    )
    # Like a trashed document, a trashed folder exists only for those who manage the trash.
    if folder is None or (folder.in_trash and not (include_trash and access.can("manage_trash"))):
        raise NotFound()
    return folder


def folder_path(folder: Folder | None) -> list[Folder]:
    """Breadcrumbs from the workspace root down to ``folder``."""
    path: list[Folder] = []
    seen: set[Any] = set()
    while folder is not None and folder.pk not in seen:
        seen.add(folder.pk)
        path.append(folder)
        folder = folder.parent
    return list(reversed(path))


def folder_children(*, access: WorkspaceAccess, folder: Folder | None) -> QuerySet[Folder]:
    return Folder.objects.filter(
        workspace_id=access.workspace.pk, parent=folder, deleted_at__isnull=True
    ).order_by("name")


def latest_version_prefetch() -> Prefetch:
    """Each document's latest version (with its author) as ``latest_versions``, in one query
    for any number of documents, however many versions each has."""
    return Prefetch(
        "versions",
        queryset=Version.objects.filter(
            number=F("document__current_version_number")
        ).select_related("author"),
        to_attr="latest_versions",
    )


def folder_documents(*, access: WorkspaceAccess, folder: Folder | None) -> QuerySet[Document]:
    """The live documents of one folder, each with its latest version."""
    return (
        Document.objects.filter(
            workspace_id=access.workspace.pk, folder=folder, deleted_at__isnull=True
        )
        .prefetch_related(latest_version_prefetch())
        .order_by("name", "pk")
    )


def latest_version(document: Document) -> Version | None:
    prefetched = getattr(document, "latest_versions", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return document.versions.order_by("-number").first()


def document_versions(*, doc_access: DocumentAccess) -> QuerySet[Version]:
    return doc_access.document.versions.select_related("author").order_by("-number")


def version_get(*, doc_access: DocumentAccess, number: Any) -> Version:
    try:
        n = int(number)
    except (TypeError, ValueError):
        raise NotFound() from None
    version = doc_access.document.versions.select_related("author", "blob").filter(number=n).first()
    if version is None:
        raise NotFound()
    return version


def all_folders(*, access: WorkspaceAccess) -> list[tuple[Folder, str]]:
    """Every live folder with its full path, for "move to" choices."""
    folders = list(Folder.objects.filter(workspace_id=access.workspace.pk, deleted_at__isnull=True))
    by_id = {f.pk: f for f in folders}

    def label(f: Folder) -> str:
        parts, seen = [], set()
        node: Folder | None = f
        while node is not None and node.pk not in seen:
            seen.add(node.pk)
            parts.append(node.name)
            node = by_id.get(node.parent_id) if node.parent_id else None
        return " / ".join(reversed(parts))

    return sorted(((f, label(f)) for f in folders), key=lambda p: p[1].lower())


def trash_items(*, access: WorkspaceAccess) -> tuple[QuerySet[Folder], QuerySet[Document]]:
    """What was put in the trash directly (not what went with a folder), newest first."""
    if not access.can("view_trash"):
        return Folder.objects.none(), Document.objects.none()
    ws = access.workspace.pk
    folders = Folder.objects.filter(
        workspace_id=ws, deleted_at__isnull=False, trashed_with__isnull=True
    ).select_related("deleted_by")
    docs = (
        Document.objects.filter(
            workspace_id=ws, deleted_at__isnull=False, trashed_with__isnull=True
        )
        .select_related("deleted_by")
        .prefetch_related(latest_version_prefetch())
    )
    return folders.order_by("-deleted_at"), docs.order_by("-deleted_at")
