"""The abilities function, role by role, open and archived: the exact dict each one gets."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from commonroom.workspaces.permissions import (
    ABILITY_NAMES,
    abilities_for_role,
    workspace_abilities,
)


def _only(*names: str) -> dict[str, bool]:
    return {name: name in names for name in ABILITY_NAMES}


VIEWER = ("view", "download")
COMMENTER = (*VIEWER, "comment")
EDITOR = (*COMMENTER, "upload", "edit_documents", "delete_documents")
MANAGER = (
    *EDITOR,
    "manage_members",
    "manage_workspace",
    "manage_trash",
    "view_audit",
    "view_trash",
    "open_settings",
    "archive",
)

# Written out by hand: an archived workspace is read-only for everyone; its managers can still
# read the audit trail and reopen it.
EXPECTED: dict[tuple[str, bool], dict[str, bool]] = {
    ("viewer", False): _only(*VIEWER),
    ("commenter", False): _only(*COMMENTER),
    ("editor", False): _only(*EDITOR),
    ("manager", False): _only(*MANAGER),
    ("viewer", True): _only("view", "download"),
    ("commenter", True): _only("view", "download"),
    ("editor", True): _only("view", "download"),
    ("manager", True): _only(
        "view", "download", "view_audit", "view_trash", "open_settings", "unarchive"
    ),
}

CASES = sorted(EXPECTED)


def test_the_table_names_every_ability():
    assert set(ABILITY_NAMES) == {
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
    }


@pytest.mark.parametrize(("role", "archived"), CASES)
def test_abilities_for_role(role, archived):
    assert abilities_for_role(role, archived=archived) == EXPECTED[(role, archived)]


@pytest.mark.parametrize(("role", "archived"), CASES)
def test_workspace_abilities_reads_the_membership(team, role, archived):
    if archived:
        team.workspace.archived_at = timezone.now()
        team.workspace.save()
    user = team.by_role[role]
    assert workspace_abilities(user, team.workspace) == EXPECTED[(role, archived)]
    # Passing the role the caller already loaded gives the same answer.
    assert workspace_abilities(user, team.workspace, role=role) == EXPECTED[(role, archived)]


@pytest.mark.parametrize("archived", [False, True])
def test_no_membership_means_no_abilities(team, archived):
    if archived:
        team.workspace.archived_at = timezone.now()
        team.workspace.save()
    nothing = dict.fromkeys(ABILITY_NAMES, False)
    assert abilities_for_role(None, archived=archived) == nothing
    assert workspace_abilities(team.outsider, team.workspace) == nothing
    assert workspace_abilities(AnonymousUser(), team.workspace) == nothing
    assert workspace_abilities(None, team.workspace) == nothing


def test_deactivated_member_has_no_abilities(team):
    team.manager.is_active = False
    team.manager.save()
    assert not any(workspace_abilities(team.manager, team.workspace).values())
