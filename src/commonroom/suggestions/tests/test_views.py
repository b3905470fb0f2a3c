"""Suggestions on the document page, as each kind of person sees and uses them, with and
without the page's script (``HX-Request: true``): the section and the redline in the preview,
suggesting (a selected passage or a whole paragraph), rejecting, accepting one or a chosen set,
and what each refuses (roles, non-members, forged ids, a missing CSRF token, bad input)."""

from __future__ import annotations

import io
import uuid
from typing import Any

import docx
import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from commonroom.documents.tests.factories import new_version
from commonroom.live.models import Event
from commonroom.suggestions.models import State, Suggestion
from commonroom.suggestions.tests.factories import (
    docx_bytes,
    suggest,
    version_bytes,
    where,
    with_preview,
)
from commonroom.workspaces.tests.factories import make_workspace

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}
TEXT = "The board met on Tuesday."


@pytest.fixture
def doc(team: Any) -> Any:
    return with_preview(
        team.manager, team.workspace, "minutes.docx", docx_bytes(TEXT, "Apologies from Ann.")
    )


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(doc: Any) -> str:
    return reverse("document_detail", args=[doc.workspace_id, doc.pk])


def url(name: str, doc: Any, suggestion: Any = None) -> str:
    args = [doc.workspace_id, doc.pk] + ([suggestion.pk] if suggestion is not None else [])
    return reverse(name, args=args)


def form(doc: Any, passage: str = "Tuesday", **extra: Any) -> dict[str, Any]:
    place = where(doc, passage)
    data = {
        "on_version": place["version_number"],
        "block": place["block_id"],
        "start": place["start"],
        "end": place["end"],
        "quote": passage,
        "kind": "replace",
        "text": "Wednesday",
    }
    data.update(extra)
    return data


def kinds(doc: Any) -> list[str]:
    return list(Event.objects.filter(kind__startswith="suggestion.").values_list("kind", flat=True))


# --- The page --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "commenter", "editor", "manager"])
def test_each_role_sees_the_suggestions_and_only_what_it_may_do(team, doc, role) -> None:
    made = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday", reason="Moved.")
    text = client_for(team.by_role[role]).get(page(doc)).content.decode()
    assert f'data-live-list="suggestions:{doc.pk}"' in text
    # The redline in the preview and in the list: struck and inserted words, named in words.
    assert f'data-redline-for="{made.pk}"' in text
    hidden = '<span class="nhsuk-u-visually-hidden">'
    assert f'<del class="cr-del">{hidden}Delete: </span>Tuesday</del>' in text
    assert f'<ins class="cr-ins">{hidden}Insert: </span>Wednesday</ins>' in text
    assert "Reason: Moved." in text and "Open, on version 1." in text
    assert (url("suggestion_create", doc) in text) is (role != "viewer")
    decides = role in ("editor", "manager")
    assert (url("suggestion_reject", doc, made) in text) is decides
    assert (url("suggestions_accept", doc) in text) is decides
    # Without a script, the form chooses a whole paragraph from a list of them.
    if role != "viewer":
        assert '<option value="p-1">The board met on Tuesday.</option>' in text


def test_a_non_member_gets_404_everywhere(team, doc) -> None:
    made = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    outsider = client_for(make_workspace().created_by)
    assert outsider.get(url("suggestion_item", doc, made)).status_code == 404
    assert outsider.post(url("suggestion_create", doc), form(doc), headers=HX).status_code == 404
    assert outsider.post(url("suggestion_reject", doc, made)).status_code == 404
    answer = outsider.post(url("suggestions_accept", doc), {"suggestion": made.pk})
    assert answer.status_code == 404
    assert Suggestion.objects.get().state == State.OPEN


# --- Suggesting ------------------------------------------------------------------------------


def test_a_commenter_suggests_with_the_script_and_every_screen_is_told(team, doc) -> None:
    answer = client_for(team.commenter).post(
        url("suggestion_create", doc), form(doc, reason="We moved it."), headers=HX
    )
    assert answer.status_code == 201
    made = Suggestion.objects.get()
    assert (made.quote, made.new_text, made.author) == ("Tuesday", "Wednesday", team.commenter)
    body = answer.content.decode().strip()
    assert body.startswith('<article class="cr-suggestion cr-suggestion--open"')
    assert f'id="suggestion-{made.pk}"' in body
    assert "Reason: We moved it." in body
    assert kinds(doc) == ["suggestion.created"]
    event = Event.objects.get(kind="suggestion.created")
    assert event.data == {
        "document": str(doc.pk),
        "suggestion": str(made.pk),
        "thread": str(made.comment_id),
        "version": 1,
        "actor_id": team.commenter.pk,
    }


def test_without_the_script_a_whole_paragraph_is_chosen_from_the_list(team, doc) -> None:
    data = {"on_version": "1", "paragraph": "p-2", "kind": "delete", "text": "ignored"}
    answer = client_for(team.commenter).post(url("suggestion_create", doc), data)
    made = Suggestion.objects.get()
    assert answer.status_code == 302
    assert answer["Location"].endswith(f"#suggestion-{made.pk}")
    assert made.kind == "delete" and made.quote == "Apologies from Ann." and made.new_text == ""
    assert [str(m) for m in get_messages(answer.wsgi_request)] == ["Suggestion made."]


@pytest.mark.parametrize(
    ("extra", "status", "sentence"),
    [
        ({"text": "  "}, 400, "Write what the passage should say, or suggest deleting it instead."),
        ({"kind": "rewrite"}, 400, "Choose what the suggestion does"),
        ({"quote": "Monday"}, 400, "That passage is not in version 1 as its preview shows it"),
        ({"block": "p-99"}, 400, "That passage is not in version 1"),
        ({"start": "x"}, 400, ""),
        ({"on_version": "7"}, 404, ""),
    ],
)
def test_bad_input_is_refused_with_a_sentence(team, doc, extra, status, sentence) -> None:
    client = client_for(team.commenter)
    answer = client.post(url("suggestion_create", doc), form(doc, **extra), headers=HX)
    assert answer.status_code == status
    assert answer.content.decode().startswith(sentence)
    assert answer["Content-Type"].startswith("text/plain")
    if status != 404:
        # Without the script: back to the page, with the sentence as a message.
        plain = client.post(url("suggestion_create", doc), form(doc, **extra))
        assert plain.status_code == 302
        shown = [str(m) for m in get_messages(plain.wsgi_request)]
        assert len(shown) == 1 and shown[0].startswith(sentence)
    assert not Suggestion.objects.exists()


def test_a_viewer_cannot_suggest(team, doc) -> None:
    answer = client_for(team.viewer).post(url("suggestion_create", doc), form(doc), headers=HX)
    assert answer.status_code == 403
    assert answer.content.decode() == "You can read this document but not suggest changes to it."
    assert not Suggestion.objects.exists()


def test_posts_need_the_csrf_token(team, doc) -> None:
    made = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    client = Client(enforce_csrf_checks=True)
    client.force_login(team.manager)
    assert client.post(url("suggestion_create", doc), form(doc)).status_code == 403
    assert client.post(url("suggestion_reject", doc, made)).status_code == 403
    assert client.post(url("suggestions_accept", doc), {"suggestion": made.pk}).status_code == 403
    assert Suggestion.objects.get().state == State.OPEN


# --- Deciding --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "commenter"])
def test_only_managers_and_editors_decide(team, doc, role) -> None:
    made = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    client = client_for(team.by_role[role])
    sentence = "Only the workspace's managers and editors can accept or reject suggestions."
    rejected = client.post(url("suggestion_reject", doc, made), headers=HX)
    assert (rejected.status_code, rejected.content.decode()) == (403, sentence)
    accepted = client.post(url("suggestions_accept", doc), {"suggestion": made.pk}, headers=HX)
    assert (accepted.status_code, accepted.content.decode()) == (403, sentence)
    assert Suggestion.objects.get().state == State.OPEN and doc.versions.count() == 1


def test_forged_ids_are_not_found(team, doc) -> None:
    other = with_preview(team.manager, team.workspace, "other.docx", docx_bytes(TEXT))
    elsewhere = suggest(team.commenter, other, "Tuesday", "replace", "Wednesday")
    client = client_for(team.manager)
    assert client.get(url("suggestion_item", doc, elsewhere)).status_code == 404
    forged = reverse("suggestion_item", args=[doc.workspace_id, doc.pk, uuid.uuid4()])
    assert client.get(forged).status_code == 404
    assert client.post(url("suggestion_reject", doc, elsewhere)).status_code == 404
    for chosen in ([elsewhere.pk], ["not-an-id"], [uuid.uuid4()]):
        answer = client.post(url("suggestions_accept", doc), {"suggestion": chosen})
        assert answer.status_code == 404
    assert Suggestion.objects.get().state == State.OPEN


def test_an_editor_rejects_with_a_reason_and_the_thread_stays(team, doc) -> None:
    made = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    answer = client_for(team.editor).post(
        url("suggestion_reject", doc, made), {"reason": "It was Tuesday."}, headers=HX
    )
    assert answer.status_code == 200
    assert "Rejected: It was Tuesday." in answer.content.decode()
    made.refresh_from_db()
    assert made.state == State.REJECTED and made.comment.thread_id is None
    assert kinds(doc) == ["suggestion.created", "suggestion.rejected"]
    # Rejected, it is no longer a redline, and no longer offers deciding.
    text = client_for(team.editor).get(page(doc)).content.decode()
    assert f'data-redline-for="{made.pk}"' not in text
    assert url("suggestion_reject", doc, made) not in text
    again = client_for(team.editor).post(url("suggestion_reject", doc, made), headers=HX)
    assert again.status_code == 409 and "already rejected" in again.content.decode()


def test_a_manager_accepts_a_chosen_set_as_one_version(team, doc) -> None:
    one = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    two = suggest(team.editor, doc, "Apologies from Ann.", "delete")
    answer = client_for(team.manager).post(
        url("suggestions_accept", doc), {"suggestion": [one.pk, two.pk]}
    )
    assert answer.status_code == 302
    assert [str(m) for m in get_messages(answer.wsgi_request)] == [
        "2 suggestions accepted: version 2 has the changes."
    ]
    latest = doc.versions.order_by("-number").first()
    assert latest.number == 2 and doc.versions.count() == 2
    paragraphs = docx.Document(io.BytesIO(version_bytes(latest))).paragraphs
    assert [p.text for p in paragraphs] == ["The board met on Wednesday.", ""]
    assert set(Suggestion.objects.values_list("state", flat=True)) == {State.ACCEPTED}
    assert sorted(kinds(doc)) == sorted(
        ["suggestion.created", "suggestion.created", "suggestion.accepted", "suggestion.accepted"]
    )
    accepted = Event.objects.filter(kind="suggestion.accepted").first()
    assert accepted is not None and accepted.data["version"] == 2


def test_an_outdated_suggestion_says_so_and_cannot_be_accepted(team, doc) -> None:
    stale = suggest(team.commenter, doc, "Tuesday", "replace", "Wednesday")
    fresh = suggest(team.commenter, doc, "Apologies from Ann.", "replace", "Apologies from Bo.")
    client = client_for(team.manager)
    client.post(url("suggestions_accept", doc), {"suggestion": fresh.pk})
    # A new version that changes the first paragraph outdates the first suggestion.
    new_version(team.manager, doc, docx_bytes("The board met on Monday.", "Apologies from Bo."))
    stale.refresh_from_db()
    assert stale.state == State.OUTDATED
    assert "suggestion.outdated" in kinds(doc)
    item = client.get(url("suggestion_item", doc, stale)).content.decode()
    assert "Outdated — the text it changes was amended in version 3." in item
    assert url("suggestions_accept", doc) not in item
    refused = client.post(url("suggestions_accept", doc), {"suggestion": stale.pk}, headers=HX)
    assert refused.status_code == 409 and "outdated" in refused.content.decode()


# --- The Comments list: a suggestion's thread shows its change and state ----------------------


def thread_card(html: str, thread_id: Any) -> str:
    """The thread's card (its <article>) in a page or fragment."""
    start = html.index(f'id="thread-{thread_id}"')
    return html[start : html.index("</article>", start)]


def test_each_suggestion_s_thread_shows_its_change_and_state_in_the_comments_list(
    team, doc
) -> None:
    from commonroom.comments.services import comment_create
    from commonroom.suggestions import services
    from commonroom.suggestions.tests.factories import accept, access, make_preview

    open_one = suggest(team.commenter, doc, "Ann", "replace", "Ann and Bo")
    rejected = suggest(team.editor, doc, "Apologies", "delete")
    accepted = suggest(team.commenter, doc, "Tuesday", "replace", "Friday")
    services.suggestion_reject(
        actor=team.manager,
        doc_access=access(team.manager, doc),
        suggestion_id=rejected.pk,
        reason="Ann <did> send them.",
    )
    version = accept(team.manager, doc, accepted)
    make_preview(version)
    outdated = suggest(team.commenter, doc, "Friday", "replace", "Monday")
    make_preview(new_version(team.editor, doc, docx_bytes("Other text.", "Apologies from Ann.")))
    plain = comment_create(
        actor=team.commenter,
        doc_access=access(team.commenter, doc),
        body="Just a comment.",
    )
    html = client_for(team.viewer).get(page(doc)).content.decode()
    cards = {s: thread_card(html, s.comment_id) for s in (open_one, rejected, accepted, outdated)}
    assert (
        '<del class="cr-del"><span class="nhsuk-u-visually-hidden">Delete: </span>Ann</del>'
        in (cards[open_one])
    )
    assert "Ann and Bo</ins>" in cards[open_one]
    assert "Open, on version 3." in cards[open_one]  # moved with its paragraph
    assert "Apologies</del>" in cards[rejected]
    assert "Rejected: Ann &lt;did&gt; send them." in cards[rejected]  # the reason, escaped
    assert "Accepted in version 2." in cards[accepted] and "Friday</ins>" in cards[accepted]
    assert "Outdated — the text it changes was amended in version 3." in cards[outdated]
    for s in (rejected, accepted):  # decided: resolved, the change still shown above the fold
        assert "Resolved by" in cards[s]
        assert cards[s].index("cr-thread-suggestion") < cards[s].index("Show the resolved thread")
    assert f'href="#suggestion-{accepted.pk}"' in cards[accepted]
    assert "cr-thread-suggestion" not in thread_card(html, plain.pk)
    # The fragment live screens fetch for one thread shows the same.
    fragment = client_for(team.viewer).get(
        reverse("comment_thread", args=[doc.workspace_id, doc.pk, rejected.comment_id])
    )
    assert "Rejected: Ann &lt;did&gt; send them." in fragment.content.decode()
