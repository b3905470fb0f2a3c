"""Every list of the API answers a page at a time (core.pagination): ``{"items", "next"}``.

Walking a list by its ``next`` links gives every item once, in the list's order, whatever is
added or removed between two pages; a cursor that was changed or belongs to another list is
refused with 400 and a sentence; a limit outside 1 to 200 likewise; a page's queries do not grow
with the list.
"""

from __future__ import annotations

from typing import Any

import pytest
from api_support import API, bearer, doc_url, error_of, signed_in, upload_via_api, ws_url
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def walk(client: Any, url: str, limit: int) -> list[list[dict[str, Any]]]:
    """Every page of the list at ``url``, following ``next`` as a client would."""
    sep = "&" if "?" in url else "?"
    pages: list[list[dict[str, Any]]] = []
    next_url: str | None = f"{url}{sep}limit={limit}"
    while next_url is not None:
        response = client.get(next_url)
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        assert body["items"] or not pages, "only an empty list has an empty page"
        pages.append(body["items"])
        next_url = body["next"]
        assert len(pages) < 100
    return pages


def everything(client: Any, url: str) -> list[dict[str, Any]]:
    sep = "&" if "?" in url else "?"
    body = client.get(f"{url}{sep}limit=200").json()
    assert body["next"] is None
    return list(body["items"])


def names(items: list[dict[str, Any]]) -> list[str]:
    return [i["name"] for i in items]


def add_documents(client: Any, workspace: Any, *names_: str) -> None:
    for name in names_:
        assert upload_via_api(client, workspace, name, name.encode()).status_code == 201


# --- The documents list, edge by edge ----------------------------------------------------------


def test_an_empty_list_is_one_empty_page(team):
    body = bearer(team.viewer).get(ws_url(team.workspace, "/documents")).json()

    assert body == {"items": [], "next": None}


def test_a_list_that_fills_exactly_one_page_has_no_next(team):
    editor = bearer(team.editor)
    add_documents(editor, team.workspace, "a.txt", "b.txt", "c.txt")

    body = editor.get(ws_url(team.workspace, "/documents?limit=3")).json()

    assert names(body["items"]) == ["a.txt", "b.txt", "c.txt"]
    assert body["next"] is None


def test_walking_the_pages_gives_every_document_once_in_order_and_the_last_has_no_next(team):
    editor = bearer(team.editor)
    add_documents(editor, team.workspace, "e.txt", "c.txt", "a.txt", "d.txt", "b.txt")

    pages = walk(editor, ws_url(team.workspace, "/documents"), limit=2)

    assert [names(p) for p in pages] == [["a.txt", "b.txt"], ["c.txt", "d.txt"], ["e.txt"]]


def test_next_is_root_relative_and_keeps_the_lists_own_parameters(team, seeded):
    editor = bearer(team.editor)
    for name in ("x.txt", "y.txt", "z.txt"):
        upload_via_api(editor, team.workspace, name, name.encode(), folder_id=str(seeded.folder.pk))

    body = editor.get(ws_url(team.workspace, f"/documents?folder_id={seeded.folder.pk}&limit=2"))
    next_url = body.json()["next"]

    assert next_url.startswith(ws_url(team.workspace, "/documents?"))
    assert f"folder_id={seeded.folder.pk}" in next_url and "limit=2" in next_url
    assert names(editor.get(next_url).json()["items"]) == ["z.txt"]


def test_a_document_added_or_deleted_between_pages_moves_no_other(team):
    editor = bearer(team.editor)
    add_documents(editor, team.workspace, "b.txt", "d.txt", "f.txt", "h.txt")
    first = editor.get(ws_url(team.workspace, "/documents?limit=2")).json()
    assert names(first["items"]) == ["b.txt", "d.txt"]

    # Before the cursor (not shown now: the client has passed it), after it (shown), the row
    # the cursor was made from deleted, and one still to come deleted.
    add_documents(editor, team.workspace, "a.txt", "e.txt")
    by_name = {d["name"]: d["id"] for d in everything(editor, ws_url(team.workspace, "/documents"))}
    for gone in ("d.txt", "h.txt"):
        assert editor.delete(doc_url(team.workspace, by_name[gone])).status_code == 204

    rest = [names(p) for p in walk_from(editor, first["next"])]

    assert rest == [["e.txt", "f.txt"]]


def walk_from(client: Any, next_url: str | None) -> list[list[dict[str, Any]]]:
    pages = []
    while next_url is not None:
        body = client.get(next_url).json()
        pages.append(body["items"])
        next_url = body["next"]
    return pages


@pytest.mark.parametrize("limit", ["0", "-1", "201", "1000"])
def test_a_limit_outside_1_to_200_is_refused_with_a_sentence(team, limit):
    response = bearer(team.viewer).get(ws_url(team.workspace, f"/documents?limit={limit}"))

    assert response.status_code == 400
    assert error_of(response) == {
        "code": "bad_limit",
        "detail": "The limit must be between 1 and 200.",
    }


def test_the_largest_limit_is_accepted(team):
    response = bearer(team.viewer).get(ws_url(team.workspace, "/documents?limit=200"))

    assert response.status_code == 200


def cursor_of(next_url: str) -> str:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(next_url).query)["cursor"][0]


@pytest.fixture
def a_cursor(team: Any) -> str:
    """A genuine cursor of the team's top-level documents list."""
    editor = bearer(team.editor)
    add_documents(editor, team.workspace, "a.txt", "b.txt")
    return cursor_of(editor.get(ws_url(team.workspace, "/documents?limit=1")).json()["next"])


def forgeries(cursor: str) -> list[str]:
    flipped = cursor[:-1] + ("A" if cursor[-1] != "A" else "B")
    return ["", "garbage", "0" * 80, flipped, cursor + "x", cursor.split(":")[0]]


def test_a_forged_or_garbled_cursor_is_refused_with_a_sentence_never_read(team, a_cursor):
    client = bearer(team.editor)

    for forged in forgeries(a_cursor):
        response = client.get(ws_url(team.workspace, f"/documents?cursor={forged}"))
        assert response.status_code == 400, forged
        assert error_of(response)["code"] == "bad_cursor"
        assert "start again from the first page" in error_of(response)["detail"]


def test_a_cursor_of_another_list_or_workspace_or_folder_is_refused(team, seeded, a_cursor):
    from commonroom.workspaces.tests.factories import make_workspace

    other = make_workspace(manager=team.editor, name="Another board")
    client = bearer(team.editor)

    for url in (
        ws_url(team.workspace, "/folders"),
        ws_url(team.workspace, f"/documents?folder_id={seeded.folder.pk}"),
        ws_url(other, "/documents"),
        ws_url(team.workspace, "/members"),
        f"{API}/workspaces",
    ):
        sep = "&" if "?" in url else "?"
        response = client.get(f"{url}{sep}cursor={a_cursor}")
        assert response.status_code == 400, url
        assert error_of(response)["code"] == "bad_cursor"


def test_a_genuine_cursor_lets_no_one_past_their_access(team, a_cursor):
    response = bearer(team.outsider).get(ws_url(team.workspace, f"/documents?cursor={a_cursor}"))

    assert response.status_code == 404


# --- Every list walks to the same items as one large page -------------------------------------


@pytest.fixture
def crowded(team: Any, seeded: Any) -> dict[str, str]:
    """Several of everything in the team's workspace, and each list's URL."""
    from commonroom.accounts.services import token_create
    from commonroom.accounts.tests.factories import UserFactory
    from commonroom.comments.services import comment_create
    from commonroom.conversations.services import conversation_start, message_post
    from commonroom.documents.selectors import document_access
    from commonroom.notifications.models import Notification
    from commonroom.workspaces.selectors import workspace_access
    from commonroom.workspaces.tests.factories import add_member, make_workspace

    manager = team.manager
    access = workspace_access(user=manager, workspace_id=team.workspace.pk)
    doc_access = document_access(
        user=manager, workspace_id=team.workspace.pk, document_id=seeded.document.pk
    )
    client = bearer(manager)
    for i in range(6):
        add_member(team.workspace, UserFactory(), "viewer")
        make_workspace(manager=manager, name=f"Committee {i}")
        client.post(ws_url(team.workspace, "/folders"), {"name": f"Folder {i}"}, "application/json")
        client.post(
            ws_url(team.workspace, "/invitations"),
            {"email": f"guest{i}@example.org", "role": "viewer"},
            "application/json",
        )
        upload_via_api(client, team.workspace, "minutes.txt", f"v{i + 3}".encode())
        upload_via_api(client, team.workspace, f"paper {i}.txt", f"paper {i}".encode())
        comment_create(actor=manager, doc_access=doc_access, body=f"Point {i}")
        token_create(actor=manager, name=f"script {i}", scope="read")
        Notification.objects.create(
            recipient=manager,
            kind="mention",
            workspace=team.workspace,
            target_url="/",
            summary=f"Note {i}",
            dedupe_key=f"pages-{i}",
        )
    conversation = conversation_start(actor=manager, access=access, title="Agenda", body="One")
    for i in range(5):
        conversation_start(actor=manager, access=access, title=f"Topic {i}", body="Hello")
        message_post(
            actor=manager, access=access, conversation_id=conversation.pk, body=f"Reply {i}"
        )
    d = doc_url(team.workspace, seeded.document.pk)
    return {
        "workspaces": f"{API}/workspaces",
        "members": ws_url(team.workspace, "/members"),
        "invitations": ws_url(team.workspace, "/invitations"),
        "folders": ws_url(team.workspace, "/folders"),
        "documents": ws_url(team.workspace, "/documents"),
        "versions": f"{d}/versions",
        "comments": f"{d}/comments",
        "conversations": ws_url(team.workspace, "/conversations"),
        "messages": ws_url(team.workspace, f"/conversations/{conversation.pk}/messages"),
        "notifications": f"{API}/notifications",
    }


LISTS = [
    "workspaces",
    "members",
    "invitations",
    "folders",
    "documents",
    "versions",
    "comments",
    "conversations",
    "messages",
    "notifications",
]


@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize("limit", [1, 2, 5])
def test_walking_each_list_gives_what_one_large_page_gives(team, crowded, name, limit):
    client = bearer(team.manager)
    url = crowded[name]

    whole = everything(client, url)
    pages = walk(client, url, limit)

    assert len(whole) >= 6, "the list should need several pages"
    assert all(len(p) == limit for p in pages[:-1]) and 1 <= len(pages[-1]) <= limit
    assert [i for p in pages for i in p] == whole


def test_walking_the_tokens_and_the_trash_gives_every_item_once(team, crowded):
    browser = signed_in(team.manager)
    tokens = walk(browser, f"{API}/me/tokens", 2)
    assert [t for p in tokens for t in p] == everything(browser, f"{API}/me/tokens")
    assert len({t["id"] for p in tokens for t in p}) >= 5

    client = bearer(team.manager)
    for folder in everything(client, crowded["folders"]):
        client.delete(ws_url(team.workspace, f"/folders/{folder['id']}"))
    for doc in everything(client, crowded["documents"]):
        client.delete(doc_url(team.workspace, doc["id"]))
    for kind in ("folders", "documents"):
        url = ws_url(team.workspace, f"/trash/{kind}")
        whole = everything(client, url)
        assert [i for p in walk(client, url, 2) for i in p] == whole
        assert whole, kind


def test_notifications_keep_their_unread_count_on_every_page(team, crowded):
    client = bearer(team.manager)

    pages = [client.get(crowded["notifications"] + "?limit=2").json()]
    while pages[-1]["next"]:
        pages.append(client.get(pages[-1]["next"]).json())

    assert {p["unread"] for p in pages} == {6}
    assert sum(len(p["items"]) for p in pages) == 6


# --- A page's queries do not grow with the list ----------------------------------------------


def queries_for(client: Any, url: str) -> int:
    client.get(f"{API}/me")
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(captured)


def first_and_second_page(client: Any, url: str, limit: int = 2) -> tuple[int, int]:
    """The queries of the list's first two pages of ``limit`` rows. The longer list is read in
    longer pages: a query made per row would then show as a difference."""
    sep = "&" if "?" in url else "?"
    first = f"{url}{sep}limit={limit}"
    second = client.get(first).json()["next"]
    assert second is not None
    return queries_for(client, first), queries_for(client, second)


def test_a_document_page_takes_the_same_queries_however_long_the_list(team):
    editor = bearer(team.editor)
    url = ws_url(team.workspace, "/documents")
    add_documents(editor, team.workspace, *(f"paper-{i}.txt" for i in range(3)))
    few = first_and_second_page(editor, url)

    add_documents(editor, team.workspace, *(f"paper-{i}.txt" for i in range(3, 12)))
    many = first_and_second_page(editor, url, limit=5)

    assert many == few


def test_member_and_conversation_pages_take_the_same_queries_however_long_the_lists(team):
    from commonroom.accounts.tests.factories import UserFactory
    from commonroom.conversations.services import conversation_start
    from commonroom.workspaces.selectors import workspace_access
    from commonroom.workspaces.tests.factories import add_member

    client = bearer(team.manager)
    members, talk = ws_url(team.workspace, "/members"), ws_url(team.workspace, "/conversations")
    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    for i in range(3):
        conversation_start(actor=team.manager, access=access, title=f"T{i}", body="Hello")
    few = first_and_second_page(client, members), first_and_second_page(client, talk)

    for i in range(8):
        add_member(team.workspace, UserFactory(), "viewer")
        conversation_start(actor=team.manager, access=access, title=f"U{i}", body="Hello")
    many = first_and_second_page(client, members, 5), first_and_second_page(client, talk, 5)

    assert many == few
