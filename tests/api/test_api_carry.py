"""Carrying a stale copy's changes as suggestions through the JSON API (the service is tested in
suggestions/tests/test_carry.py): 201 with the new version, the suggestions made and what was
not carried; every refusal as ``{"code", "detail"}``; a non-member 404."""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_support import as_user

from commonroom.comments.models import Comment
from commonroom.suggestions.tests.test_carry import _history, _text

pytestmark = pytest.mark.django_db


def api_post(user: Any, path: str, body: dict[str, Any]) -> Any:
    return as_user(user).post(path, json.dumps(body), content_type="application/json")


def test_through_the_api(team) -> None:
    doc = _history(team, "minutes.txt", _text)
    path = f"/api/v1/workspaces/{doc.workspace_id}/documents/{doc.pk}/suggestions/carry"
    assert api_post(team.outsider, path, {"version": 4}).status_code == 404
    refused = api_post(team.commenter, path, {"version": 4})
    assert refused.status_code == 403 and set(refused.json()) == {"code", "detail"}
    assert api_post(team.editor, path, {"version": 4, "colour": 1}).status_code == 422
    done = api_post(team.editor, path, {"version": 4})
    assert done.status_code == 201, done.content
    answer = done.json()
    assert answer["version"]["number"] == 5
    assert [(s["kind"], s["quote"], s["new_text"]) for s in answer["suggestions"]] == [
        ("replace", "Tuesday.", "Wednesday."),
        ("new_paragraph", "The budget was agreed.", "Minutes taken by Tom."),
    ]
    assert {s["author"]["id"] for s in answer["suggestions"]} == {team.editor.pk}
    assert answer["not_carried"] == [
        {
            "old": "Apologies: none.",
            "new": "Apologies: Tom.",
            "reason": "The paragraph it changes was also changed in versions 2 and 3.",
        }
    ]
    assert Comment.objects.get(pk=answer["report"]).version.number == 5
    late = api_post(team.editor, path, {"version": 4})
    assert late.status_code == 409 and late.json()["code"] == "not_latest"
    assert json.loads(late.content)["detail"].startswith("Version 4 is no longer the latest")
