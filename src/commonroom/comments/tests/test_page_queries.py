"""The document page's queries do not grow with its threads and replies."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from commonroom.comments.services import comment_create, comment_reply
from commonroom.documents.selectors import document_access
from commonroom.workspaces.tests.factories import upload_document

pytestmark = pytest.mark.django_db


def test_the_document_page_costs_the_same_queries_for_one_thread_or_ten(
    team: Any, client: Any
) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.txt")

    def as_user(user: Any) -> Any:
        return document_access(user=user, workspace_id=team.workspace.pk, document_id=doc.pk)

    def add_threads(n: int) -> None:
        for i in range(n):
            thread = comment_create(
                actor=team.commenter, doc_access=as_user(team.commenter), body=f"c{i}"
            )
            comment_reply(
                actor=team.editor, doc_access=as_user(team.editor), comment_id=thread.pk, body="r"
            )

    client.force_login(team.viewer)
    url = reverse("document_detail", args=[team.workspace.pk, doc.pk])
    counts = []
    for n in (1, 9):
        add_threads(n)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
