"""schemathesis against the API's own OpenAPI schema: no 5xx, and every response (status, content
type, headers, body) conforms to what the schema documents.

The schema is read from /api/v1/openapi.json and every request goes in-process through Django's
WSGI handler, authenticated with the write token of the manager of a seeded workspace (one test
per operation, each with a fresh seeded workspace). Most generated path ids are replaced by the
ids of the seeded workspace, document, folder, invitation, member and token, so the operations
reach real data; the rest stay as generated, so forged and malformed ids are tried too. Each
example runs in a savepoint that is rolled back, so a DELETE or an archive in one example does
not starve the next. The number of examples is bounded so that the whole module takes well under
a minute on SQLite.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation

MAX_EXAMPLES = 10
# One generated id in FORGED_ONE_IN is sent as generated; the others are replaced by real ids.
FORGED_ONE_IN = 5

# The manager's write token. Its secret is fixed here, so that schemathesis knows the header is
# the real credential (and checks that each operation refuses a request without it or with a
# wrong one); the token itself is stored, hashed, by the ``real_ids`` fixture.
TOKEN = "cr_5c4e3a7f_schema-tests-write-token-of-the-seeded-manager"

config = SchemathesisConfig.from_dict(
    {
        "seed": 20261124,
        "headers": {"Authorization": f"Bearer {TOKEN}"},
        # Unknown query parameters are ignored, as most APIs do, not refused.
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "database": "none",
            "allow-extra-parameters": False,
            # NUL characters too: PostgreSQL refuses them, so they must be refused before.
            "allow-x00": True,
        },
        "phases": {"stateful": {"enabled": False}},
        "checks": {
            # Valid-looking data may still be refused by a rule the schema cannot express (a
            # name of spaces only, removing the last manager): that is a 4xx, not a bug.
            "positive_data_acceptance": {"enabled": False},
        },
    }
)
schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json", get_wsgi_application(), config=config
)


@pytest.fixture
def _keep_test_connection() -> Iterator[None]:
    """Django's WSGI handler closes "old" database connections around each request; inside the
    test's transaction that would close the connection the test data lives on. Django's own test
    client switches this off in the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@dataclass
class RealIds:
    """Ids of things that exist in the seeded workspace, by path parameter name: ``live`` for
    most operations, ``trash`` for those on the trash (a trashed document and folder)."""

    live: dict[str, Any]
    trash: dict[str, Any]

    def for_path(self, path: str) -> dict[str, Any]:
        return self.trash if "/trash/" in path else self.live


@pytest.fixture
def real_ids(seeded: Any, _keep_test_connection: None) -> RealIds:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from commonroom.accounts.models import ApiToken, TokenScope
    from commonroom.accounts.selectors import TOKEN_PREFIX, hash_secret
    from commonroom.accounts.services import token_create
    from commonroom.documents import services as documents
    from commonroom.documents.selectors import document_access
    from commonroom.suggestions.tests.factories import make_preview, suggest
    from commonroom.workspaces.models import Membership
    from commonroom.workspaces.selectors import workspace_access
    from commonroom.workspaces.services import invitation_create

    team = seeded.team
    ApiToken.objects.create(
        user=team.manager,
        name="schema tests",
        scope=TokenScope.WRITE,
        prefix=TOKEN[: len(TOKEN_PREFIX) + 8],
        secret_hash=hash_secret(TOKEN),
    )
    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    invitation = invitation_create(
        actor=team.manager, access=access, email="aisha@example.org", role="commenter"
    ).invitation
    spare_token = token_create(actor=team.manager, name="spare", scope="read").token
    membership = Membership.objects.get(workspace=team.workspace, user=team.viewer)
    old = documents.document_upload(
        actor=team.manager,
        access=access,
        uploaded=SimpleUploadedFile("old.txt", b"old minutes\n", content_type="text/plain"),
    )
    documents.document_delete(
        actor=team.manager,
        doc_access=document_access(
            user=team.manager, workspace_id=team.workspace.pk, document_id=old.document_id
        ),
    )
    old_folder = documents.folder_create(actor=team.manager, access=access, name="Old papers")
    documents.folder_delete(actor=team.manager, access=access, folder=old_folder)
    # An open suggestion on the latest version, whose preview is ready.
    make_preview(seeded.document.versions.get(number=2))
    suggestion = suggest(team.editor, seeded.document, "two", "replace", "2")
    live = {
        "suggestion_id": str(suggestion.pk),
        "workspace_id": str(team.workspace.pk),
        "document_id": str(seeded.document.pk),
        "folder_id": str(seeded.folder.pk),
        "invitation_id": str(invitation.pk),
        "member_id": membership.pk,
        "token_id": spare_token.pk,
        "number": 1,
    }
    trash = {**live, "document_id": str(old.document_id), "folder_id": str(old_folder.pk)}
    return RealIds(live=live, trash=trash)


def aim_at_real_data(case: Any, real_ids: RealIds) -> None:
    """Replace most generated path ids by real ones; which ones stay is decided by the generated
    value itself, so a run is reproducible."""
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH):
        return  # a deliberately malformed path stays malformed
    params = case.path_parameters or {}
    real = real_ids.for_path(case.operation.path)
    for name, value in list(params.items()):
        if name in real and zlib.crc32(repr(value).encode()) % FORGED_ONE_IN:
            params[name] = real[name]


@schema.parametrize()
# The fixtures are built once per operation; each example rolls its own changes back.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_conforms_to_the_schema(case: Any, real_ids: RealIds) -> None:
    aim_at_real_data(case, real_ids)
    with transaction.atomic():
        case.call_and_validate()
        transaction.set_rollback(True)
