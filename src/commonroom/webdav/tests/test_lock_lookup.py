"""Which documents a workspace's WebDAV locks hold (``selectors.document_locks``, behind every
folder page, document page and lock break): the same answer as making every document's lock
keys and matching them (the rule, written out here), for locks on documents, on folders at
each depth, on the workspace, in another workspace, expired, and on a document shown under a
numbered name; and, when the workspace holds no live lock, one indexed read and no names."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from commonroom.documents.models import Document
from commonroom.documents.selectors import folder_documents
from commonroom.documents.tests.factories import access_for, make_folder, upload
from commonroom.webdav.models import DavLock
from commonroom.webdav.names import lock_key
from commonroom.webdav.selectors import (
    LockPlaces,
    document_locks,
    document_names,
    locks_holding,
)
from commonroom.workspaces.tests.factories import make_workspace

pytestmark = pytest.mark.django_db


def by_rule(access: Any, documents: list[Document]) -> dict[Any, list[str]]:
    """Every document's own key and its folders' and workspace's, matched against every live
    lock (what ``document_locks`` answered before it read the workspace's locks first)."""
    workspace_id = access.workspace.pk
    places = {}
    for pk, names in document_names(access, documents).items():
        above = tuple(lock_key(workspace_id, names[:depth]) for depth in range(len(names)))
        places[pk] = LockPlaces(own=lock_key(workspace_id, names), above=above)
    every_live_lock = list(
        DavLock.objects.filter(expire_at__gt=timezone.now())
        .select_related("user")
        .order_by("created_at", "token")
    )
    held = locks_holding(places, every_live_lock)
    return {pk: [row.token for row in rows] for pk, rows in held.items()}


def tokens(access: Any, documents: list[Document]) -> dict[Any, list[str]]:
    return {pk: [r.token for r in rows] for pk, rows in document_locks(access, documents).items()}


def lock(user: Any, workspace: Any, names: list[str], *, depth: str = "0", **extra: Any) -> str:
    """A lock written straight to the database, as another server process's LOCK writes it."""
    token = f"opaquelocktoken:{DavLock.objects.count()}-{'/'.join(names)}"
    DavLock.objects.create(
        token=token,
        root=lock_key(workspace.pk, names),
        user=user,
        workspace=workspace,
        scope="exclusive",
        depth=depth,
        timeout=600,
        expire_at=extra.pop("expire_at", timezone.now() + timedelta(minutes=10)),
        **extra,
    )
    return token


@pytest.fixture
def place(team: Any) -> Any:
    """A top level with two documents and a folder named like one of them ("Budget" beside
    "budget", shown over WebDAV as "budget (2)"), and a folder within a folder, with documents."""
    ws = team.workspace
    papers = make_folder(team.manager, ws, "Papers")
    inner = make_folder(team.manager, ws, "2026", parent=papers)
    make_folder(team.manager, ws, "Budget")
    for name, folder in [
        ("minutes.docx", None),
        ("budget", None),
        ("agenda.docx", papers),
        ("notes.docx", papers),
        ("plan.docx", inner),
    ]:
        upload(team.editor, ws, name, name.encode(), folder=folder)
    access = access_for(team.viewer, ws)
    return access, {None: None, "Papers": papers, "2026": inner}


def listings(access: Any, folders: dict[Any, Any]) -> list[list[Document]]:
    return [list(folder_documents(access=access, folder=f)) for f in folders.values()]


@pytest.mark.parametrize(
    ("names", "depth", "holds"),
    [
        (["minutes.docx"], "0", True),
        (["budget (2)"], "0", True),  # a document shown under a numbered name
        (["Budget"], "infinity", False),  # the folder beside it, not the document
        (["Papers"], "0", False),  # a folder locked on its own holds nothing inside
        (["Papers"], "infinity", True),
        (["Papers", "agenda.docx"], "0", True),
        (["PAPERS", "Notes.DOCX"], "0", True),  # keys are folded: the case does not matter
        (["Papers", "2026"], "infinity", True),
        (["Papers", "2026", "plan.docx"], "0", True),
        ([], "infinity", True),  # the whole workspace
        ([], "0", False),
        (["Elsewhere.docx"], "0", False),  # nothing of these listings
    ],
)
def test_each_lock_holds_what_the_rule_says(
    team: Any, place: Any, names: list[str], depth: str, holds: bool
) -> None:
    access, folders = place
    token = lock(team.editor, team.workspace, names, depth=depth)
    held = []
    for documents in listings(access, folders):
        found = tokens(access, documents)
        assert found == by_rule(access, documents)
        held += [pk for pk, t in found.items() if t == [token]]
    assert bool(held) == holds


def test_several_locks_oldest_first_and_others_ignored(team: Any, place: Any) -> None:
    access, folders = place
    other = make_workspace(manager=team.manager, name="Elsewhere")
    lock(team.editor, team.workspace, ["Papers", "agenda.docx"])
    lock(team.manager, team.workspace, ["Papers"], depth="infinity")
    lock(team.manager, team.workspace, [], depth="infinity")
    lock(team.editor, other, ["Papers", "agenda.docx"])  # another workspace's
    lock(
        team.editor,
        team.workspace,
        ["minutes.docx"],
        expire_at=timezone.now() - timedelta(seconds=1),  # expired
    )
    for documents in listings(access, folders):
        found = tokens(access, documents)
        assert found == by_rule(access, documents)
        assert all(len(t) >= 1 for t in found.values()) and len(found) == len(documents)
    agenda = Document.objects.get(name="agenda.docx")
    assert len(tokens(access, [agenda])[agenda.pk]) == 3


def test_no_live_lock_in_the_workspace_is_one_read_and_no_names(team: Any, place: Any) -> None:
    access, folders = place
    other = make_workspace(manager=team.manager, name="Elsewhere")
    lock(team.editor, other, ["minutes.docx"])
    lock(
        team.editor,
        team.workspace,
        ["minutes.docx"],
        expire_at=timezone.now() - timedelta(seconds=1),
    )
    for documents in listings(access, folders):
        with CaptureQueriesContext(connection) as queries:
            assert document_locks(access, documents) == {}
        assert len(queries) == 1, [q["sql"] for q in queries.captured_queries]
        assert 'FROM "webdav_davlock"' in queries.captured_queries[0]["sql"]

    # The moment another process writes a lock, the next page sees it.
    lock(team.editor, team.workspace, ["minutes.docx"])
    top = listings(access, folders)[0]
    minutes = next(d for d in top if d.name == "minutes.docx")
    assert list(tokens(access, top)) == [minutes.pk]


def test_a_lock_elsewhere_in_the_workspace_reads_no_names_for_this_folder(
    team: Any, place: Any
) -> None:
    access, folders = place
    lock(team.editor, team.workspace, ["Papers", "2026", "plan.docx"])
    top = listings(access, folders)[0]
    with CaptureQueriesContext(connection) as queries:
        assert document_locks(access, top) == {}
    assert len(queries) == 1, [q["sql"] for q in queries.captured_queries]


def test_a_lock_that_reaches_a_folder_costs_the_workspace_s_locks_and_the_names_once(
    team: Any, place: Any
) -> None:
    """Where a live lock may hold a folder's documents, they cost the read of the workspace's
    locks and what their names over WebDAV cost (``document_names``), nothing more: the keys
    are made from the folder's path read once and the names shown beside it."""
    access, folders = place
    lock(team.editor, team.workspace, ["Papers", "2026", "plan.docx"])
    first = listings(access, folders)[2]
    with CaptureQueriesContext(connection) as names:
        document_names(access, first)
    inner = listings(access, folders)[2]  # read afresh: nothing of its folders kept
    with CaptureQueriesContext(connection) as queries:
        assert list(tokens(access, inner)) == [inner[0].pk]
    assert len(queries) == 1 + len(names), [q["sql"] for q in queries.captured_queries]
