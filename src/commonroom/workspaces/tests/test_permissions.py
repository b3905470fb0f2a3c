"""The abilities function, role by role, open and archived: the exact dict each one gets."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from commonroom.core.exceptions import NotFound
from commonroom.workspaces.permissions import (
    ABILITY_NAMES,
    abilities_for_role,
)
from commonroom.workspaces.selectors import workspace_access


def _only(*names: str) -> dict[str, bool]:
    return {name: name in names for name in ABILITY_NAMES}


VIEWER = ("view", "download")
COMMENTER = (*VIEWER, "comment")
EDITOR = (
    *COMMENTER,
    "upload",
    "edit_documents",
    "delete_documents",
    "see_readers",
    "remind_readers",
)
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
    ("editor", True): _only("view", "download", "see_readers"),
    ("manager", True): _only(
        "view",
        "download",
        "view_audit",
        "view_trash",
        "open_settings",
        "unarchive",
        "see_readers",
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
        "see_readers",
        "remind_readers",
    }


@pytest.mark.parametrize(("role", "archived"), CASES)
def test_abilities_for_role(role, archived):
    assert abilities_for_role(role, archived=archived) == EXPECTED[(role, archived)]


@pytest.mark.parametrize(("role", "archived"), CASES)
def test_workspace_access_reads_the_membership(team, role, archived):
    if archived:
        team.workspace.archived_at = timezone.now()
        team.workspace.save()
    access = workspace_access(user=team.by_role[role], workspace_id=team.workspace.pk)
    assert (access.role, access.abilities) == (role, EXPECTED[(role, archived)])


@pytest.mark.parametrize("archived", [False, True])
def test_no_membership_means_no_abilities_and_no_workspace(team, archived):
    if archived:
        team.workspace.archived_at = timezone.now()
        team.workspace.save()
    assert abilities_for_role(None, archived=archived) == dict.fromkeys(ABILITY_NAMES, False)
    for user in (team.outsider, AnonymousUser(), None):
        with pytest.raises(NotFound):
            workspace_access(user=user, workspace_id=team.workspace.pk)


def test_deactivated_member_reaches_nothing(team):
    team.manager.is_active = False
    team.manager.save()
    with pytest.raises(NotFound):
        workspace_access(user=team.manager, workspace_id=team.workspace.pk)
