"""Documents and versions made through the real services, as the people in ``team`` would."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from commonroom.documents import services
from commonroom.documents.models import Document, Folder, Version
from commonroom.documents.selectors import DocumentAccess, document_access
from commonroom.workspaces.selectors import WorkspaceAccess, workspace_access


def access_for(user: Any, workspace: Any) -> WorkspaceAccess:
    return workspace_access(user=user, workspace_id=workspace.pk)


def doc_access_for(user: Any, document: Document, *, include_trash: bool = False) -> DocumentAccess:
    return document_access(
        user=user,
        workspace_id=document.workspace_id,
        document_id=document.pk,
        include_trash=include_trash,
    )


def a_file(name: str = "minutes.txt", content: bytes = b"hello", ctype: str = "text/plain") -> Any:
    return SimpleUploadedFile(name, content, content_type=ctype)


def upload(
    user: Any,
    workspace: Any,
    name: str = "minutes.txt",
    content: bytes = b"hello",
    *,
    folder: Folder | None = None,
    **kwargs: Any,
) -> Version:
    """``user`` uploads ``content`` as ``name`` into ``folder`` (top level by default)."""
    return services.document_upload(
        actor=user,
        access=access_for(user, workspace),
        uploaded=a_file(name, content),
        folder=folder,
        **kwargs,
    )


def new_version(user: Any, document: Document, content: bytes, **kwargs: Any) -> Version:
    return services.version_upload(
        actor=user,
        doc_access=doc_access_for(user, document),
        uploaded=a_file(document.name, content),
        **kwargs,
    )


def make_folder(user: Any, workspace: Any, name: str, parent: Folder | None = None) -> Folder:
    return services.folder_create(
        actor=user, access=access_for(user, workspace), name=name, parent=parent
    )
