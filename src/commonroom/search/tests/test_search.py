"""Search on whichever database the suite runs on (SQLite FTS5 or PostgreSQL): the same tests on
both. Ranking, prefixes, escaping, filters, what leaves the index, permissions, hostile queries,
the page and the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.postgres.search import SearchVector
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from commonroom.accounts.services import token_create
from commonroom.accounts.tests.factories import UserFactory
from commonroom.comments import services as comments
from commonroom.conversations import services as conversations
from commonroom.documents import services as documents
from commonroom.documents.tests.factories import (
    access_for,
    doc_access_for,
    make_folder,
    new_version,
    upload,
)
from commonroom.previews.models import Preview, PreviewStatus, WorkspacePreview
from commonroom.search.backends import CANDIDATES
from commonroom.search.models import SearchEntry
from commonroom.search.selectors import MAX_LIMIT, search
from commonroom.search.services import preview_made
from commonroom.workspaces.models import Membership
from commonroom.workspaces.tests.factories import add_member, make_workspace

pytestmark = pytest.mark.django_db


def found(user, q, **kwargs):
    return search(user=user, q=q, **kwargs).hits


def titles(user, q, **kwargs):
    return [h.title for h in found(user, q, **kwargs)]


def with_words(document, text: str) -> None:
    """Give the document's latest file a ready preview holding ``text``, as the previews app
    does, and tell search."""
    document.refresh_from_db()
    sha = document.versions.get(number=document.current_version_number).blob_id
    Preview.objects.update_or_create(
        blob_id=sha, defaults={"status": PreviewStatus.READY, "text": text}
    )
    WorkspacePreview.objects.update_or_create(
        workspace_id=document.workspace_id, blob_id=sha, defaults={"made_at": timezone.now()}
    )
    preview_made(sha)


def comment(user, doc, body):
    return comments.comment_create(actor=user, doc_access=doc_access_for(user, doc), body=body)


def topic(user, ws, title, body):
    return conversations.conversation_start(
        actor=user, access=access_for(user, ws), title=title, body=body
    )


# --- Ranking, prefixes, highlighting --------------------------------------------------------


def test_a_title_match_ranks_above_a_body_match(team):
    body_only = upload(team.editor, team.workspace, "notes.txt", b"a").document
    with_words(body_only, "The discharge lounge opens at eight. " + "Other words. " * 20)
    titled = upload(team.editor, team.workspace, "Discharge plan.txt", b"b").document
    hits = found(team.viewer, "discharge")
    assert [h.object_id for h in hits[:2]] == [str(titled.pk), str(body_only.pk)]
    assert hits[0].title_html == "<mark>Discharge</mark> plan.txt"
    assert "<mark>discharge</mark> lounge" in hits[1].snippet_html


def test_words_are_found_as_they_are_typed(team):
    doc = upload(team.editor, team.workspace, "Physiotherapy rota.xlsx", b"a").document
    for partial in ("p", "ph", "physio", "PHYSIOTHERAPY", "rota physio", "xlsx"):
        assert [h.object_id for h in found(team.viewer, partial)] == [str(doc.pk)], partial
    assert found(team.viewer, "physiotherapyx") == []
    # Every word must match: one that matches nothing finds nothing.
    assert found(team.viewer, "physio budget") == []


def test_snippets_escape_everything_but_the_marks(team):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"a").document
    comment(team.commenter, doc, 'Budget <script>alert("x")</script> & <b>bold</b> budget')
    hits = found(team.viewer, "budget", kind="comment")
    assert len(hits) == 1
    snippet = str(hits[0].snippet_html)
    assert "<script>" not in snippet and "<b>" not in snippet
    assert "&lt;script&gt;" in snippet and "&amp;" in snippet
    without_marks = snippet.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in without_marks
    assert snippet.count("<mark>") == 2
    assert hits[0].title == "Comment on minutes.txt"
    assert hits[0].url.endswith(f"#comment-{hits[0].object_id}")


def test_document_text_comes_from_the_latest_version(team):
    doc = upload(team.editor, team.workspace, "policy.txt", b"v1").document
    with_words(doc, "Old wording about tonsillectomy.")
    assert len(found(team.viewer, "tonsillectomy")) == 1
    new_version(team.editor, doc, b"v2")
    assert found(team.viewer, "tonsillectomy") == []
    with_words(doc, "New wording about appendectomy.")
    assert len(found(team.viewer, "appendectomy")) == 1


# --- Filters --------------------------------------------------------------------------------


def test_filters_by_workspace_type_person_and_date(team):
    other = make_workspace(manager=team.manager, name="Audit committee")
    add_member(other, team.viewer, "viewer")
    a = upload(team.editor, team.workspace, "Sepsis audit.txt", b"a").document
    b = upload(team.manager, other, "Sepsis pathway.txt", b"b").document
    comment(team.commenter, a, "Sepsis numbers are up.")
    topic(team.manager, other, "Sepsis week", "Posters for sepsis week?")
    viewer = team.viewer
    assert len(found(viewer, "sepsis")) == 5
    assert {h.workspace_name for h in found(viewer, "sepsis", workspace=other.pk)} == {
        "Audit committee"
    }
    assert sorted(h.object_id for h in found(viewer, "sepsis", kind="document")) == sorted(
        [str(a.pk), str(b.pk)]
    )
    assert {h.kind for h in found(viewer, "sepsis", kind="conversation")} == {
        "conversation",
        "message",
    }
    assert [h.kind for h in found(viewer, "sepsis", kind="message")] == ["message"]
    assert [h.kind for h in found(viewer, "sepsis", kind="comment")] == ["comment"]
    by_commenter = found(viewer, "sepsis", person=team.commenter.pk)
    assert [h.author_name for h in by_commenter] == [team.commenter.display_name]
    now = timezone.now()
    assert len(found(viewer, "sepsis", since=now - timedelta(hours=1))) == 5
    assert found(viewer, "sepsis", since=now + timedelta(hours=1)) == []
    assert found(viewer, "sepsis", until=now - timedelta(hours=1)) == []


# --- What leaves the index ------------------------------------------------------------------


def test_trashed_documents_and_their_comments_disappear_and_come_back(team):
    doc = upload(team.editor, team.workspace, "Rota.txt", b"a").document
    comment(team.commenter, doc, "Rota for Christmas?")
    assert len(found(team.viewer, "rota")) == 2
    documents.document_delete(actor=team.manager, doc_access=doc_access_for(team.manager, doc))
    assert found(team.viewer, "rota") == []
    assert found(team.manager, "rota") == []
    documents.document_restore(
        actor=team.manager, access=access_for(team.manager, team.workspace), document=doc
    )
    assert len(found(team.viewer, "rota")) == 2
    documents.document_delete(actor=team.manager, doc_access=doc_access_for(team.manager, doc))
    documents.document_purge(
        actor=team.manager, access=access_for(team.manager, team.workspace), document=doc
    )
    assert not SearchEntry.objects.filter(document_id=doc.pk).exists()


def test_a_trashed_folder_takes_its_documents_out_of_search(team):
    access = access_for(team.manager, team.workspace)
    folder = make_folder(team.editor, team.workspace, "Board")
    inner = make_folder(team.editor, team.workspace, "Papers", parent=folder)
    kept = upload(team.editor, team.workspace, "Quarterly finance.txt", b"a", folder=inner)
    binned = upload(team.editor, team.workspace, "Old finance.txt", b"b", folder=folder)
    documents.document_delete(
        actor=team.manager, doc_access=doc_access_for(team.manager, binned.document)
    )
    assert titles(team.viewer, "finance") == ["Quarterly finance.txt"]
    documents.folder_delete(actor=team.manager, access=access, folder=folder)
    assert found(team.viewer, "finance") == []
    folder.refresh_from_db()
    documents.folder_restore(actor=team.manager, access=access, folder=folder)
    # Back with its folder; the one trashed on its own before stays in the trash and out.
    assert [h.object_id for h in found(team.viewer, "finance")] == [str(kept.document_id)]


def test_deleted_comments_and_messages_disappear(team):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"a").document
    c = comment(team.commenter, doc, "Ventilator count is wrong.")
    conversation = topic(team.manager, team.workspace, "Beds", "Ventilator loan from ward 4")
    assert len(found(team.viewer, "ventilator")) == 2
    comments.comment_delete(
        actor=team.commenter, doc_access=doc_access_for(team.commenter, doc), comment_id=c.pk
    )
    message = conversation.first_message
    assert message is not None
    conversations.message_delete(
        actor=team.manager,
        access=access_for(team.manager, team.workspace),
        conversation_id=conversation.pk,
        message_id=message.pk,
    )
    assert found(team.viewer, "ventilator") == []


def test_edits_and_renames_are_reindexed(team):
    doc = upload(team.editor, team.workspace, "draft.txt", b"a").document
    c = comment(team.commenter, doc, "Check the haematology figures.")
    conversation = topic(team.manager, team.workspace, "Clinic", "Move the clinic to Tuesday")
    comments.comment_edit(
        actor=team.commenter,
        doc_access=doc_access_for(team.commenter, doc),
        comment_id=c.pk,
        body="Check the radiology figures.",
    )
    message = conversation.first_message
    assert message is not None
    conversations.message_edit(
        actor=team.manager,
        access=access_for(team.manager, team.workspace),
        conversation_id=conversation.pk,
        message_id=message.pk,
        body="Move the clinic to Thursday",
    )
    documents.document_rename(
        actor=team.editor, doc_access=doc_access_for(team.editor, doc), name="Final report.txt"
    )
    assert found(team.viewer, "haematology") == []
    assert len(found(team.viewer, "radiology")) == 1
    assert found(team.viewer, "tuesday") == []
    assert len(found(team.viewer, "thursday")) == 1
    assert found(team.viewer, "draft") == []
    assert titles(team.viewer, "final") == ["Final report.txt"]
    # Renaming the document renames the comment's result too (read when searching).
    assert titles(team.viewer, "radiology") == ["Comment on Final report.txt"]


def test_reindex_command_rebuilds_the_same_index(team):
    doc = upload(team.editor, team.workspace, "Cardiology.txt", b"a").document
    comment(team.commenter, doc, "Cardiology clinic notes")
    topic(team.manager, team.workspace, "Cardiology", "Cardiology rota")
    SearchEntry.objects.all().delete()
    assert found(team.viewer, "cardiology") == []
    call_command("search_reindex", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert len(found(team.viewer, "cardiology")) == 4


# --- Permissions ----------------------------------------------------------------------------


def test_a_non_member_never_gets_a_hit_or_a_snippet(team):
    doc = upload(team.editor, team.workspace, "Safeguarding case.txt", b"a").document
    with_words(doc, "Safeguarding referral for the patient in bay 3.")
    comment(team.commenter, doc, "Safeguarding lead informed.")
    topic(team.manager, team.workspace, "Safeguarding", "Safeguarding meeting at 2")
    outsider_ws = make_workspace(manager=team.outsider, name="Elsewhere")
    assert len(found(team.viewer, "safeguarding")) == 4
    for kwargs in ({}, {"workspace": team.workspace.pk}, {"kind": "comment"}, {"limit": 100}):
        results = search(user=team.outsider, q="safeguarding", **kwargs)
        assert results.hits == [] and results.total_estimate == 0
    assert search(user=team.outsider, q="safe", workspace=outsider_ws.pk).hits == []
    # Through the page and the API too: no result, no word of the snippet.
    client = Client()
    client.force_login(team.outsider)
    page = client.get("/search/", {"q": "safeguarding"})
    assert page.status_code == 200
    assert b"bay 3" not in page.content and b"Safeguarding case" not in page.content
    api = bearer(team.outsider).get("/api/v1/search", {"q": "safeguarding"})
    assert api.status_code == 200 and api.json()["items"] == []
    assert (
        bearer(team.outsider)
        .get("/api/v1/search", {"q": "safeguarding", "workspace": str(team.workspace.pk)})
        .json()["items"]
        == []
    )


def test_a_removed_member_stops_getting_hits_at_once(team):
    upload(team.editor, team.workspace, "Incident report.txt", b"a")
    assert len(found(team.viewer, "incident")) == 1
    Membership.objects.filter(workspace=team.workspace, user=team.viewer).delete()
    assert found(team.viewer, "incident") == []


def test_anonymous_and_signed_out_find_nothing(team):
    from django.contrib.auth.models import AnonymousUser

    upload(team.editor, team.workspace, "Incident report.txt", b"a")
    assert search(user=AnonymousUser(), q="incident").hits == []
    assert Client().get("/search/", {"q": "incident"}).status_code == 302
    assert Client().get("/api/v1/search", {"q": "incident"}).status_code == 401


# --- Hostile queries ------------------------------------------------------------------------

HOSTILE = [
    '"',
    '""',
    "'",
    "NEAR",
    "NEAR(a b)",
    "a NEAR/2 b",
    "*",
    "a*",
    "OR",
    "a OR b",
    "NOT a",
    "AND",
    "(",
    "((a) OR (b",
    "title:a",
    "{title body}: a",
    "^a",
    "a & b | !c <-> d",
    "a:*",
    "\x00",
    "budget\x00report",
    "x" * 10_000,
    "budget " * 5_000,
    "\ue000budget\ue001",
    "-",
    "%",
    "_",
    "\\",
    "😀 budget",
]


@pytest.mark.parametrize("q", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_do_not_error(team, q):
    upload(team.editor, team.workspace, "Budget report.txt", b"a")
    results = search(user=team.viewer, q=q)
    for hit in results.hits:
        assert "\ue000" not in hit.snippet_html and "\ue000" not in hit.title_html


def test_operators_are_read_as_words(team):
    upload(team.editor, team.workspace, "Budget report.txt", b"a")
    assert titles(team.viewer, '"budget" OR nothingmatches') == []
    assert titles(team.viewer, "budget* (report)") == ["Budget report.txt"]
    assert titles(team.viewer, "") == [] and search(user=team.viewer, q="  * ").words == []


# --- Page and API ---------------------------------------------------------------------------


def bearer(user, scope: str = "read") -> Client:
    secret = token_create(actor=user, name="search tests", scope=scope).secret
    return Client(headers={"Authorization": f"Bearer {secret}"})


def test_the_page_shows_results_the_box_and_a_hint(team):
    doc = upload(team.editor, team.workspace, "Handover <notes>.txt", b"a").document
    client = Client()
    client.force_login(team.viewer)
    empty = client.get("/search/")
    assert empty.status_code == 200
    assert b'hx-trigger="input changed delay:250ms, search"' in empty.content
    assert b"Type a word" in empty.content
    # One box on this page: the header's is not repeated above the page's own.
    assert b'id="header-search"' not in empty.content
    page = client.get("/search/", {"q": "hand"})
    assert b"<mark>Handover</mark> &lt;notes&gt;.txt" in page.content
    assert f"/d/{doc.pk}/".encode() in page.content
    fragment = client.get("/search/", {"q": "hand"}, headers={"HX-Request": "true"})
    assert b"<html" not in fragment.content and b"<mark>Handover</mark>" in fragment.content
    bad = client.get("/search/", {"q": "hand", "since": "yesterday"})
    assert bad.status_code == 200 and b"YYYY-MM-DD" in bad.content


def test_the_headers_box_gives_quick_results_as_you_type(team):
    for n in range(7):
        upload(team.editor, team.workspace, f"Handover {n} <b>.txt", b"a")
    hidden = upload(team.outsider, make_workspace(manager=team.outsider), "Handover x.txt", b"a")
    client = Client()
    client.force_login(team.viewer)
    home = client.get("/")
    assert b'id="header-search"' in home.content and b'hx-vals=\'{"suggest": "1"}\'' in home.content
    with CaptureQueriesContext(connection) as asked:
        quick = client.get(
            "/search/", {"q": "hand", "suggest": "1"}, headers={"HX-Request": "true"}
        )
    body = quick.content.decode()
    # Asked at every keystroke, and it shows no total: the matches are not counted.
    assert not [x for x in asked.captured_queries if "SELECT COUNT(*) FROM (SELECT 1" in x["sql"]]
    assert quick.status_code == 200 and "<html" not in body
    assert body.count('class="cr-suggest__link"') == 5  # the first few, then a way to all
    assert "&lt;b&gt;.txt" in body and "<b>" not in body  # names escaped, marks kept
    assert "<mark>Handover</mark>" in body
    assert 'href="/search/?q=hand">All results for <strong>hand</strong>' in body
    assert f"/d/{hidden.document_id}/" not in body
    assert "5 quick results" in body
    nothing = client.get("/search/", {"q": "zzqx", "suggest": "1"}, headers={"HX-Request": "true"})
    assert "Nothing found for <strong>zzqx</strong>" in nothing.content.decode()
    empty = client.get("/search/", {"q": "", "suggest": "1"}, headers={"HX-Request": "true"})
    assert empty.content.strip() == b""
    # Without htmx (a link followed, a bookmark) it is the whole page.
    full = client.get("/search/", {"q": "hand", "suggest": "1"})
    assert b"<html" in full.content and b"cr-suggest__link" not in full.content
    # An outsider's quick results hold nothing of the workspace.
    client.force_login(team.outsider)
    theirs = client.get("/search/", {"q": "hand", "suggest": "1"}, headers={"HX-Request": "true"})
    assert theirs.content.decode().count('class="cr-suggest__link"') == 1
    assert f"/d/{hidden.document_id}/".encode() in theirs.content


def test_nothing_found_with_filters_says_so(team):
    upload(team.editor, team.workspace, "Handover.txt", b"a")
    client = Client()
    client.force_login(team.viewer)
    page = client.get("/search/", {"q": "handover", "kind": "message"}).content.decode()
    assert "Nothing found for <strong>handover</strong> with these filters." in page
    assert 'href="/search/?q=handover">Search everywhere</a>' in page
    plain = client.get("/search/", {"q": "zzqx"}).content.decode()
    assert "Try fewer words or the start of a word." in plain and "these filters" not in plain


def test_the_page_paginates_twenty_at_a_time(team):
    for i in range(23):
        upload(team.editor, team.workspace, f"Clinic letter {i}.txt", str(i).encode())
    client = Client()
    client.force_login(team.viewer)
    first = client.get("/search/", {"q": "clinic"})
    assert first.content.count(b'class="cr-search-hit"') == 20
    assert b'data-search-count="23"' in first.content
    assert b"page=2" in first.content
    second = client.get("/search/", {"q": "clinic", "page": "2"})
    assert second.content.count(b'class="cr-search-hit"') == 3


def test_the_api_searches_with_the_same_filters(team):
    doc = upload(team.editor, team.workspace, "Pharmacy stock.txt", b"a").document
    comment(team.commenter, doc, "Pharmacy <em>order</em> late")
    client = bearer(team.viewer)
    body = client.get("/api/v1/search", {"q": "pharm"}).json()
    assert body["total_estimate"] == 2 and body["words"] == ["pharm"]
    kinds = {item["kind"] for item in body["items"]}
    assert kinds == {"document", "comment"}
    only = client.get("/api/v1/search", {"q": "pharm", "kind": "comment"}).json()["items"]
    assert len(only) == 1
    assert only[0]["snippet_html"] == "<mark>Pharmacy</mark> &lt;em&gt;order&lt;/em&gt; late"
    assert only[0]["author_id"] == team.commenter.pk
    by = client.get("/api/v1/search", {"q": "pharm", "person": team.editor.pk}).json()["items"]
    assert [i["kind"] for i in by] == ["document"]
    ranked = [item["id"] for item in body["items"]]
    paged = client.get("/api/v1/search", {"q": "pharm", "limit": "1", "offset": "1"}).json()
    assert [item["id"] for item in paged["items"]] == ranked[1:2]
    # Out of bounds, limit and offset are held to them (1 to 100, from 0), not refused.
    low = client.get("/api/v1/search", {"q": "pharm", "limit": "0", "offset": "-3"}).json()
    assert [item["id"] for item in low["items"]] == ranked[:1]
    high = client.get("/api/v1/search", {"q": "pharm", "limit": "100000"}).json()
    assert [item["id"] for item in high["items"]] == ranked
    # Malformed ids and types are refused by the schema, naming the field; dates by the
    # search's own check (a documented 400).
    for bad in ({"kind": "spreadsheet"}, {"workspace": "nope"}):
        answer = client.get("/api/v1/search", {"q": "pharm", **bad})
        assert answer.status_code == 422, bad
        assert next(iter(bad)) in str(answer.json()["detail"])
    for bad in ({"since": "1 May"}, {"until": "2024-13-45"}):
        answer = client.get("/api/v1/search", {"q": "pharm", **bad})
        assert answer.status_code == 400 and answer.json()["code"] == "invalid_search"


def test_people_outside_my_workspaces_are_not_offered_as_a_filter(team):
    stranger = UserFactory(email="stranger@example.org", full_name="Zed Stranger")
    make_workspace(manager=stranger, name="Theirs")
    client = Client()
    client.force_login(team.viewer)
    page = client.get("/search/")
    assert b"Zed Stranger" not in page.content and b"Theirs" not in page.content
    assert team.commenter.display_name.encode() in page.content


def test_a_document_hit_in_its_text_leads_to_the_word(team):
    doc = upload(team.editor, team.workspace, "Quality report.txt", b"a").document
    with_words(doc, "Falls fell. The narwhal-audit results & more.")
    (hit,) = found(team.viewer, "narwhal")
    assert hit.url == f"/w/{team.workspace.pk}/d/{doc.pk}/#:~:text=narwhal"
    (by_name,) = found(team.viewer, "quality")
    assert by_name.url == f"/w/{team.workspace.pk}/d/{doc.pk}/"  # only the name matched


def test_a_page_of_results_costs_the_same_queries_however_many_hits(team):
    """Each hit names its workspace, author, and the document or topic it is in: read with the
    hits in one query, not once per hit, and without the rows' bodies (up to 200 KB each)."""

    def queries_for(q: str, expected_hits: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            shown = [
                (h.title, h.workspace_name, h.author_name, h.url) for h in found(team.viewer, q)
            ]
        assert len(shown) == expected_hits
        display = [x["sql"] for x in ctx.captured_queries if "workspaces_workspace" in x["sql"]]
        assert len(display) == 1
        assert '"search_searchentry"."body"' not in display[0]
        return len(ctx.captured_queries)

    doc = upload(team.editor, team.workspace, "Oncology.txt", b"a").document
    comment(team.commenter, doc, "Oncology figures")
    topic(team.manager, team.workspace, "Oncology clinic", "Oncology rota")
    few = queries_for("oncology", 4)
    for n in range(5):
        d = upload(team.editor, team.workspace, f"Oncology {n}.txt", str(n).encode()).document
        comment(team.commenter, d, f"Oncology note {n}")
        topic(team.manager, team.workspace, f"Oncology {n}", f"Oncology message {n}")
    assert queries_for("oncology", 20) == few  # a full page


def test_a_mention_is_found_and_quoted_by_name_never_by_address(team):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"a").document
    comment(team.commenter, doc, "@priya@example.org please check the ventilator count")
    topic(team.manager, team.workspace, "Beds", "Ventilator loan: @sam@example.org to confirm")
    hits = found(team.viewer, "ventilator")
    assert len(hits) == 2
    snippets = " ".join(str(h.snippet_html) for h in hits)
    assert "@Priya Shah" in snippets
    assert "example.org" not in snippets
    assert len(found(team.viewer, "Priya ventilator")) == 1


# --- Past the candidates (more matches than the engine ranks) --------------------------------


def many_messages(team, word: str, n: int) -> list[str]:
    """``n`` entries (messages in one conversation, written straight into the index: the
    services would take minutes for a thousand) holding ``word``, newer than everything before;
    their object ids."""
    conversation = topic(team.manager, team.workspace, "Bed state", "Where are we today?")
    ids = [f"bulk-{word}-{i}" for i in range(n)]
    SearchEntry.objects.bulk_create(
        SearchEntry(
            kind="message",
            object_id=object_id,
            workspace_id=team.workspace.pk,
            conversation_id=conversation.pk,
            body=f"The {word} figures for ward {i} are in the shared folder.",
            author_id=team.manager.pk,
        )
        for i, object_id in enumerate(ids)
    )
    if connection.vendor == "postgresql":
        # As services._vector writes it (these bodies are plain words).
        SearchEntry.objects.filter(object_id__in=ids).update(
            vector=SearchVector("title", weight="A", config="simple")
            + SearchVector("body", weight="B", config="simple")
        )
    return ids


def test_an_old_title_match_comes_first_past_a_thousand_matches(team):
    """The newest 1,001 matches are ranked, and with them the newest whose title holds every
    word: a document found by its name however many newer things mention its words."""
    plan = upload(team.editor, team.workspace, "Capacity plan.txt", b"a").document
    many_messages(team, "capacity", CANDIDATES + 100)
    results = search(user=team.viewer, q="capacity")
    assert results.more_than
    assert results.hits[0].object_id == str(plan.pk)
    assert results.hits[0].title_html == "<mark>Capacity</mark> plan.txt"
    # Only a member's search reaches them.
    assert search(user=team.outsider, q="capacity").hits == []


def test_pages_past_the_candidates_reach_every_match_once(team):
    plan = upload(team.editor, team.workspace, "Capacity plan.txt", b"a").document
    bulk = many_messages(team, "capacity", CANDIDATES + 150)
    seen: list[str] = []
    for offset in range(0, CANDIDATES + 300, MAX_LIMIT):
        page = found(team.viewer, "capacity", limit=MAX_LIMIT, offset=offset)
        assert len(page) == max(0, min(MAX_LIMIT, len(bulk) + 1 - offset))
        seen += [h.object_id for h in page]
    assert len(seen) == len(set(seen))
    assert set(seen) == {str(plan.pk), *bulk}
    # After the ranked candidates, the older matches follow newest first.
    tail = seen[CANDIDATES + 1 :]
    assert tail == sorted(tail, key=lambda object_id: bulk.index(object_id), reverse=True)


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_the_title_index_follows_every_write(team):
    """SQLite's title-only index is kept by triggers: FTS5's own check compares it with the
    entries after names are written, changed and removed."""
    doc = upload(team.editor, team.workspace, "draft.txt", b"a").document
    other = upload(team.editor, team.workspace, "Rota.txt", b"b").document
    documents.document_rename(
        actor=team.editor, doc_access=doc_access_for(team.editor, doc), name="Final report.txt"
    )
    documents.document_delete(actor=team.manager, doc_access=doc_access_for(team.manager, other))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO search_title_fts(search_title_fts, rank) VALUES ('integrity-check', 1)"
        )
        cursor.execute("SELECT rowid FROM search_title_fts WHERE search_title_fts MATCH 'final'")
        assert [row[0] for row in cursor.fetchall()] == list(
            SearchEntry.objects.filter(object_id=str(doc.pk)).values_list("pk", flat=True)
        )
        cursor.execute("SELECT COUNT(*) FROM search_title_fts WHERE search_title_fts MATCH 'rota'")
        assert cursor.fetchone()[0] == 0


def test_a_new_version_puts_back_a_live_comment_missing_from_the_index(team):
    """Every live comment on a document has its entry once a version is added, a deleted one
    none: a comment whose entry went missing is indexed again, as it reads now."""
    doc = upload(team.editor, team.workspace, "Rota.txt", b"a").document
    kept = comment(team.commenter, doc, "Rota for Christmas?")
    gone = comment(team.commenter, doc, "Rota for Easter?")
    comments.comment_delete(
        actor=team.commenter, doc_access=doc_access_for(team.commenter, doc), comment_id=gone.pk
    )
    SearchEntry.objects.filter(kind="comment").delete()
    new_version(team.editor, doc, b"v2")
    assert list(SearchEntry.objects.filter(kind="comment").values_list("object_id", flat=True)) == [
        str(kept.pk)
    ]
    assert [h.object_id for h in found(team.viewer, "christmas")] == [str(kept.pk)]
