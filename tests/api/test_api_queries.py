"""Guards against N+1 queries on the API's lists: the number of SQL queries of a list does not
grow with the number of items in it."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import API, bearer, upload_via_api, ws_url
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def queries_for(client: Any, url: str) -> int:
    """Queries of a GET of ``url``, once the token's first-use bookkeeping is done."""
    client.get(f"{API}/me")
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(captured)


def add_documents(client: Any, workspace: Any, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        upload_via_api(client, workspace, f"paper-{i}.txt", f"paper {i}".encode())
        upload_via_api(client, workspace, f"paper-{i}.txt", f"paper {i}, amended".encode())


def test_documents_list_queries_do_not_grow_with_documents(team):
    editor = bearer(team.editor)
    url = ws_url(team.workspace, "/documents")
    add_documents(editor, team.workspace, 1)
    few = queries_for(editor, url)

    add_documents(editor, team.workspace, 5, start=1)
    many = queries_for(editor, url)

    assert len(editor.get(url).json()["items"]) == 6
    assert many == few


def test_trash_list_queries_do_not_grow_with_documents(team):
    manager = bearer(team.manager)
    url = ws_url(team.workspace, "/trash/documents")

    def trash_all() -> None:
        for doc in manager.get(ws_url(team.workspace, "/documents")).json()["items"]:
            manager.delete(ws_url(team.workspace, f"/documents/{doc['id']}"))

    add_documents(manager, team.workspace, 1)
    trash_all()
    few = queries_for(manager, url)
    add_documents(manager, team.workspace, 5, start=1)
    trash_all()
    many = queries_for(manager, url)

    assert len(manager.get(url).json()["items"]) == 6
    assert many == few


def test_versions_list_queries_do_not_grow_with_versions(team):
    editor = bearer(team.editor)
    doc = upload_via_api(editor, team.workspace, content=b"v1").json()["document"]
    url = ws_url(team.workspace, f"/documents/{doc['id']}/versions")
    few = queries_for(editor, url)

    for i in range(5):
        upload_via_api(editor, team.workspace, content=f"v{i + 2}".encode())
    many = queries_for(editor, url)

    assert len(editor.get(url).json()["items"]) == 6
    assert many == few


def test_workspace_and_member_lists_do_not_grow_with_their_items(team):
    from commonroom.accounts.tests.factories import UserFactory
    from commonroom.workspaces.tests.factories import add_member, make_workspace

    client = bearer(team.manager)
    members_url = ws_url(team.workspace, "/members")
    few_ws, few_members = queries_for(client, f"{API}/workspaces"), queries_for(client, members_url)

    for i in range(5):
        add_member(make_workspace(manager=team.manager, name=f"Committee {i}"), UserFactory())
        add_member(team.workspace, UserFactory(), "viewer")
    many_ws, many_members = (
        queries_for(client, f"{API}/workspaces"),
        queries_for(client, members_url),
    )

    assert len(client.get(f"{API}/workspaces").json()["items"]) == 6
    assert len(client.get(members_url).json()["items"]) == 9
    assert (many_ws, many_members) == (few_ws, few_members)
