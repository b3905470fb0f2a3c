"""The conversations API refuses fields it does not know, naming them, instead of ignoring them
(a client sending "document" instead of "document_id" must hear of it)."""

from __future__ import annotations

import pytest
from django.test import Client

from commonroom.accounts.services import token_create
from commonroom.conversations.models import Conversation, Message
from commonroom.conversations.tests.helpers import start

pytestmark = pytest.mark.django_db


def api(user) -> Client:
    secret = token_create(actor=user, name="test", scope="write").secret
    return Client(headers={"Authorization": f"Bearer {secret}"})


def test_unknown_fields_answer_422_naming_the_field(team):
    topic = start(team.manager, team.workspace, title="Rota", body="Who covers Friday?")
    base = f"/api/v1/workspaces/{team.workspace.pk}/conversations"
    client = api(team.editor)
    started = client.post(
        base, {"title": "Leave", "body": "Dates?", "document": "x"}, "application/json"
    )
    posted = client.post(
        f"{base}/{topic.pk}/messages", {"body": "June", "document": "x"}, "application/json"
    )
    mine = client.post(f"{base}/{topic.pk}/messages", {"body": "July"}, "application/json")
    patched = client.patch(
        f"{base}/{topic.pk}/messages/{mine.json()['id']}",
        {"body": "August", "bdy": "x"},
        "application/json",
    )
    for answer, field in ((started, "document"), (posted, "document"), (patched, "bdy")):
        assert answer.status_code == 422
        [error] = answer.json()["detail"]
        assert (error["loc"][-1], error["type"]) == (field, "extra_forbidden")
    assert Conversation.objects.count() == 1
    assert list(Message.objects.values_list("body", flat=True).order_by("created_at")) == [
        "Who covers Friday?",
        "July",
    ]
