"""Fixtures for the JSON API tests (helpers are in ``api_support``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from api_support import token_for
from hypothesis.internal import lambda_sources

# Hypothesis describes the lambdas in schemathesis's strategies (for its reports) by parsing their
# source with ast.parse, which on CPython 3.11.7 can fail deep in a draw with "SystemError: AST
# constructor recursion depth mismatch" (a CPython bug, fixed in later releases); hypothesis only
# expects SyntaxError there, so the run failed as "flaky". A description is only words for a
# report: when parsing fails this way, say "<unknown>" as hypothesis does for other failures.
_describe = lambda_sources._lambda_description


def _described_safely(f: Any, *args: Any, **kwargs: Any) -> str:
    try:
        return str(_describe(f, *args, **kwargs))
    except SystemError:
        return "lambda: <unknown>"


lambda_sources._lambda_description = _described_safely


@dataclass
class Seeded:
    """The team's workspace with one document in two versions and a folder, as uploaded by the
    editor, plus the manager's write token."""

    team: Any
    document: Any
    folder: Any
    manager_token: str


@pytest.fixture
def seeded(team: Any) -> Seeded:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from commonroom.documents import services
    from commonroom.documents.selectors import document_access
    from commonroom.workspaces.selectors import workspace_access

    access = workspace_access(user=team.editor, workspace_id=team.workspace.pk)
    first = services.document_upload(
        actor=team.editor,
        access=access,
        uploaded=SimpleUploadedFile("minutes.txt", b"version one\n", content_type="text/plain"),
    )
    doc_access = document_access(
        user=team.editor, workspace_id=team.workspace.pk, document_id=first.document_id
    )
    services.version_upload(
        actor=team.editor,
        doc_access=doc_access,
        uploaded=SimpleUploadedFile("minutes.txt", b"version two\n", content_type="text/plain"),
        note="Amended",
    )
    folder = services.folder_create(actor=team.editor, access=access, name="Papers")
    return Seeded(team, doc_access.document, folder, token_for(team.manager, "write"))
