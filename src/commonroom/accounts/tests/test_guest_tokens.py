"""External guests have API tokens only while allowed: by a manager's setting on a workspace of
theirs, or by an administrator on the person; staff always may. Refused on the tokens page, in
the API and by the command with the sentence that says why; a guest's token stops working (401,
saying why) the moment nothing allows it any more, and starts again when something does."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from commonroom.accounts import services
from commonroom.accounts.models import ApiToken, User
from commonroom.accounts.permissions import GUEST_TOKENS_REFUSED, api_tokens_refusal
from commonroom.accounts.tests.factories import GuestFactory, UserFactory
from commonroom.audit.models import Action, AuditEvent
from commonroom.core.exceptions import PermissionDenied
from commonroom.workspaces.models import Role, Workspace
from commonroom.workspaces.tests.factories import add_member, make_workspace

pytestmark = pytest.mark.django_db

GUEST_TOKEN_GONE = "neither a workspace of theirs nor an administrator allows"


def signed_in(user: User) -> Client:
    """A signed-in browser session sending its CSRF token, as the app's own pages do."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/")
    client.defaults["HTTP_X_CSRFTOKEN"] = client.cookies["csrftoken"].value
    return client


def shows(page: Any, sentence: str) -> bool:
    return escape(sentence) in page.content.decode()


def bearer(secret: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def create_through_api(client: Client) -> Any:
    return client.post("/api/v1/me/tokens", {"name": "export"}, "application/json")


def allow_guests(manager: User, workspace: Workspace, allowed: bool) -> None:
    """The manager ticks (or unticks) the box on the workspace's settings page."""
    form = {
        "action": "save",
        "name": workspace.name,
        "description": "",
        "record_retention_years": "8",
    }
    if allowed:
        form["guests_may_create_tokens"] = "yes"
    response = signed_in(manager).post(reverse("workspace_settings", args=[workspace.pk]), form)
    assert response.status_code == 302
    workspace.refresh_from_db()
    assert workspace.guests_may_create_tokens is allowed


@pytest.fixture
def setting() -> Any:
    """A workspace (its manager staff) with an external guest among its members."""
    manager = UserFactory.create(email="priya@example.org")
    workspace = make_workspace(manager=manager)
    guest = add_member(workspace, GuestFactory.create(email="aisha@partner.org"), Role.COMMENTER)
    return manager, workspace, guest


def test_a_guest_is_refused_a_token_by_default_with_the_sentence_that_says_why(setting):
    manager, _workspace, guest = setting
    browser = signed_in(guest)

    # The tokens page says why, and offers no form
    page = browser.get(reverse("account_tokens"))
    assert page.status_code == 200
    assert shows(page, GUEST_TOKENS_REFUSED)
    assert b'id="token-name"' not in page.content

    # Posting anyway is refused with the same sentence
    posted = browser.post(reverse("account_tokens"), {"name": "export"}, follow=True)
    assert shows(posted, GUEST_TOKENS_REFUSED)

    # The API: 403 with the sentence
    response = create_through_api(browser)
    assert response.status_code == 403
    assert response.json() == {"code": "tokens_not_allowed", "detail": GUEST_TOKENS_REFUSED}

    # The service itself
    with pytest.raises(PermissionDenied, match="External guests cannot create API tokens"):
        services.token_create(actor=guest, name="export")
    assert not ApiToken.objects.exists()
    assert not AuditEvent.objects.filter(action=Action.TOKEN_CREATED).exists()

    # Staff, the manager among them, may as before
    assert create_through_api(signed_in(manager)).status_code == 201
    page = signed_in(manager).get(reverse("account_tokens"))
    assert b'id="token-name"' in page.content
    assert not shows(page, GUEST_TOKENS_REFUSED)


def test_a_managers_setting_lets_the_workspaces_guests_create_tokens_until_it_is_undone(setting):
    manager, workspace, guest = setting
    outsider = GuestFactory.create(email="nina@elsewhere.org")  # a guest of another workspace
    add_member(make_workspace(name="Elsewhere"), outsider, Role.VIEWER)

    # When the manager ticks "External guests in this workspace may create API tokens"
    settings_page = signed_in(manager).get(reverse("workspace_settings", args=[workspace.pk]))
    assert b'name="guests_may_create_tokens"' in settings_page.content
    allow_guests(manager, workspace, True)
    event = AuditEvent.objects.filter(action=Action.WORKSPACE_UPDATED).latest("id")
    assert event.data == {"guests_may_create_tokens": [False, True]}

    # Then the guest may create one, on the page and through the API, and it works
    browser = signed_in(guest)
    page = browser.get(reverse("account_tokens"))
    assert b'id="token-name"' in page.content
    created = browser.post(reverse("account_tokens"), {"name": "export", "scope": "read"})
    assert created.status_code == 200 and created.context["issued"] is not None
    response = create_through_api(browser)
    assert response.status_code == 201
    secret = response.json()["secret"]
    assert bearer(secret).get("/api/v1/me").json()["email"] == guest.email
    # but a guest of another workspace still may not
    assert create_through_api(signed_in(outsider)).status_code == 403

    # When the manager unticks it, the guest's token stops working and says why
    allow_guests(manager, workspace, False)
    refused = bearer(secret).get("/api/v1/me")
    assert refused.status_code == 401
    assert refused.json()["code"] == "token_not_allowed"
    assert GUEST_TOKEN_GONE in refused.json()["detail"]
    assert create_through_api(browser).status_code == 403

    # And works again once allowed again (it was never revoked)
    allow_guests(manager, workspace, True)
    assert bearer(secret).get("/api/v1/me").status_code == 200


def test_the_setting_is_a_managers_through_the_api_too(setting):
    manager, workspace, guest = setting
    editor = add_member(workspace, UserFactory.create(), Role.EDITOR)
    url = f"/api/v1/workspaces/{workspace.pk}"

    assert signed_in(manager).get(url).json()["guests_may_create_tokens"] is False
    denied = signed_in(editor).patch(url, {"guests_may_create_tokens": True}, "application/json")
    assert denied.status_code == 403
    workspace.refresh_from_db()
    assert workspace.guests_may_create_tokens is False
    assert create_through_api(signed_in(guest)).status_code == 403

    response = signed_in(manager).patch(url, {"guests_may_create_tokens": True}, "application/json")
    assert response.status_code == 200
    assert response.json()["guests_may_create_tokens"] is True
    assert create_through_api(signed_in(guest)).status_code == 201


def test_an_archived_workspace_allows_nothing(setting):
    manager, workspace, guest = setting
    allow_guests(manager, workspace, True)
    secret = services.token_create(actor=guest, name="export").secret
    assert bearer(secret).get("/api/v1/me").status_code == 200

    archived = signed_in(manager).post(
        reverse("workspace_settings", args=[workspace.pk]), {"action": "archive"}
    )
    assert archived.status_code == 302
    assert bearer(secret).get("/api/v1/me").status_code == 401
    assert api_tokens_refusal(guest) == GUEST_TOKENS_REFUSED


def test_an_administrator_allows_one_guest_on_the_admin_site(setting):
    _manager, _workspace, guest = setting
    admin = UserFactory.create(email="admin@example.org", is_staff=True, is_superuser=True)
    secret_holder = GuestFactory.create(email="ext@partner.org")  # no workspace at all
    change_url = reverse("admin:accounts_user_change", args=[secret_holder.pk])

    form = signed_in(admin).get(change_url)
    assert b'name="api_tokens_allowed"' in form.content
    response = signed_in(admin).post(
        change_url,
        {
            "email": secret_holder.email,
            "full_name": secret_holder.full_name,
            "kind": "guest",
            "is_active": "on",
            "api_tokens_allowed": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    secret_holder.refresh_from_db()
    assert secret_holder.api_tokens_allowed

    response = create_through_api(signed_in(secret_holder))
    assert response.status_code == 201
    assert bearer(response.json()["secret"]).get("/api/v1/me").status_code == 200
    # Only that person: the workspace's guest still may not
    assert create_through_api(signed_in(guest)).status_code == 403


def test_the_command_refuses_a_guest_unless_told_to_allow_them(setting):
    _manager, _workspace, guest = setting

    with pytest.raises(CommandError, match=r"External guests cannot .*--allow-guest"):
        call_command("token", "create", guest.email, "nightly", stdout=StringIO())
    assert not ApiToken.objects.exists()
    guest.refresh_from_db()
    assert not guest.api_tokens_allowed

    out, err = StringIO(), StringIO()
    call_command("token", "create", guest.email, "nightly", "--allow-guest", stdout=out, stderr=err)
    assert "may now create API tokens" in err.getvalue()
    assert bearer(out.getvalue().strip()).get("/api/v1/me").json()["email"] == guest.email
    guest.refresh_from_db()
    assert guest.api_tokens_allowed
    event = AuditEvent.objects.get(action=Action.GUEST_TOKENS_ALLOWED)
    assert (event.actor_id, event.target_id) == (None, str(guest.pk))
    assert event.data == {"api_tokens_allowed": [False, True]}

    # Staff need no such flag, and an allowed guest is not allowed twice
    staff = UserFactory.create()
    call_command("token", "create", staff.email, "x", stdout=StringIO())
    call_command("token", "create", guest.email, "again", "--allow-guest", stdout=StringIO())
    assert AuditEvent.objects.filter(action=Action.GUEST_TOKENS_ALLOWED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_guests_token_no_longer_allowed_opens_no_socket(setting):
    from commonroom.asgi import application

    manager, workspace, guest = setting
    allow_guests(manager, workspace, True)
    secret = services.token_create(actor=guest, name="socket").secret

    def socket() -> WebsocketCommunicator:
        headers = [(b"host", b"testserver"), (b"authorization", f"Bearer {secret}".encode())]
        return WebsocketCommunicator(application, f"/ws/w/{workspace.pk}/", headers=headers)

    async def opens() -> bool:
        comm = socket()
        connected, _code = await comm.connect(timeout=5)
        await comm.disconnect()
        return bool(connected)

    assert async_to_sync(opens)()
    allow_guests(manager, workspace, False)
    assert not async_to_sync(opens)()
