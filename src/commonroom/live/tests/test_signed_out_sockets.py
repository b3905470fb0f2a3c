"""A socket lives no longer than what it signed in with: revoking its API token (the tokens page
or the API), signing its browser session out (allauth's sign-out, ending it from the sessions
page, or "sign out everywhere") closes it within a second with 4401 and a reason, while the same
person's sockets opened with another token or session stay open; reconnecting with what was
revoked is refused. A revocation the socket was not told of (made by another process without
Redis) is found by its next catch-up read. Driven through the real pages and API against the
real ASGI application on the in-memory layer; test_redis_processes.py does it across processes.
"""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from commonroom.accounts.models import ApiToken, TokenScope
from commonroom.accounts.services import token_create
from commonroom.accounts.tests.factories import PASSWORD
from commonroom.asgi import application
from commonroom.live.services import CLOSE_SIGNED_OUT
from commonroom.live.tests.test_consumer import (
    HOST,
    connect,
    emit,
    next_is_a_later_event,
    opened,
    receive,
)

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN_REVOKED = "The API token this connection used was revoked."
SESSION_ENDED = "This browser session was signed out."


def sign_in(user: Any) -> tuple[Client, str]:
    """A browser signed in through the sign-in form, and its cookie for the socket."""
    browser = Client()
    response = browser.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return browser, f"sessionid={browser.cookies['sessionid'].value}"


def personal(*, token: str | None = None, cookie: str | None = None) -> WebsocketCommunicator:
    headers = [(b"host", HOST.encode()), (b"origin", f"http://{HOST}".encode())]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, "/ws/me/", headers=headers)


async def closed_signed_out(comm: WebsocketCommunicator, reason: str) -> None:
    """The next thing the socket does is close with 4401 and ``reason``, within a second."""
    out = await comm.receive_output(timeout=1)
    assert out == {"type": "websocket.close", "code": CLOSE_SIGNED_OUT, "reason": reason}


async def caught_up(workspace_id: Any, *comms: WebsocketCommunicator) -> None:
    """Each socket has done its first catch-up read (which checks its credential too): an event
    published now reaches each, after that read. So what closes them next is the revocation's
    message, not that read."""
    [event_id] = await database_sync_to_async(emit)(workspace_id, 1)
    for comm in comms:
        assert (await receive(comm))["id"] == event_id


async def refused(comm: WebsocketCommunicator) -> None:
    connected, _ = await comm.connect(timeout=5)
    assert not connected


def run(body: Any) -> None:
    async_to_sync(body)()


@pytest.mark.parametrize("path", ["page", "api"])
def test_revoking_a_token_closes_its_sockets_at_once_and_no_other(team: Any, path: str) -> None:
    issued = token_create(actor=team.viewer, name="script", scope=TokenScope.READ)
    other = token_create(actor=team.viewer, name="other", scope=TokenScope.READ).secret
    browser, cookie = sign_in(team.viewer)

    def revoke() -> None:
        if path == "page":
            url = reverse("account_token_revoke", args=[issued.token.pk])
            assert browser.post(url).status_code == 302
        else:
            url = f"/api/v1/me/tokens/{issued.token.pk}"
            assert browser.delete(url).status_code == 204

    async def body() -> None:
        on_workspace = connect(team.workspace.pk, token=issued.secret)
        on_home = personal(token=issued.secret)
        other_token = connect(team.workspace.pk, token=other)
        session = connect(team.workspace.pk, cookie=cookie)
        for comm in (on_workspace, on_home, other_token, session):
            await opened(comm)
        await caught_up(team.workspace.pk, on_workspace, other_token, session)
        await database_sync_to_async(revoke)()
        await closed_signed_out(on_workspace, TOKEN_REVOKED)
        await closed_signed_out(on_home, TOKEN_REVOKED)
        # The same person's other token and browser session still follow the workspace.
        await next_is_a_later_event(other_token, team.workspace.pk)
        assert (await receive(session))["type"] == "event"
        # Reconnecting with the revoked token is refused.
        await refused(connect(team.workspace.pk, token=issued.secret))
        await refused(personal(token=issued.secret))
        for comm in (other_token, session):
            await comm.disconnect()

    run(body)


def test_signing_a_browser_out_closes_its_sockets_and_no_other(team: Any) -> None:
    browser, cookie = sign_in(team.viewer)
    _, other_cookie = sign_in(team.viewer)
    token = token_create(actor=team.viewer, name="script", scope=TokenScope.READ).secret

    async def body() -> None:
        on_workspace = connect(team.workspace.pk, cookie=cookie)
        on_home = personal(cookie=cookie)
        other_session = connect(team.workspace.pk, cookie=other_cookie)
        with_token = connect(team.workspace.pk, token=token)
        for comm in (on_workspace, on_home, other_session, with_token):
            await opened(comm)
        await caught_up(team.workspace.pk, on_workspace, other_session, with_token)
        signed_out = await database_sync_to_async(browser.post)(reverse("account_logout"))
        assert signed_out.status_code == 302
        await closed_signed_out(on_workspace, SESSION_ENDED)
        await closed_signed_out(on_home, SESSION_ENDED)
        await next_is_a_later_event(other_session, team.workspace.pk)
        assert (await receive(with_token))["type"] == "event"
        await refused(connect(team.workspace.pk, cookie=cookie))
        for comm in (other_session, with_token):
            await comm.disconnect()

    run(body)


def test_ending_other_sessions_from_the_sessions_page_closes_their_sockets(team: Any) -> None:
    browser, cookie = sign_in(team.viewer)
    _, phone_cookie = sign_in(team.viewer)

    async def body() -> None:
        here = connect(team.workspace.pk, cookie=cookie)
        phone = connect(team.workspace.pk, cookie=phone_cookie)
        for comm in (here, phone):
            await opened(comm)
        await caught_up(team.workspace.pk, here, phone)
        ended = await database_sync_to_async(browser.post)("/accounts/sessions/")
        assert ended.status_code == 302
        await closed_signed_out(phone, SESSION_ENDED)
        await next_is_a_later_event(here, team.workspace.pk)
        await refused(connect(team.workspace.pk, cookie=phone_cookie))
        await here.disconnect()

    run(body)


def test_signing_out_everywhere_closes_every_browser_socket_but_not_a_tokens(team: Any) -> None:
    browser, cookie = sign_in(team.viewer)
    _, phone_cookie = sign_in(team.viewer)
    token = token_create(actor=team.viewer, name="script", scope=TokenScope.READ).secret
    _, someone_else = sign_in(team.editor)

    async def body() -> None:
        here = connect(team.workspace.pk, cookie=cookie)
        home = personal(cookie=cookie)
        phone = connect(team.workspace.pk, cookie=phone_cookie)
        with_token = connect(team.workspace.pk, token=token)
        editor = connect(team.workspace.pk, cookie=someone_else)
        for comm in (here, home, phone, with_token, editor):
            await opened(comm)
        await caught_up(team.workspace.pk, here, phone, with_token, editor)
        url = reverse("account_sign_out_everywhere")
        assert (await database_sync_to_async(browser.post)(url)).status_code == 302
        for comm in (here, home, phone):
            await closed_signed_out(comm, SESSION_ENDED)
        # A token is not a browser session: it still signs the person in, its socket stays.
        await next_is_a_later_event(with_token, team.workspace.pk)
        assert (await receive(editor))["type"] == "event"
        await refused(connect(team.workspace.pk, cookie=phone_cookie))
        for comm in (with_token, editor):
            await comm.disconnect()

    run(body)


@pytest.mark.parametrize("credential", ["token", "session"])
def test_a_revocation_the_socket_was_not_told_of_is_found_by_its_next_read(
    team: Any, credential: str
) -> None:
    """Revoked by another process with no channel layer in common: the next event's read
    checks the credential again and closes the socket instead of sending the event."""
    issued = token_create(actor=team.viewer, name="script", scope=TokenScope.READ)
    _, cookie = sign_in(team.viewer)
    token = token_create(actor=team.viewer, name="other", scope=TokenScope.READ).secret

    def revoke_behind_its_back() -> None:
        if credential == "token":
            ApiToken.objects.filter(pk=issued.token.pk).update(revoked_at=timezone.now())
        else:
            Session.objects.filter(session_key=cookie.removeprefix("sessionid=")).delete()

    async def body() -> None:
        if credential == "token":
            comm = connect(team.workspace.pk, token=issued.secret)
        else:
            comm = connect(team.workspace.pk, cookie=cookie)
        still = connect(team.workspace.pk, token=token)
        await opened(comm)
        await opened(still)
        await caught_up(team.workspace.pk, comm, still)
        await database_sync_to_async(revoke_behind_its_back)()
        await database_sync_to_async(emit)(team.workspace.pk, 1)
        await closed_signed_out(comm, TOKEN_REVOKED if credential == "token" else SESSION_ENDED)
        assert (await receive(still))["type"] == "event"
        await still.disconnect()

    run(body)


def test_a_password_changed_elsewhere_ends_a_sessions_socket_at_its_next_read(team: Any) -> None:
    """Django signs a session out once its person's password changes (the session's hash no
    longer matches): so does the socket that session opened."""
    _, cookie = sign_in(team.viewer)

    def change_password() -> None:
        team.viewer.set_password("a-new-password-for-tests")
        team.viewer.save()

    async def body() -> None:
        comm = connect(team.workspace.pk, cookie=cookie)
        await opened(comm)
        await caught_up(team.workspace.pk, comm)
        await database_sync_to_async(change_password)()
        await database_sync_to_async(emit)(team.workspace.pk, 1)
        await closed_signed_out(comm, SESSION_ENDED)

    run(body)
