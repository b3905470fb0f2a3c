"""Who may download originals: a workspace's setting per role, which a manager changes on the
settings page and in the API. Managers always may, so a setting that would leave no one able
to download is refused with a sentence, and anything refused changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from commonroom.accounts.services import token_create
from commonroom.audit.models import AuditEvent
from commonroom.core.exceptions import ApplicationError, NotFound, PermissionDenied
from commonroom.workspaces.models import Workspace
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.services import workspace_update

pytestmark = pytest.mark.django_db

DEFAULTS = ("everyone", "staff", "staff")


def setting(workspace: Any) -> tuple[str, str, str]:
    ws = Workspace.objects.get(pk=workspace.pk)
    return (ws.editors_download, ws.commenters_download, ws.viewers_download)


def update(team: Any, user: Any, **kwargs: Any) -> Workspace:
    return workspace_update(
        actor=user, access=workspace_access(user=user, workspace_id=team.workspace.pk), **kwargs
    )


def make_guest(user: Any) -> Any:
    user.kind = "guest"
    user.save(update_fields=["kind"])
    return user


def test_by_default_editors_download_and_commenters_and_viewers_only_if_staff(team):
    assert setting(team.workspace) == DEFAULTS


def test_a_manager_changes_it_audited_and_the_next_request_follows_it(team):
    guest = make_guest(team.viewer)
    assert not workspace_access(user=guest, workspace_id=team.workspace.pk).can("download")

    update(team, team.manager, downloads={"viewer": "everyone", "editor": "nobody"})

    assert setting(team.workspace) == ("nobody", "staff", "everyone")
    assert workspace_access(user=guest, workspace_id=team.workspace.pk).can("download")
    assert not workspace_access(user=team.editor, workspace_id=team.workspace.pk).can("download")
    event = AuditEvent.objects.get(action="workspace.updated")
    assert event.data == {
        "viewers_download": ["staff", "everyone"],
        "editors_download": ["everyone", "nobody"],
    }


def test_the_same_setting_again_changes_and_audits_nothing(team):
    update(team, team.manager, downloads={"editor": "everyone", "manager": "everyone"})
    assert setting(team.workspace) == DEFAULTS
    assert not AuditEvent.objects.filter(action="workspace.updated").exists()


@pytest.mark.parametrize(
    ("downloads", "sentence"),
    [
        ({"manager": "nobody"}, "Managers can always download"),
        ({"manager": "staff", "viewer": "everyone"}, "Managers can always download"),
        ({"owner": "everyone"}, "There is no role called 'owner'"),
        ({"viewer": "some"}, "Choose who among the viewers may download"),
        ({"viewer": True}, "Choose who among the viewers may download"),
        ({"viewer": ""}, "Choose who among the viewers may download"),
        (["viewer", "everyone"], "Give who may download as each role's rule"),
    ],
)
def test_a_bad_setting_is_refused_with_a_sentence_and_nothing_changes(team, downloads, sentence):
    with pytest.raises(ApplicationError, match=sentence):
        update(team, team.manager, name="Renamed", downloads=downloads)
    assert setting(team.workspace) == DEFAULTS
    assert Workspace.objects.get(pk=team.workspace.pk).name == team.workspace.name
    assert not AuditEvent.objects.filter(action="workspace.updated").exists()


@pytest.mark.parametrize("role", ["editor", "commenter", "viewer"])
def test_only_a_manager_may_change_it(team, role):
    with pytest.raises(PermissionDenied):
        update(team, team.by_role[role], downloads={"viewer": "everyone"})
    with pytest.raises(NotFound):
        workspace_update(
            actor=team.outsider,
            access=workspace_access(user=team.manager, workspace_id=team.workspace.pk),
            downloads={"viewer": "everyone"},
        )
    assert setting(team.workspace) == DEFAULTS


# --- The settings page -----------------------------------------------------------------------


def page(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def settings_url(team: Any) -> str:
    return reverse("workspace_settings", args=[team.workspace.pk])


def test_the_settings_page_shows_and_saves_each_roles_rule(team):
    shown = page(team.manager).get(settings_url(team)).content.decode()
    assert "Who may download originals" in shown
    for role in ("editor", "commenter", "viewer"):
        assert f'name="download_{role}"' in shown
    assert 'name="download_manager"' not in shown
    assert '<option value="staff" selected>' in shown

    form = {
        "action": "save",
        "name": team.workspace.name,
        "download_editor": "staff",
        "download_commenter": "nobody",
        "download_viewer": "everyone",
    }
    got = page(team.manager).post(settings_url(team), form)
    assert got.status_code == 302
    assert setting(team.workspace) == ("staff", "nobody", "everyone")


def test_a_forged_form_turning_managers_off_is_refused_with_a_sentence(team):
    form = {"action": "save", "name": "Renamed", "download_manager": "nobody"}
    browser = page(team.manager)
    got = browser.post(settings_url(team), form, follow=True)
    assert "Managers can always download" in got.content.decode()
    assert setting(team.workspace) == DEFAULTS
    assert Workspace.objects.get(pk=team.workspace.pk).name == team.workspace.name


# --- The API ---------------------------------------------------------------------------------


def api(user: Any) -> Client:
    secret = token_create(actor=user, name="t", scope="write").secret
    return Client(headers={"Authorization": f"Bearer {secret}"})


def ws_url(team: Any) -> str:
    return f"/api/v1/workspaces/{team.workspace.pk}"


def test_the_api_shows_and_changes_it(team):
    shown = api(team.viewer).get(ws_url(team)).json()
    assert shown["downloads"] == {
        "manager": "everyone",
        "editor": "everyone",
        "commenter": "staff",
        "viewer": "staff",
    }
    got = api(team.manager).patch(
        ws_url(team), {"downloads": {"commenter": "everyone"}}, content_type="application/json"
    )
    assert got.status_code == 200
    assert got.json()["downloads"]["commenter"] == "everyone"
    assert setting(team.workspace) == ("everyone", "everyone", "staff")


def test_the_api_refuses_a_bad_setting_and_changes_nothing(team):
    got = api(team.manager).patch(
        ws_url(team),
        {"name": "Renamed", "downloads": {"manager": "nobody", "viewer": "everyone"}},
        content_type="application/json",
    )
    assert got.status_code == 400
    assert got.json()["code"] == "managers_download"
    assert "Managers can always download" in got.json()["detail"]
    assert setting(team.workspace) == DEFAULTS
    assert Workspace.objects.get(pk=team.workspace.pk).name == team.workspace.name


def test_the_api_refuses_others_and_hides_it_from_outsiders(team):
    body = {"downloads": {"viewer": "everyone"}}
    for user, status in ((team.editor, 403), (team.viewer, 403), (team.outsider, 404)):
        got = api(user).patch(ws_url(team), body, content_type="application/json")
        assert got.status_code == status
    assert api(team.outsider).get(ws_url(team)).status_code == 404
    assert setting(team.workspace) == DEFAULTS
