"""Changing roles and removing members; a workspace always keeps a manager; removal is immediate."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from commonroom.accounts.services import token_create
from commonroom.audit.models import Action, AuditEvent
from commonroom.core.exceptions import ApplicationError, Conflict, NotFound, PermissionDenied
from commonroom.workspaces import services
from commonroom.workspaces.models import Membership
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.tests.factories import make_workspace, upload_document


def membership_of(team, user):
    return Membership.objects.get(workspace=team.workspace, user=user)


def manager_access(team, user=None):
    return workspace_access(user=user or team.manager, workspace_id=team.workspace.pk)


# --- Change role -------------------------------------------------------------------------------


def test_manager_changes_a_role(team):
    target = membership_of(team, team.viewer)

    services.membership_change_role(
        actor=team.manager, access=manager_access(team), membership_id=target.pk, role="editor"
    )

    target.refresh_from_db()
    assert target.role == "editor"
    assert workspace_access(user=team.viewer, workspace_id=team.workspace.pk).can("upload")
    event = AuditEvent.objects.get(action=Action.MEMBER_ROLE_CHANGED)
    assert event.target_label == team.viewer.email
    assert event.data == {"from": "viewer", "to": "editor"}


@pytest.mark.parametrize("role", ["viewer", "commenter", "editor"])
def test_only_managers_change_roles(team, role):
    actor = team.by_role[role]
    target = membership_of(team, actor)
    with pytest.raises(PermissionDenied):
        services.membership_change_role(
            actor=actor, access=manager_access(team, actor), membership_id=target.pk, role="manager"
        )
    target.refresh_from_db()
    assert target.role == role


def test_invalid_role_is_refused(team):
    target = membership_of(team, team.viewer)
    with pytest.raises(ApplicationError):
        services.membership_change_role(
            actor=team.manager, access=manager_access(team), membership_id=target.pk, role="owner"
        )


def test_membership_of_another_workspace_is_not_found(team):
    elsewhere = make_workspace(manager=team.outsider, name="Elsewhere")
    foreign = Membership.objects.get(workspace=elsewhere)
    with pytest.raises(NotFound):
        services.membership_change_role(
            actor=team.manager, access=manager_access(team), membership_id=foreign.pk, role="viewer"
        )
    with pytest.raises(NotFound):
        services.membership_remove(
            actor=team.manager, access=manager_access(team), membership_id=foreign.pk
        )
    assert Membership.objects.get(pk=foreign.pk).role == "manager"


def test_last_manager_cannot_step_down(team):
    own = membership_of(team, team.manager)
    with pytest.raises(Conflict) as exc:
        services.membership_change_role(
            actor=team.manager, access=manager_access(team), membership_id=own.pk, role="editor"
        )
    assert exc.value.code == "last_manager"
    own.refresh_from_db()
    assert own.role == "manager"


def test_a_manager_can_step_down_when_another_remains(team):
    services.membership_change_role(
        actor=team.manager,
        access=manager_access(team),
        membership_id=membership_of(team, team.editor).pk,
        role="manager",
    )
    own = membership_of(team, team.manager)
    services.membership_change_role(
        actor=team.manager, access=manager_access(team), membership_id=own.pk, role="viewer"
    )
    own.refresh_from_db()
    assert own.role == "viewer"


# --- Remove ------------------------------------------------------------------------------------


def test_manager_removes_a_member(team):
    target = membership_of(team, team.commenter)

    services.membership_remove(
        actor=team.manager, access=manager_access(team), membership_id=target.pk
    )

    assert not Membership.objects.filter(pk=target.pk).exists()
    event = AuditEvent.objects.get(action=Action.MEMBER_REMOVED)
    assert (event.workspace_id, event.target_label) == (team.workspace.pk, team.commenter.email)


@pytest.mark.parametrize("role", ["viewer", "commenter", "editor"])
def test_only_managers_remove(team, role):
    actor = team.by_role[role]
    target = membership_of(team, team.viewer if role != "viewer" else team.commenter)
    with pytest.raises(PermissionDenied):
        services.membership_remove(
            actor=actor, access=manager_access(team, actor), membership_id=target.pk
        )
    assert Membership.objects.filter(pk=target.pk).exists()


def test_last_manager_cannot_be_removed(team):
    own = membership_of(team, team.manager)
    with pytest.raises(Conflict) as exc:
        services.membership_remove(
            actor=team.manager, access=manager_access(team), membership_id=own.pk
        )
    assert exc.value.code == "last_manager"
    assert Membership.objects.filter(pk=own.pk).exists()


def test_a_manager_can_be_removed_when_another_remains(team):
    services.membership_change_role(
        actor=team.manager,
        access=manager_access(team),
        membership_id=membership_of(team, team.editor).pk,
        role="manager",
    )
    own = membership_of(team, team.manager)
    services.membership_remove(
        actor=team.manager, access=manager_access(team), membership_id=own.pk
    )
    assert not Membership.objects.filter(pk=own.pk).exists()


# --- Removal takes effect at the very next request ----------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "commenter", "editor", "manager"])
def test_removed_member_reaches_nothing_at_the_next_request(team, role):
    # Given a member with an open browser session and an API token, both made before removal
    if role == "manager":
        # A second manager removes the first one.
        services.membership_change_role(
            actor=team.manager,
            access=manager_access(team),
            membership_id=membership_of(team, team.editor).pk,
            role="manager",
        )
        remover = team.editor
    else:
        remover = team.manager
    person = team.by_role[role]
    ws = team.workspace
    doc = upload_document(ws, remover)
    browser = Client()
    browser.force_login(person)
    secret = token_create(actor=person, name="script", scope="write").secret
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    pages = [
        reverse("workspace_detail", args=[ws.pk]),
        reverse("workspace_members", args=[ws.pk]),
        reverse("document_detail", args=[ws.pk, doc.pk]),
        reverse("version_download", args=[ws.pk, doc.pk, 1]),
    ]
    api_paths = [
        f"/api/v1/workspaces/{ws.pk}",
        f"/api/v1/workspaces/{ws.pk}/documents",
        f"/api/v1/workspaces/{ws.pk}/documents/{doc.pk}",
        f"/api/v1/workspaces/{ws.pk}/documents/{doc.pk}/versions/1/content",
    ]
    for url in pages:
        assert browser.get(url).status_code == 200, url
    for path in api_paths:
        assert api.get(path).status_code == 200, path

    # When they are removed
    services.membership_remove(
        actor=remover,
        access=manager_access(team, remover),
        membership_id=membership_of(team, person).pk,
    )

    # Then the very next request of the same session and the same token gets 404
    for url in pages:
        assert browser.get(url).status_code == 404, url
    for path in api_paths:
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"
    assert api.get("/api/v1/workspaces").json()["items"] == []
    assert (
        api.post(
            f"/api/v1/workspaces/{ws.pk}/folders", {"name": "x"}, "application/json"
        ).status_code
        == 404
    )
    # ...while the session itself still works elsewhere: only this workspace is gone.
    assert browser.get(reverse("home")).status_code == 200
    assert api.get("/api/v1/me").status_code == 200


# --- Add directly (the demo seed) --------------------------------------------------------------


def test_a_manager_adds_an_existing_account_directly_and_it_is_audited(team):
    added = services.membership_add(
        actor=team.manager, access=manager_access(team), user=team.outsider, role="commenter"
    )
    assert membership_of(team, team.outsider) == added and added.role == "commenter"
    assert workspace_access(user=team.outsider, workspace_id=team.workspace.pk).can("comment")
    event = AuditEvent.objects.get(action=Action.MEMBER_ADDED)
    assert event.workspace_id == team.workspace.pk
    assert (event.actor_email, event.target_label) == (team.manager.email, team.outsider.email)
    assert event.data == {"role": "commenter"}


@pytest.mark.parametrize("role", ["viewer", "commenter", "editor"])
def test_only_managers_add_people(team, role):
    actor = team.by_role[role]
    with pytest.raises(PermissionDenied):
        services.membership_add(
            actor=actor, access=manager_access(team, actor), user=team.outsider, role="viewer"
        )
    assert not Membership.objects.filter(user=team.outsider).exists()


def test_adding_a_member_again_or_with_no_such_role_is_refused(team):
    with pytest.raises(Conflict):
        services.membership_add(
            actor=team.manager, access=manager_access(team), user=team.viewer, role="editor"
        )
    assert membership_of(team, team.viewer).role == "viewer"
    with pytest.raises(ApplicationError):
        services.membership_add(
            actor=team.manager, access=manager_access(team), user=team.outsider, role="owner"
        )
    assert not Membership.objects.filter(user=team.outsider).exists()
    assert not AuditEvent.objects.filter(action=Action.MEMBER_ADDED).exists()
