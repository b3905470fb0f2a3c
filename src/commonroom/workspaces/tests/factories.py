"""Factories for workspaces; members are added through the real models, roles by name."""

from __future__ import annotations

from typing import Any

from commonroom.accounts.tests.factories import UserFactory
from commonroom.workspaces.models import Membership, Role, Workspace
from commonroom.workspaces.services import workspace_create


def make_workspace(*, manager: Any = None, name: str = "Weekly budget meeting") -> Workspace:
    manager = manager or UserFactory()
    return workspace_create(actor=manager, name=name)


def add_member(workspace: Workspace, user: Any = None, role: str = Role.VIEWER) -> Any:
    user = user or UserFactory()
    Membership.objects.create(workspace=workspace, user=user, role=role)
    return user
