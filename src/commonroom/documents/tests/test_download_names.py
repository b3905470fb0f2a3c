"""A download is saved under the document's name and its version ("Board minutes (version
3).docx"), never under whatever name the upload had; a hostile document name gives a safe
header and a safe name."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from commonroom.accounts.services import token_create
from commonroom.documents import services
from commonroom.documents.filenames import download_name
from commonroom.documents.tests.factories import doc_access_for, upload

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("document", "number", "stored", "expected"),
    [
        ("Board minutes.docx", 3, "scan_final_v2 (3).docx", "Board minutes (version 3).docx"),
        # The version's own file says what it is: a renamed document without an extension.
        ("Board minutes", 2, "minutes.xlsx", "Board minutes (version 2).xlsx"),
        ("Board minutes", 1, "", "Board minutes (version 1)"),
        ("Budget.XLSX", 12, "", "Budget (version 12).XLSX"),
        ("v1.2 report.pdf", 4, "report.pdf", "v1.2 report (version 4).pdf"),
        (".bashrc", 1, "", "bashrc (version 1)"),
        # Hostile names: path parts, control characters, a right-to-left override.
        ("../../etc/passwd", 1, "", "passwd (version 1)"),
        ("a\r\nContent-Type: text/html.txt", 1, "", "html (version 1).txt"),
        ("invoice\u202egpj.exe", 1, "", "invoicegpj (version 1).exe"),
        ("CON.txt", 1, "", "_CON (version 1).txt"),
    ],
)
def test_download_name(document: str, number: int, stored: str, expected: str) -> None:
    assert download_name(document, number, stored) == expected


def test_a_long_name_keeps_its_version_and_extension() -> None:
    named = download_name("x" * 300 + ".docx", 7, "x.docx")
    assert len(named) <= 255
    assert named.endswith(".docx")


def _page(user: Any, doc: Any, number: int) -> Any:
    client = Client()
    client.force_login(user)
    return client.get(reverse("version_download", args=[doc.workspace_id, doc.pk, number]))


def _api(user: Any, doc: Any, number: int) -> Any:
    secret = token_create(actor=user, name="sync", scope="read").secret
    url = f"/api/v1/workspaces/{doc.workspace_id}/documents/{doc.pk}/versions/{number}/content"
    return Client(headers={"Authorization": f"Bearer {secret}"}).get(url)


@pytest.mark.parametrize("fetch", [_page, _api], ids=["page", "api"])
def test_the_page_and_the_api_name_the_file_after_the_document(team: Any, fetch: Any) -> None:
    doc = upload(team.manager, team.workspace, "Board minutes.txt", b"Draft.\n").document
    services.version_upload(
        actor=team.editor,
        doc_access=doc_access_for(team.editor, doc),
        uploaded=SimpleUploadedFile("scan_final_v2 (3).txt", b"Agreed.\n", "text/plain"),
    )
    got = fetch(team.viewer, doc, 2)
    assert got.status_code == 200
    assert got["Content-Disposition"] == 'attachment; filename="Board minutes (version 2).txt"'
    first = fetch(team.viewer, doc, 1)
    assert first["Content-Disposition"] == 'attachment; filename="Board minutes (version 1).txt"'


def test_a_hostile_document_name_gives_a_safe_header(team: Any) -> None:
    doc = upload(team.manager, team.workspace, "minutes.txt", b"Draft.\n").document
    services.document_rename(
        actor=team.manager,
        doc_access=doc_access_for(team.manager, doc),
        name='Board "minutes"; filename=evil.html é.txt',
    )
    got = _page(team.viewer, doc, 1)
    header = got["Content-Disposition"]
    assert "\r" not in header and "\n" not in header
    # Not plain ASCII: sent only as RFC 5987's encoded form, which no quote can break out of.
    assert header.startswith("attachment; filename*=utf-8''")
    assert unquote(header.split("''", 1)[1]) == (
        'Board "minutes"; filename=evil.html é (version 1).txt'
    )
