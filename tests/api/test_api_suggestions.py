"""Suggestions through the JSON API: made, listed (by state), read, accepted (one or a set, one
new version), rejected; every refusal as ``{"code", "detail"}``, unknown fields 422, a non-member
404, and each step audited."""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_support import as_user

from commonroom.audit.actions import Action
from commonroom.audit.models import AuditEvent
from commonroom.live.models import Event
from commonroom.suggestions.models import State, Suggestion
from commonroom.suggestions.tests.factories import docx_bytes, where, with_preview

pytestmark = pytest.mark.django_db


@pytest.fixture
def doc(team: Any) -> Any:
    return with_preview(
        team.manager,
        team.workspace,
        "minutes.docx",
        docx_bytes("The board met on Tuesday.", "Ten members came."),
    )


def url(doc: Any, rest: str = "") -> str:
    return f"/api/v1/workspaces/{doc.workspace_id}/documents/{doc.pk}/suggestions{rest}"


def post(user: Any, path: str, body: dict[str, Any]) -> Any:
    return as_user(user).post(path, json.dumps(body), content_type="application/json")


def body_for(
    doc: Any, passage: str, kind: str = "replace", text: str = "", **extra: Any
) -> dict[str, Any]:
    place = where(doc, passage)
    return {
        "version": place["version_number"],
        "block": place["block_id"],
        "start": place["start"],
        "end": place["end"],
        "kind": kind,
        "text": text,
        "quote": passage,
        **extra,
    }


def test_made_listed_read_and_accepted_as_one_version(team, doc) -> None:
    made = post(team.commenter, url(doc), body_for(doc, "Tuesday", text="Wednesday"))
    assert made.status_code == 201, made.content
    first = made.json()
    assert first["state"] == "open" and first["kind"] == "replace"
    assert first["quote"] == "Tuesday" and first["new_text"] == "Wednesday"
    assert first["author"]["id"] == team.commenter.pk
    assert first["version"] == first["applies_to"] == 1
    # The commenter may not decide; what the API says matches what the services do.
    assert first["abilities"] == {"accept": False, "reject": False}
    second = post(team.editor, url(doc), body_for(doc, "Ten", text="Twelve")).json()

    listed = as_user(team.editor).get(url(doc))
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json()["items"]] == [first["id"], second["id"]]
    assert all(s["abilities"] == {"accept": True, "reject": True} for s in listed.json()["items"])

    accepted = post(team.editor, url(doc, "/accept"), {"ids": [first["id"], second["id"]]})
    assert accepted.status_code == 200, accepted.content
    answer = accepted.json()
    assert answer["version"]["number"] == 2
    assert {s["state"] for s in answer["suggestions"]} == {"accepted"}
    assert {s["accepted_in"] for s in answer["suggestions"]} == {2}
    assert as_user(team.viewer).get(url(doc, "?state=open")).json()["items"] == []
    read = as_user(team.viewer).get(url(doc, f"/{first['id']}")).json()
    assert read["state_sentence"] == "Accepted in version 2."
    actions = list(
        AuditEvent.objects.filter(workspace_id=team.workspace.pk)
        .filter(action__startswith="suggestion")
        .values_list("action", flat=True)
    )
    assert actions.count(Action.SUGGESTION_CREATED) == 2
    assert actions.count(Action.SUGGESTION_ACCEPTED) == 2


def test_a_retry_with_the_same_key_returns_the_first(team, doc) -> None:
    body = body_for(doc, "Tuesday", text="Wednesday", client_key="k-1")
    first = post(team.commenter, url(doc), body)
    again = post(team.commenter, url(doc), body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Suggestion.objects.filter(document=doc).count() == 1


def test_rejected_with_a_reason_and_filtered_by_state(team, doc) -> None:
    made = post(team.commenter, url(doc), body_for(doc, "Ten", "delete")).json()
    refused = post(team.commenter, url(doc, f"/{made['id']}/reject"), {"reason": "No."})
    assert refused.status_code == 403
    assert set(refused.json()) == {"code", "detail"}
    rejected = post(team.manager, url(doc, f"/{made['id']}/reject"), {"reason": "They came."})
    assert rejected.status_code == 200
    assert rejected.json()["state"] == "rejected"
    assert rejected.json()["decision_reason"] == "They came."
    assert rejected.json()["decided_by"]["id"] == team.manager.pk
    # Open screens are told, whichever way it was rejected (here the API, not the page).
    told = Event.objects.filter(kind="suggestion.rejected").values_list("data", flat=True)
    assert [d["suggestion"] for d in told] == [made["id"]]
    assert [
        s["id"] for s in as_user(team.viewer).get(url(doc, "?state=rejected")).json()["items"]
    ] == [made["id"]]
    # Decided once: accepting it now is refused whole, with a sentence.
    late = post(team.manager, url(doc, "/accept"), {"ids": [made["id"]]})
    assert late.status_code == 409 and late.json()["detail"]
    assert doc.versions.count() == 1
    assert Suggestion.objects.get(pk=made["id"]).state == State.REJECTED
    assert AuditEvent.objects.filter(action=Action.SUGGESTION_REJECTED).count() == 1


def test_refusals_are_code_and_detail(team, doc) -> None:
    wrong_quote = post(team.editor, url(doc), body_for(doc, "Tuesday", text="x", quote="Monday"))
    assert wrong_quote.status_code == 400
    assert wrong_quote.json()["code"] == "passage_not_found"
    viewer = post(team.viewer, url(doc), body_for(doc, "Tuesday", text="x"))
    assert viewer.status_code == 403 and set(viewer.json()) == {"code", "detail"}
    unknown = post(team.editor, url(doc), {**body_for(doc, "Tuesday", text="x"), "colour": 1})
    assert unknown.status_code == 422 and unknown.json()["code"] == "invalid"
    bad_kind = post(team.editor, url(doc), body_for(doc, "Tuesday", "swap", text="x"))
    assert bad_kind.status_code == 422
    assert post(team.editor, url(doc, "/accept"), {"ids": []}).status_code == 422
    assert as_user(team.editor).get(url(doc, "?state=maybe")).status_code == 422
    assert Suggestion.objects.count() == 0


def test_a_non_member_finds_nothing(team, doc) -> None:
    from commonroom.accounts.tests.factories import UserFactory

    made = post(team.commenter, url(doc), body_for(doc, "Tuesday", text="Wednesday")).json()
    outsider = UserFactory()
    assert as_user(outsider).get(url(doc)).status_code == 404
    assert as_user(outsider).get(url(doc, f"/{made['id']}")).status_code == 404
    assert post(outsider, url(doc, "/accept"), {"ids": [made["id"]]}).status_code == 404
    assert post(outsider, url(doc, f"/{made['id']}/reject"), {}).status_code == 404
    assert post(outsider, url(doc), body_for(doc, "Ten", "delete")).status_code == 404
    assert Suggestion.objects.get(pk=made["id"]).state == State.OPEN


# --- accepting all the tracked changes of a Word version ------------------------------------


def tracked_url(doc: Any, number: Any = 1) -> str:
    return (
        f"/api/v1/workspaces/{doc.workspace_id}/documents/{doc.pk}/versions/{number}"
        "/accept-tracked-changes"
    )


@pytest.fixture
def tracked_doc(team: Any) -> Any:
    from commonroom.suggestions.tests.test_tracked_changes import tracked

    return with_preview(team.manager, team.workspace, "tracked.docx", tracked())


@pytest.mark.parametrize(
    ("role", "status"),
    [("manager", 201), ("editor", 201), ("commenter", 403), ("viewer", 403), ("non-member", 404)],
)
def test_tracked_changes_accepted_by_role(team, tracked_doc, role: str, status: int) -> None:
    answer = as_user(team.by_role[role]).post(tracked_url(tracked_doc))
    assert answer.status_code == status, answer.content
    if status != 201:
        assert set(answer.json()) == {"code", "detail"}
        assert tracked_doc.versions.count() == 1
        assert not AuditEvent.objects.filter(action=Action.TRACKED_CHANGES_ACCEPTED).exists()
        return
    made = answer.json()
    assert (made["number"], made["based_on"], made["based_on_latest"]) == (2, 1, True)
    assert made["note"] == (
        "Accepted all tracked changes of version 1 (2 insertions and 2 deletions)."
    )
    assert AuditEvent.objects.filter(action=Action.TRACKED_CHANGES_ACCEPTED).count() == 1


def test_tracked_changes_refusals_are_code_and_detail(team, tracked_doc, doc) -> None:
    editor = as_user(team.editor)
    assert editor.post(tracked_url(tracked_doc, 7)).status_code == 404
    assert editor.post(tracked_url(tracked_doc, "x")).status_code == 404
    none = editor.post(tracked_url(doc))
    assert none.status_code == 400 and none.json()["code"] == "no_tracked_changes"
    text = with_preview(team.manager, team.workspace, "notes.txt", b"Hello.\n")
    not_word = editor.post(tracked_url(text))
    assert not_word.status_code == 409 and not_word.json()["code"] == "not_word"
    assert not_word.json()["detail"].startswith("Version 1 is not a Word (.docx) file")
    assert editor.post(tracked_url(tracked_doc)).status_code == 201
    again = as_user(team.manager).post(tracked_url(tracked_doc))
    assert again.status_code == 409 and again.json()["code"] == "same_as_latest"
    assert tracked_doc.versions.count() == 2 and doc.versions.count() == 1


def test_a_word_version_with_its_suggestions_as_tracked_changes(team, doc) -> None:
    from commonroom.accounts.tests.factories import UserFactory
    from commonroom.office import wordedit

    post(team.commenter, url(doc), body_for(doc, "Tuesday", text="Wednesday"))
    for user in (team.manager, team.editor, team.commenter, team.viewer):
        got = as_user(user, "read").get(url(doc, "/tracked-changes"))
        assert got.status_code == 200, got.content
        assert got["Content-Disposition"].startswith("attachment;")
        assert (
            got["Content-Disposition"]
            == 'attachment; filename="minutes (version 1, with suggestions).docx"'
        )
        assert got["X-Content-Type-Options"] == "nosniff"
        assert (got["Commonroom-Suggestions-Left-Out"], got["Commonroom-Threads-Left-Out"]) == (
            "0",
            "0",
        )
        accepted = wordedit.accept_all_revisions(got.content)
        assert wordedit.paragraphs(accepted)[0] == "The board met on Wednesday."
    assert as_user(team.viewer).get(url(doc, "/tracked-changes?version=1")).status_code == 200
    audited = AuditEvent.objects.filter(action=Action.DOCUMENT_DOWNLOADED_TRACKED)
    assert audited.count() == 5
    # Refused: a forged version, a non-member, no credentials; nothing audited for them.
    forged = as_user(team.editor).get(url(doc, "/tracked-changes?version=7"))
    assert forged.status_code == 404 and forged.json()["code"] == "not_found"
    assert as_user(UserFactory()).get(url(doc, "/tracked-changes")).status_code == 404
    assert as_user(None).get(url(doc, "/tracked-changes")).status_code == 401
    assert audited.count() == 5


def test_a_text_version_is_not_downloaded_with_tracked_changes(team) -> None:
    notes = with_preview(team.manager, team.workspace, "notes.txt", b"The board met.\n")
    refused = as_user(team.editor).get(url(notes, "/tracked-changes"))
    assert refused.status_code == 409
    assert refused.json()["code"] == "not_word"
    assert refused.json()["detail"].startswith("Version 1 is not a Word (.docx) file")
    assert not AuditEvent.objects.filter(action=Action.DOCUMENT_DOWNLOADED_TRACKED).exists()


# --- how many tracked changes a Word version holds, and whether one may accept them ---------


def count_url(doc: Any, number: Any = 1) -> str:
    return (
        f"/api/v1/workspaces/{doc.workspace_id}/documents/{doc.pk}/versions/{number}"
        "/tracked-changes"
    )


@pytest.mark.parametrize(
    ("role", "can_accept"),
    [("manager", True), ("editor", True), ("commenter", False), ("viewer", False)],
)
def test_a_word_version_s_tracked_changes_are_counted_for_every_reader(
    team, tracked_doc, role: str, can_accept: bool
) -> None:
    got = as_user(team.by_role[role], "read").get(count_url(tracked_doc))
    assert got.status_code == 200, got.content
    assert got.json() == {"version": 1, "count": 4, "can_accept": can_accept}


def test_none_to_accept_not_counted_yet_archived_or_not_a_word_file(team, tracked_doc) -> None:
    from commonroom.documents.tests.factories import access_for, new_version
    from commonroom.workspaces.services import workspace_set_archived

    editor = as_user(team.editor, "read")
    plain = with_preview(team.manager, team.workspace, "plain.docx", docx_bytes("No changes."))
    assert editor.get(count_url(plain)).json() == {"version": 1, "count": 0, "can_accept": False}
    new_version(team.editor, tracked_doc, docx_bytes("Its preview is not made yet."))
    assert editor.get(count_url(tracked_doc, 2)).json() == {
        "version": 2, "count": None, "can_accept": False,
    }  # fmt: skip
    text = with_preview(team.manager, team.workspace, "notes.txt", b"Hello.\n")
    refused = editor.get(count_url(text))
    assert refused.status_code == 409 and refused.json()["code"] == "not_word"
    assert editor.get(count_url(tracked_doc, 9)).status_code == 404
    assert as_user(team.outsider, "read").get(count_url(tracked_doc)).status_code == 404
    workspace_set_archived(
        actor=team.manager, access=access_for(team.manager, team.workspace), archived=True
    )
    archived = as_user(team.manager, "read").get(count_url(tracked_doc))
    assert archived.json() == {"version": 1, "count": 4, "can_accept": False}
