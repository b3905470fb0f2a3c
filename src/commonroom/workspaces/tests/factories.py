"""Factories for workspaces; members are added through the real models, roles by name."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from commonroom.accounts.tests.factories import UserFactory
from commonroom.workspaces.models import Membership, Role, Workspace
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.services import workspace_create


def make_workspace(*, manager: Any = None, name: str = "Weekly budget meeting") -> Workspace:
    manager = manager or UserFactory()
    return workspace_create(actor=manager, name=name)


def add_member(workspace: Workspace, user: Any = None, role: str = Role.VIEWER) -> Any:
    user = user or UserFactory()
    Membership.objects.create(workspace=workspace, user=user, role=role)
    return user


def upload_document(
    workspace: Workspace,
    actor: Any,
    *,
    name: str = "minutes.txt",
    content: bytes = b"Minutes of the weekly budget meeting.\n",
    folder: Any = None,
) -> Any:
    """A document with one version, uploaded through the real service by ``actor``."""
    from commonroom.documents.services import document_upload

    access = workspace_access(user=actor, workspace_id=workspace.pk)
    version = document_upload(
        actor=actor,
        access=access,
        uploaded=SimpleUploadedFile(name, content, content_type="text/plain"),
        folder=folder,
    )
    return version.document
