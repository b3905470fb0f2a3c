"""The number an open screen is nudged with when a notification arrives or is read is the header
badge's number: unread, in workspaces the person is still a member of, each person their own."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from commonroom.accounts.models import TokenScope
from commonroom.accounts.services import token_create
from commonroom.asgi import application
from commonroom.live.services import nudge_user
from commonroom.notifications import services
from commonroom.notifications.selectors import unread_count
from commonroom.notifications.tests.factories import make_notification, post_comment
from commonroom.workspaces.models import Membership
from commonroom.workspaces.tests.factories import make_workspace, upload_document

pytestmark = pytest.mark.django_db(transaction=True)

HOST = "testserver"


def personal_socket(token: str) -> WebsocketCommunicator:
    headers = [(b"host", HOST.encode()), (b"authorization", f"Bearer {token}".encode())]
    return WebsocketCommunicator(application, "/ws/me/", headers=headers)


LATER = {"type": "nudge", "kind": "test.later", "data": {}}


def later_nudge(user: Any) -> None:
    with transaction.atomic():
        nudge_user(user_id=user.pk, kind="test.later", data={})


async def unread_nudge(comm: WebsocketCommunicator) -> int:
    message: dict[str, Any] = await comm.receive_json_from(timeout=2)
    assert (message["type"], message["kind"]) == ("nudge", "notifications")
    return int(message["data"]["unread"])


def test_each_recipient_is_nudged_with_their_badge_number(team: Any) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.docx")  # manager follows
    make_notification(team.viewer, doc, summary="Already waiting")
    # One in a workspace the viewer has since left: hidden, so not counted.
    left = make_workspace(manager=team.editor, name="Left behind")
    Membership.objects.create(workspace=left, user=team.viewer, role="viewer")
    make_notification(team.viewer, upload_document(left, team.editor, name="old.docx"))
    Membership.objects.filter(workspace=left, user=team.viewer).delete()

    tokens = [
        token_create(actor=user, name="socket", scope=TokenScope.READ).secret
        for user in (team.viewer, team.manager)
    ]

    def mention() -> None:
        post_comment(doc, team.commenter, "@viewer have a look", mentioned=[team.viewer])

    async def body() -> None:
        viewer, manager = (personal_socket(token) for token in tokens)
        for comm in (viewer, manager):
            connected, _ = await comm.connect(timeout=5)
            assert connected
            assert (await comm.receive_json_from(timeout=2))["type"] == "hello"

        await database_sync_to_async(mention)()
        assert await unread_nudge(viewer) == 2
        assert await unread_nudge(manager) == 1  # the new comment on a document they follow
        assert await database_sync_to_async(unread_count)(team.viewer) == 2

        await database_sync_to_async(services.mark_all_read)(user=team.viewer)
        assert await unread_nudge(viewer) == 0
        # The viewer's reading changed nothing for the manager: the next thing the manager's
        # socket gets is a later nudge of their own (nudges arrive in the order they are sent).
        await database_sync_to_async(later_nudge)(team.manager)
        assert await manager.receive_json_from(timeout=2) == LATER
        for comm in (viewer, manager):
            await comm.disconnect()

    async_to_sync(body)()
