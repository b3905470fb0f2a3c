"""The abilities function, role by role, open and archived: the exact dict each one gets; and who
may download originals, by role, staff or external guest, and the workspace's setting."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from commonroom.core.exceptions import NotFound
from commonroom.workspaces.models import DownloadRule
from commonroom.workspaces.permissions import (
    ABILITY_NAMES,
    DownloadSettings,
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

# The default setting: managers and editors download; commenters and viewers only if staff.
DEFAULTS: DownloadSettings = {
    "editor": DownloadRule.EVERYONE,
    "commenter": DownloadRule.STAFF,
    "viewer": DownloadRule.STAFF,
}


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
    got = abilities_for_role(role, archived=archived, guest=False, downloads=DEFAULTS)
    assert got == EXPECTED[(role, archived)]


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
    for guest in (False, True):
        got = abilities_for_role(None, archived=archived, guest=guest, downloads=DEFAULTS)
        assert got == dict.fromkeys(ABILITY_NAMES, False)
    for user in (team.outsider, AnonymousUser(), None):
        with pytest.raises(NotFound):
            workspace_access(user=user, workspace_id=team.workspace.pk)


def test_deactivated_member_reaches_nothing(team):
    team.manager.is_active = False
    team.manager.save()
    with pytest.raises(NotFound):
        workspace_access(user=team.manager, workspace_id=team.workspace.pk)


# Who may download, written out by hand: (role, guest, the rule for that role) -> may download.
# A manager may whatever the other roles' rules are.
EVERYONE, STAFF, NOBODY = DownloadRule.EVERYONE, DownloadRule.STAFF, DownloadRule.NOBODY
DOWNLOAD_TABLE: dict[tuple[str, bool, DownloadRule], bool] = {
    **{
        (role, guest, EVERYONE): True
        for role in ("editor", "commenter", "viewer")
        for guest in (False, True)
    },
    **{(role, False, STAFF): True for role in ("editor", "commenter", "viewer")},
    **{(role, True, STAFF): False for role in ("editor", "commenter", "viewer")},
    **{
        (role, guest, NOBODY): False
        for role in ("editor", "commenter", "viewer")
        for guest in (False, True)
    },
}


@pytest.mark.parametrize(("role", "guest", "rule"), sorted(DOWNLOAD_TABLE))
@pytest.mark.parametrize("archived", [False, True])
def test_download_follows_the_role_the_person_and_the_setting(role, guest, rule, archived):
    others = NOBODY if rule != NOBODY else EVERYONE  # the other roles' rules must not count
    downloads: DownloadSettings = {"editor": others, "commenter": others, "viewer": others}
    downloads[role] = rule  # type: ignore[literal-required]
    got = abilities_for_role(role, archived=archived, guest=guest, downloads=downloads)
    assert got["download"] is DOWNLOAD_TABLE[(role, guest, rule)]
    # Nothing else depends on it.
    plain = abilities_for_role(role, archived=archived, guest=False, downloads=DEFAULTS)
    assert {k: v for k, v in got.items() if k != "download"} == {
        k: v for k, v in plain.items() if k != "download"
    }


@pytest.mark.parametrize("guest", [False, True])
@pytest.mark.parametrize("rule", [EVERYONE, STAFF, NOBODY])
def test_a_manager_always_may_download(guest, rule):
    downloads: DownloadSettings = {"editor": rule, "commenter": rule, "viewer": rule}
    got = abilities_for_role("manager", archived=False, guest=guest, downloads=downloads)
    assert got["download"] is True


@pytest.mark.parametrize(
    ("role", "guest", "expected"),
    [
        ("manager", False, True),
        ("manager", True, True),
        ("editor", False, True),
        ("editor", True, True),
        ("commenter", False, True),
        ("commenter", True, False),
        ("viewer", False, True),
        ("viewer", True, False),
    ],
)
def test_workspace_access_reads_the_setting_and_the_person(team, role, guest, expected):
    """By default: managers and editors may; commenters and viewers only when staff."""
    user = team.by_role[role]
    if guest:
        user.kind = "guest"
        user.save(update_fields=["kind"])
    access = workspace_access(user=user, workspace_id=team.workspace.pk)
    assert access.can("download") is expected
