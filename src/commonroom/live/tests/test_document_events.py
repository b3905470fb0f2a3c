"""Documents' changes, live: renames, moves, the trash and folders reach an open socket as they
happen, and every kind of event is ids and facts that match the schema the API publishes."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest
from channels.db import database_sync_to_async
from django.db import transaction
from django.test import Client
from django.urls import reverse

from commonroom.comments.services import comment_create, comment_set_resolved
from commonroom.conversations.services import message_edit
from commonroom.conversations.tests.helpers import post, start
from commonroom.documents import services
from commonroom.documents.models import Document, Folder
from commonroom.documents.tests.factories import (
    access_for,
    doc_access_for,
    make_folder,
    new_version,
    upload,
)
from commonroom.live.events import KINDS
from commonroom.live.models import Event
from commonroom.live.tests.test_consumer import connect, opened, receive, run, token_for
from commonroom.webdav.tests.client import Dav
from commonroom.workspaces.services import workspace_update

# Data that tied clients to one page: never in an event again.
SCREEN_KEYS = {"list", "target", "fragment", "notice"}


def _changes(team: Any, doc: Document) -> dict[str, Any]:
    """An editor and a manager rename, move, seal, reopen, trash and restore; ids of what they
    made."""
    ws, editor, manager = team.workspace, team.editor, team.manager
    board = make_folder(editor, ws, "Board")
    services.document_rename(
        actor=editor, doc_access=doc_access_for(editor, doc), name="Minutes March.txt"
    )
    services.document_move(actor=editor, doc_access=doc_access_for(editor, doc), folder=board)
    access = access_for(manager, ws)
    services.folder_rename(actor=manager, access=access, folder=board, name="Board papers")
    services.document_delete(actor=manager, doc_access=doc_access_for(manager, doc))
    services.document_restore(
        actor=manager, access=access, document=Document.objects.get(pk=doc.pk)
    )
    board.refresh_from_db()
    services.folder_delete(actor=manager, access=access, folder=board)
    services.folder_restore(actor=manager, access=access, folder=Folder.objects.get(pk=board.pk))
    archive = make_folder(editor, ws, "Archive")
    services.folder_move(
        actor=manager, access=access, folder=Folder.objects.get(pk=board.pk), parent=archive
    )
    new_version(editor, Document.objects.get(pk=doc.pk), b"two")
    with transaction.atomic():  # as an approval does, in its transaction
        sealed = Document.objects.get(pk=doc.pk)
        services.version_seal(actor=editor, document=sealed, version=sealed.versions.get(number=2))
    services.document_reopen(
        actor=manager, doc_access=doc_access_for(manager, doc), reason="A typo in item 4."
    )
    # No retention here, so that the record can be purged.
    workspace_update(actor=manager, access=access_for(manager, ws), record_retention_years=0)
    services.document_delete(actor=manager, doc_access=doc_access_for(manager, doc))
    services.document_purge(actor=manager, access=access, document=Document.objects.get(pk=doc.pk))
    return {"board": str(board.pk), "archive": str(archive.pk)}


async def _places(comm: Any, count: int) -> list[dict[str, Any]]:
    """The next ``count`` events, leaving out the previews made meanwhile (of each version)."""
    got: list[dict[str, Any]] = []
    while len(got) < count:
        message = await receive(comm)
        if message["kind"] != "preview.ready":
            got.append(message)
    return got


@pytest.mark.django_db(transaction=True)
def test_renames_moves_the_trash_and_folders_reach_an_open_socket_in_order(team: Any) -> None:
    doc = upload(team.editor, team.workspace, "minutes.txt", b"one").document
    token = token_for(team.viewer)
    d, editor, manager = str(doc.pk), team.editor.pk, team.manager.pk

    async def body() -> None:
        comm = connect(team.workspace.pk, token=token)
        await opened(comm)
        ids = await database_sync_to_async(_changes)(team, doc)
        got = await _places(comm, 15)
        board, archive = ids["board"], ids["archive"]
        assert [(m["type"], m["kind"], m["data"]) for m in got] == [
            (
                "event",
                "folder.created",
                {"folder": board, "parent": None, "name": "Board", "actor_id": editor},
            ),
            (
                "event",
                "document.renamed",
                {"document": d, "folder": None, "name": "Minutes March.txt", "actor_id": editor},
            ),
            (
                "event",
                "document.moved",
                {
                    "document": d,
                    "folder": board,
                    "from_folder": None,
                    "name": "Minutes March.txt",
                    "actor_id": editor,
                },
            ),
            (
                "event",
                "folder.renamed",
                {"folder": board, "parent": None, "name": "Board papers", "actor_id": manager},
            ),
            (
                "event",
                "document.trashed",
                {"document": d, "folder": board, "name": "Minutes March.txt", "actor_id": manager},
            ),
            (
                "event",
                "document.restored",
                {"document": d, "folder": board, "name": "Minutes March.txt", "actor_id": manager},
            ),
            # The document goes to the trash and comes back with its folder: no event of its own.
            (
                "event",
                "folder.trashed",
                {"folder": board, "parent": None, "name": "Board papers", "actor_id": manager},
            ),
            (
                "event",
                "folder.restored",
                {"folder": board, "parent": None, "name": "Board papers", "actor_id": manager},
            ),
            (
                "event",
                "folder.created",
                {"folder": archive, "parent": None, "name": "Archive", "actor_id": editor},
            ),
            (
                "event",
                "folder.moved",
                {
                    "folder": board,
                    "parent": archive,
                    "from_parent": None,
                    "name": "Board papers",
                    "actor_id": manager,
                },
            ),
            (
                "event",
                "version.created",
                {
                    "document": d,
                    "folder": board,
                    "name": "Minutes March.txt",
                    "number": 2,
                    "restored_from": None,
                    "author_id": editor,
                },
            ),
            (
                "event",
                "document.sealed",
                {"document": d, "folder": board, "number": 2, "actor_id": editor},
            ),
            (
                "event",
                "document.reopened",
                {"document": d, "folder": board, "number": 2, "actor_id": manager},
            ),
            (
                "event",
                "document.trashed",
                {"document": d, "folder": board, "name": "Minutes March.txt", "actor_id": manager},
            ),
            (
                "event",
                "document.purged",
                {"document": d, "folder": board, "name": "Minutes March.txt", "actor_id": manager},
            ),
        ]
        ids_sent = [m["id"] for m in got]
        assert ids_sent == sorted(ids_sent)
        # Nothing more, each once: a later event is the next thing the socket is sent.
        await database_sync_to_async(make_folder)(team.editor, team.workspace, "Later")
        (later,) = await _places(comm, 1)
        assert (later["kind"], later["data"]["name"]) == ("folder.created", "Later")
        await comm.disconnect()

    run(body)


def _suggestion_events(team: Any) -> None:
    """A suggestion made and rejected (through its page), one accepted, one outdated."""
    from commonroom.suggestions.tests.factories import accept, docx_bytes, suggest, with_preview

    doc = with_preview(
        team.editor, team.workspace, "notes.docx", docx_bytes("One.", "Two.", "Three.")
    )
    rejected = suggest(team.commenter, doc, "One.", "replace", "First.")
    client = Client()
    client.force_login(team.editor)
    reject = reverse("suggestion_reject", args=[doc.workspace_id, doc.pk, rejected.pk])
    assert client.post(reject, {"reason": "No."}).status_code == 302
    outdated = suggest(team.commenter, doc, "Two.", "delete")
    accept(team.editor, doc, suggest(team.commenter, doc, "Three.", "replace", "Third."))
    changed = docx_bytes("One.", "Two!", "Third.")
    new_version(team.editor, Document.objects.get(pk=doc.pk), changed)
    outdated.refresh_from_db()
    assert outdated.state == "outdated"


def _approval_events(team: Any) -> None:
    """A request asked, its approvers reminded, one decision, and its end."""
    from commonroom.approvals import services as approvals

    doc = upload(team.editor, team.workspace, "budget.txt", b"The budget.").document
    manager = doc_access_for(team.manager, doc)
    request = approvals.approval_request_create(
        actor=team.manager,
        doc_access=manager,
        version_number=1,
        approver_ids=[team.editor.pk, team.commenter.pk],
    )
    approvals.approval_remind(actor=team.manager, doc_access=manager, request_id=request.pk)
    approvals.approval_decide(
        actor=team.commenter,
        doc_access=doc_access_for(team.commenter, doc),
        request_id=request.pk,
        approve=True,
    )
    approvals.approval_cancel(actor=team.manager, doc_access=manager, request_id=request.pk)


def _every_kind(team: Any, capture: Any) -> None:
    """One event of every kind, each through the service that makes it."""
    with capture(execute=True):  # the preview is made (a task, at once in tests) after commit
        doc = upload(team.editor, team.workspace, "minutes.txt", b"Minutes of the board.").document
    # Word opens it over WebDAV: its lock is taken.
    assert Dav(team.editor).lock(f"/{team.workspace.name}/minutes.txt").status_code == 200
    access = doc_access_for(team.commenter, doc)
    comment = comment_create(actor=team.commenter, doc_access=access, body="Paragraph 2?")
    position = {"block": "p-1", "start": 0, "end": 7}
    comment_create(
        actor=team.commenter,
        doc_access=access,
        body="This one",
        anchor_quote="Minutes",
        anchor_position=position,
    )
    with capture(execute=True):  # the new version's preview is made: the passage is found in it
        new_version(team.editor, Document.objects.get(pk=doc.pk), b"Minutes of the board.\n\nMore.")
    comment_set_resolved(
        actor=team.manager,
        doc_access=doc_access_for(team.manager, doc),
        comment_id=comment.pk,
        resolved=True,
    )
    _suggestion_events(team)
    _approval_events(team)
    conversation = start(team.editor, team.workspace, title="Budget", body="First")
    second = post(team.commenter, conversation, body="Second")
    message_edit(
        actor=team.commenter,
        access=access_for(team.commenter, team.workspace),
        conversation_id=conversation.pk,
        message_id=second.pk,
        body="Second, edited",
    )
    _changes(team, upload(team.editor, team.workspace, "agenda.txt", b"Agenda").document)
    board = make_folder(team.editor, team.workspace, "Old papers")
    manager_access = access_for(team.manager, team.workspace)
    services.folder_delete(actor=team.manager, access=manager_access, folder=board)
    services.folder_purge(
        actor=team.manager, access=manager_access, folder=Folder.objects.get(pk=board.pk)
    )


def test_every_kind_of_event_is_ids_and_facts_as_the_openapi_schema_says(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _every_kind(team, django_capture_on_commit_callbacks)
    events = list(Event.objects.order_by("id"))
    assert {e.kind for e in events} == set(KINDS)  # every kind, made by its real service

    schema = json.loads(Client().get("/api/v1/openapi.json").content)
    validator = jsonschema_rs.validator_for(
        {"$ref": "#/components/schemas/LiveEvent", "components": schema["components"]}
    )
    for event in events:
        sent = {"type": "event", "id": event.pk, "kind": event.kind, "data": event.data}
        errors = [e.message for e in validator.iter_errors(sent)]
        assert errors == [], (event.kind, event.data, errors)
        assert not SCREEN_KEYS & set(event.data), event.kind
        for value in event.data.values():
            # No markup, no page address: names and keys are the only words.
            assert not (isinstance(value, str) and ("<" in value or value.startswith("/"))), value
    # The schema says which data goes with which kind: a folder's data is no document's.
    wrong = {"type": "event", "id": 1, "kind": "document.renamed", "data": events[-1].data}
    assert events[-1].kind == "folder.purged"
    assert not validator.is_valid(wrong)
