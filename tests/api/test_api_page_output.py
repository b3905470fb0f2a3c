"""Every list of the API writes its page straight from the dicts it builds
(``core.pagination.Page.respond``), without validating them against the operation's response
schema first. That is only the same answer if each dict holds exactly the schema's fields, with
the types it declares: these tests hold every list to that, over data with every optional part
filled in (a sealed document, a version made while another program held the document, resolved
and anchored threads with replies, mentions and passages, suggestions and approvals), by running
each page through its schema and the API's renderer, as ninja would have, and comparing.

And each list's items hold the values each item has on its own (its own address, or the
writer that answers for one object read as a model), for a manager, a viewer and an external
guest, whose rows differ (what they may do with each document or message, whose access end
dates they are told).

A list added later that is not listed here fails ``test_every_list_of_the_api_is_checked``.
"""

from __future__ import annotations

import json
import re
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


_WHOLE_SECOND = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)Z$")


def instants_to_the_millisecond(value: Any) -> Any:
    """``value`` with each time written to the millisecond. Django's encoder (and so ninja's)
    leaves out a time's fraction only when its microseconds are 0, and writes milliseconds
    otherwise: a time 300 µs past a second is "…:54.000Z" as the API writes it, and "…:54Z"
    once read back from that text (0 µs) and written again, as :func:`as_ninja_writes_it`
    does. Both mean the same instant."""
    if isinstance(value, dict):
        return {k: instants_to_the_millisecond(v) for k, v in value.items()}
    if isinstance(value, list):
        return [instants_to_the_millisecond(v) for v in value]
    if isinstance(value, str):
        return _WHOLE_SECOND.sub(r"\1.000Z", value)
    return value


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
    # Members whose rows differ by who reads them: end dates (told to managers and to the
    # member themself), and an external guest.
    from commonroom.accounts.tests.factories import GuestFactory
    from commonroom.workspaces.models import Membership
    from commonroom.workspaces.tests.factories import add_member

    add_member(ws, GuestFactory(email="guest@partner.example"), "viewer")
    today = timezone.localdate()
    Membership.objects.filter(workspace=ws, user=team.commenter).update(
        access_until=today + timedelta(days=30)
    )
    Membership.objects.filter(workspace=ws, user=team.viewer).update(
        access_until=today + timedelta(days=60)
    )

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
        assert instants_to_the_millisecond(body) == instants_to_the_millisecond(expected), name


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


def rendered(body: Any) -> Any:
    """``body`` as the API's renderer writes it (times and ids as JSON)."""
    from ninja.renderers import JSONRenderer

    return json.loads(JSONRenderer().render(None, body, response_status=200))  # type: ignore[arg-type]


def reader(team: Any, role: str) -> Any:
    from commonroom.accounts.models import User

    return (
        User.objects.get(email="guest@partner.example") if role == "guest" else getattr(team, role)
    )


def each_as_its_own(
    name: str, url: str, items: list[Any], user: Any, team: Any
) -> list[Any] | None:
    """What each listed item of list ``name`` is when read on its own: from its own address
    where it has one, else from the writer that answers for one object (read as a model, as a
    write's answer is); None for a list written by that same writer (nothing to compare)."""
    from commonroom.comments.api import comment_out
    from commonroom.comments.selectors import document_threads
    from commonroom.documents.api import document_out, folder_out
    from commonroom.documents.models import Document, Folder
    from commonroom.documents.selectors import abilities_of, document_access
    from commonroom.workspaces.api import member_out
    from commonroom.workspaces.models import Membership
    from commonroom.workspaces.selectors import workspace_access

    client = signed_in(user)
    ws = team.workspace
    if name in ("workspace_list", "document_list"):
        return [client.get(f"{url}/{item['id']}").json() for item in items]
    if name == "conversations_list":
        return [client.get(f"{url}/{item['id']}").json()["conversation"] for item in items]
    if name in ("suggestion_list", "request_list"):
        return [client.get(f"{url}/{item['id']}").json() for item in items]
    if name == "version_list":
        return [client.get(f"{url}/{item['number']}").json() for item in items]
    if name == "messages_list":
        return client.get(url.removesuffix("/messages"), {"limit": 200}).json()["messages"]
    access = workspace_access(user=user, workspace_id=ws.pk)
    if name in ("folder_list", "trash_folder_list"):
        return rendered([folder_out(Folder.objects.get(pk=item["id"])) for item in items])
    if name == "trash_document_list":
        docs = [Document.objects.get(pk=item["id"]) for item in items]
        return rendered([document_out(d, abilities_of(access, d)) for d in docs])
    if name == "member_list":
        managing = access.can("manage_members")
        members = [Membership.objects.select_related("user").get(pk=i["id"]) for i in items]
        return rendered(
            [member_out(m, end_date_told=managing or m.user_id == user.pk) for m in members]
        )
    if name == "comment_list":
        doc_access = document_access(
            user=user, workspace_id=ws.pk, document_id=url.split("/documents/")[1].split("/")[0]
        )
        return rendered(
            [
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
        )
    # Tokens, invitations and the approvals awaiting you are written from models by the one
    # writer; notifications only from rows (no object of one is answered on its own).
    assert name in ("token_list", "invitation_list", "awaiting", "notifications"), name
    return None


@pytest.mark.parametrize("role", ["manager", "viewer", "guest"])
def test_every_listed_item_is_what_it_is_on_its_own_for_each_reader(
    team: Any, everything_filled: dict[str, str], role: str
) -> None:
    """Every list, read by a manager, by a viewer and by an external guest (whose rows differ:
    what each may do with a document or a message, whose end dates they are told), answers
    for each item what the item is on its own for the same reader."""
    user = reader(team, role)
    client = signed_in(user)
    compared = []
    for name, url in everything_filled.items():
        response = client.get(f"{url}?limit=200")
        if response.status_code in (403, 404):
            assert role != "manager", (name, response.status_code)
            continue
        assert response.status_code == 200, (name, response.content[:300])
        items = response.json()["items"]
        expected = each_as_its_own(name, url, items, user, team)
        if expected is not None and items:
            assert items == expected, (name, role)
            compared.append(name)
    assert {"document_list", "member_list", "messages_list", "comment_list"} <= set(compared)
    if role == "manager":
        assert {"trash_document_list", "trash_folder_list", "folder_list"} <= set(compared)


def test_the_readers_rows_do_differ(team: Any, everything_filled: dict[str, str]) -> None:
    """The rows the test above compares differ by reader (else it proves less)."""

    def listed(role: str, name: str) -> list[Any]:
        url = everything_filled[name]
        return signed_in(reader(team, role)).get(url).json()["items"]

    def told(role: str) -> dict[str, Any]:
        return {m["email"]: m["access_until"] for m in listed(role, "member_list")}

    assert told("manager")[team.commenter.email] is not None
    assert told("viewer")[team.commenter.email] is None
    assert told("viewer")[team.viewer.email] is not None
    assert told("guest")[team.viewer.email] is None
    abilities = {
        role: [d["abilities"] for d in listed(role, "document_list")]
        for role in ("manager", "viewer", "guest")
    }
    assert abilities["manager"] != abilities["viewer"]
    assert abilities["viewer"] != abilities["guest"]
    mine = {
        role: [m["abilities"] for m in listed(role, "messages_list")]
        for role in ("manager", "viewer")
    }
    assert mine["manager"] != mine["viewer"]


@pytest.mark.parametrize("microseconds", [0, 300, 999, 1000, 123456])
def test_a_time_is_written_as_djangos_encoder_writes_it(microseconds: int) -> None:
    """The pages' encoder writes times itself (core.pagination.PageEncoder): the same text as
    Django's, a whole second included, and a time under a millisecond past one."""
    from datetime import UTC, datetime

    from django.core.serializers.json import DjangoJSONEncoder

    from commonroom.core.pagination import PageEncoder

    at = datetime(2026, 12, 6, 20, 55, 54, microseconds, tzinfo=UTC)
    assert json.dumps(at, cls=PageEncoder) == json.dumps(at, cls=DjangoJSONEncoder)
