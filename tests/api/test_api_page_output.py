"""Every list of the API writes its page straight from the dicts it builds
(``core.pagination.Page.respond``), without validating them against the operation's response
schema first. That is only the same answer if each dict holds exactly the schema's fields, with
the types it declares: these tests hold every list to that, over data with every optional part
filled in (a sealed document, a version made while another program held the document, resolved
and anchored threads with replies, mentions and passages, suggestions and approvals), by running
each page through its schema and the API's renderer, as ninja would have, and comparing.

A list added later that is not listed here fails ``test_every_list_of_the_api_is_checked``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from api_support import API, bearer, doc_url, signed_in, upload_via_api, ws_url

pytestmark = pytest.mark.django_db


def page_schemas() -> dict[str, type[Any]]:
    """Each list operation of the API (a GET answering ``items`` and ``next``) by its function's
    name, with its declared response schema."""
    from commonroom.api import api

    found: dict[str, type[Any]] = {}
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                model = operation.response_models.get(200) if "GET" in operation.methods else None
                schema = getattr(model, "model_fields", {}).get("response")
                annotation = getattr(schema, "annotation", None)
                if isinstance(annotation, type) and "next" in getattr(
                    annotation, "model_fields", {}
                ):
                    found[operation.view_func.__name__] = annotation
    return found


def as_ninja_writes_it(schema: type[Any], body: Any) -> Any:
    """``body`` validated by ``schema`` and written by the API's renderer, as ninja answers a
    view that returns it: what a list answered before it skipped the validation."""
    from ninja.renderers import JSONRenderer

    dumped = schema.model_validate(body).model_dump()
    return json.loads(JSONRenderer().render(None, dumped, response_status=200))  # type: ignore[arg-type]


@pytest.fixture
def everything_filled(team: Any, seeded: Any) -> dict[str, str]:
    """The team's workspace with every optional part of every list's items present; each
    list's URL by its operation's name."""
    from django.utils import timezone

    from commonroom.accounts.services import token_create
    from commonroom.approvals.tests.test_services import ask
    from commonroom.comments.models import Comment, PassageState, ThreadPassage
    from commonroom.conversations.services import conversation_start, message_post
    from commonroom.documents import services as documents
    from commonroom.documents.models import Version
    from commonroom.documents.selectors import document_access
    from commonroom.notifications.models import Notification
    from commonroom.suggestions.tests.factories import docx_bytes, where, with_preview
    from commonroom.workspaces.selectors import workspace_access
    from commonroom.workspaces.tests.factories import make_workspace

    manager, ws = team.manager, team.workspace
    client = bearer(manager)
    access = workspace_access(user=manager, workspace_id=ws.pk)
    make_workspace(manager=manager, name="Audit committee")
    client.post(
        ws_url(ws, "/invitations"), {"email": "a@example.org", "role": "viewer"}, "application/json"
    )
    token_create(actor=manager, name="script", scope="read")

    # Documents: a sealed one, one whose latest version was made while another program held
    # it, one in the trash, and a folder in the trash.
    doc = seeded.document
    sealed = upload_via_api(client, ws, "sealed.txt", b"final").json()["document"]
    doc_access = document_access(user=manager, workspace_id=ws.pk, document_id=sealed["id"])
    documents.version_seal(
        actor=manager,
        document=doc_access.document,
        version=Version.objects.get(document_id=sealed["id"], number=1),
    )
    Version.objects.filter(document=doc, number=2).update(
        while_locked_by=team.editor, while_locked_in="Word", while_locked_since=timezone.now()
    )
    Version.objects.filter(document=doc, number=1).update(
        while_locked_by=team.commenter, while_locked_in="", while_locked_since=None
    )
    trashed = upload_via_api(client, ws, "old.txt", b"old").json()["document"]
    client.delete(doc_url(ws, trashed["id"]))
    folder = client.post(ws_url(ws, "/folders"), {"name": "Old"}, "application/json").json()
    client.delete(ws_url(ws, f"/folders/{folder['id']}"))

    # Threads: anchored with passages on later versions, a reply with a mention, a resolved
    # thread, an edited comment, a deleted one.
    comments = doc_url(ws, doc.pk, "/comments")
    anchored = client.post(
        comments,
        {
            "body": "See @" + team.editor.email,
            "version": 1,
            "anchor_quote": "version one",
            "anchor_position": {"block": "p-1", "start": 0, "end": 11},
        },
        "application/json",
    ).json()
    ThreadPassage.objects.create(
        thread_id=anchored["id"],
        version=Version.objects.get(document=doc, number=2),
        state=PassageState.FOUND,
        block="p-1",
        start=0,
        end=11,
    )
    client.post(
        f"{comments}/{anchored['id']}/replies",
        {"body": "Agreed, @" + team.commenter.email},
        "application/json",
    )
    resolved = client.post(comments, {"body": "Typo in the title"}, "application/json").json()
    client.post(f"{comments}/{resolved['id']}/resolve")
    edited = client.post(comments, {"body": "First thought"}, "application/json").json()
    client.patch(f"{comments}/{edited['id']}", {"body": "Second thought"}, "application/json")
    gone = client.post(comments, {"body": "Never mind"}, "application/json").json()
    client.delete(f"{comments}/{gone['id']}")
    Comment.objects.filter(pk=edited["id"]).update(edited_at=timezone.now() + timedelta(seconds=1))

    # Conversations: one with messages (one mentioning, one edited), one read.
    talk = conversation_start(actor=manager, access=access, title="Agenda", body="Items?")
    message_post(
        actor=manager,
        access=access,
        conversation_id=talk.pk,
        body="@" + team.editor.email + " please add yours",
    )
    conversation_start(actor=team.editor, access=access, title="Minutes", body="Draft attached")
    Notification.objects.create(
        recipient=manager,
        kind="mention",
        workspace=ws,
        actor=team.editor,
        document=doc,
        target_url="/",
        summary="Note",
        excerpt="An excerpt",
        dedupe_key="output-1",
    )
    Notification.objects.create(
        recipient=manager,
        kind="comment",
        workspace=ws,
        target_url="/",
        summary="Read",
        dedupe_key="output-2",
        read_at=timezone.now(),
    )

    # Suggestions and approvals on a Word document with a preview.
    word = with_preview(
        manager, ws, "minutes.docx", docx_bytes("The board met on Tuesday.", "Ten came.")
    )
    place = where(word, "Tuesday")
    suggested = client.post(
        doc_url(ws, word.pk, "/suggestions"),
        {
            "version": place["version_number"],
            "block": place["block_id"],
            "start": place["start"],
            "end": place["end"],
            "kind": "replace",
            "text": "Wednesday",
            "quote": "Tuesday",
        },
        "application/json",
    )
    assert suggested.status_code == 201, suggested.content[:300]
    ask(team, word, team.editor, team.commenter, message="For the board", rule="all")
    ask(team, doc, team.editor, version=2, message="Please")

    d = doc_url(ws, doc.pk)
    return {
        "token_list": f"{API}/me/tokens",
        "workspace_list": f"{API}/workspaces",
        "member_list": ws_url(ws, "/members"),
        "invitation_list": ws_url(ws, "/invitations"),
        "folder_list": ws_url(ws, "/folders"),
        "document_list": ws_url(ws, "/documents"),
        "version_list": f"{d}/versions",
        "trash_folder_list": ws_url(ws, "/trash/folders"),
        "trash_document_list": ws_url(ws, "/trash/documents"),
        "comment_list": f"{d}/comments",
        "suggestion_list": doc_url(ws, word.pk, "/suggestions"),
        "request_list": f"{d}/approvals",
        "conversations_list": ws_url(ws, "/conversations"),
        "messages_list": ws_url(ws, f"/conversations/{talk.pk}/messages"),
        "notifications": f"{API}/notifications",
        "awaiting": f"{API}/approvals/awaiting",
    }


def test_every_list_of_the_api_is_checked(everything_filled):
    assert set(page_schemas()) == set(everything_filled)


@pytest.mark.parametrize("limit", [1, 200])
def test_each_page_is_what_its_schema_would_have_written(team, everything_filled, limit):
    schemas = page_schemas()
    browser = signed_in(team.manager)
    # Some lists are the approver's: the manager asked the editor.
    editor = signed_in(team.editor)

    for name, url in everything_filled.items():
        client = editor if name == "awaiting" else browser
        response = client.get(f"{url}?limit={limit}")
        assert response.status_code == 200, (name, response.content[:300])
        assert response["Content-Type"] == "application/json; charset=utf-8"
        body = response.json()
        assert body["items"], f"{name} should have items"
        expected = as_ninja_writes_it(schemas[name], body)
        assert body == expected, name


def test_the_filled_parts_are_there(team, everything_filled):
    """The data above does fill what it says it fills (else the comparison proves less)."""
    client = signed_in(team.manager)
    docs = client.get(everything_filled["document_list"]).json()["items"]
    versions = client.get(everything_filled["version_list"]).json()["items"]
    threads = client.get(everything_filled["comment_list"]).json()["items"]

    assert any(d["sealed_version"] for d in docs)
    assert any(d["latest"]["while_locked"] for d in docs)
    assert [v["while_locked"]["app"] for v in versions] == ["Word", ""]
    assert any(t["passages"] and t["replies"] and t["mentioned"] for t in threads)
    assert any(t["replies"] and t["replies"][0]["mentioned"] for t in threads)
    assert any(t["resolved_by"] for t in threads)
    assert any(t["edited_at"] for t in threads) and any(t["deleted"] for t in threads)


def test_a_listed_document_or_version_is_what_its_own_address_answers(team, everything_filled):
    """The lists read documents and versions as rows; one document or version is still read
    as a model (``document_out``, ``version_out``): both must show the same."""
    client = signed_in(team.manager)
    docs = client.get(everything_filled["document_list"]).json()["items"]
    versions_url = everything_filled["version_list"]
    versions = client.get(versions_url).json()["items"]

    for doc in docs:
        one = client.get(ws_url(team.workspace, f"/documents/{doc['id']}"))
        assert one.json() == doc
    for version in versions:
        assert client.get(f"{versions_url}/{version['number']}").json() == version
    assert len(docs) >= 3 and len(versions) == 2


def test_a_listed_thread_is_what_each_comment_shows_on_its_own(team, seeded, everything_filled):
    """The threads list reads comments as rows; a comment made, edited or resolved is answered
    from its model (``comment_out``): both must show the same."""
    from commonroom.comments.api import comment_out
    from commonroom.comments.selectors import document_threads
    from commonroom.documents.selectors import document_access

    doc_access = document_access(
        user=team.manager, workspace_id=team.workspace.pk, document_id=seeded.document.pk
    )
    expected = [
        {
            **comment_out(thread),
            "replies": [comment_out(reply) for reply in thread.thread_replies],
            "passages": [
                {
                    "version": p.version.number,
                    "state": p.state,
                    "block": p.block,
                    "start": p.start,
                    "end": p.end,
                }
                for p in thread.thread_passages
            ],
        }
        for thread in document_threads(doc_access=doc_access)
    ]
    from ninja.renderers import JSONRenderer

    listed = signed_in(team.manager).get(everything_filled["comment_list"]).json()["items"]
    assert listed == json.loads(JSONRenderer().render(None, expected, response_status=200))  # type: ignore[arg-type]
