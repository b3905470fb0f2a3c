"""The pages' ways into WebDAV: "Open in Word" (Excel, PowerPoint) with Office's own link, the
document's WebDAV address under "Open with WebDAV", and the API tokens page's instructions for
Word, Windows Explorer, Finder and rclone. Each address shown is one the endpoint answers."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from django.test import Client
from django.urls import reverse

from commonroom.accounts.models import UserKind
from commonroom.documents.models import Document
from commonroom.documents.tests.factories import make_folder
from commonroom.webdav.tests.client import Dav
from commonroom.workspaces.tests.factories import make_workspace, upload_document

pytestmark = pytest.mark.django_db

SITE = "https://commonroom.example.nhs.uk"
WS = "Weekly%20budget%20meeting"


@pytest.fixture(autouse=True)
def _site(settings: Any) -> None:
    settings.SITE_URL = SITE


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(user: Any, doc: Document) -> str:
    response = browser(user).get(reverse("document_detail", args=[doc.workspace_id, doc.pk]))
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def office_href(shown: str) -> str | None:
    found = re.search(r'href="(ms-[a-z]+:[^"]+)"[^>]*data-testid="open-in-office"', shown)
    return found[1] if found else None


def dav_url(shown: str) -> str:
    found = re.search(r'id="dav-url"[^>]*>([^<]+)</textarea>', shown)
    assert found, "no WebDAV address on the page"
    return found[1]


def fetched(user: Any, address: str) -> bytes:
    """What the endpoint answers at ``address`` (one of the site's), for ``user``."""
    assert address.startswith(SITE + "/dav/")
    path = unquote(urlparse(address).path).removeprefix("/dav")
    response = Dav(user).get(path)
    assert response.status_code == 200, (address, response.status_code)
    return response.content


@pytest.mark.parametrize(
    ("name", "scheme", "program"),
    [
        ("minutes.docx", "ms-word", "Word"),
        ("budget.XLSX", "ms-excel", "Excel"),
        ("board pack.pptx", "ms-powerpoint", "PowerPoint"),
        ("notes.odt", "ms-word", "Word"),
    ],
)
def test_an_office_document_opens_in_its_program_for_editing(
    team: Any, name: str, scheme: str, program: str
) -> None:
    doc = upload_document(team.workspace, team.manager, name=name, content=b"the bytes")
    shown = page(team.editor, doc)
    address = f"{SITE}/dav/{WS}/{name.replace(' ', '%20')}"
    assert office_href(shown) == f"{scheme}:ofe|u|{address}"
    assert f">Open in {program}</a>" in shown
    assert dav_url(shown) == address
    assert fetched(team.editor, address) == b"the bytes"


def test_a_reader_opens_it_to_read(team: Any) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.docx", content=b"x")
    shown = page(team.viewer, doc)
    assert office_href(shown) == f"ms-word:ofv|u|{SITE}/dav/{WS}/minutes.docx"
    # " to read" is said by screen readers but hidden on a phone, to keep one row of actions.
    assert '>Open in Word<span class="cr-doc-actions__more"> to read</span></a>' in shown


def test_other_files_have_no_office_button_but_their_webdav_address(team: Any) -> None:
    folder = make_folder(team.manager, team.workspace, "Board papers")
    doc = upload_document(
        team.workspace, team.manager, name="a & b.txt", folder=folder, content=b"notes"
    )
    shown = page(team.editor, doc)
    assert office_href(shown) is None
    assert "Open with WebDAV" in shown
    address = dav_url(shown)
    assert address == f"{SITE}/dav/{WS}/Board%20papers/a%20%26%20b.txt"
    assert fetched(team.editor, address) == b"notes"


def test_the_address_is_the_one_this_person_sees(team: Any) -> None:
    """Two of Priya's workspaces share a name, so hers carry the start of their id; a
    document named like a folder beside it is shown under a number: the address says so."""
    doc = upload_document(team.workspace, team.manager, name="Papers", content=b"the file")
    make_folder(team.manager, team.workspace, "Papers")
    make_workspace(manager=team.manager, name="Weekly budget meeting")
    hers = dav_url(page(team.manager, doc))
    assert hers == f"{SITE}/dav/{WS}%20%28{team.workspace.pk.hex[:8]}%29/Papers%20%282%29"
    assert fetched(team.manager, hers) == b"the file"
    his = dav_url(page(team.editor, doc))
    assert his == f"{SITE}/dav/{WS}/Papers%20%282%29"
    assert fetched(team.editor, his) == b"the file"


def test_the_api_tokens_page_says_how_to_connect_each_program(team: Any) -> None:
    response = browser(team.editor).get(reverse("account_tokens"))
    shown = html.unescape(response.content.decode())
    assert f'id="dav-root" type="text" value="{SITE}/dav/"' in shown
    for program in ("Word, Excel and PowerPoint", "Windows Explorer", "macOS Finder", "rclone"):
        assert f"<h3>{program}</h3>" in shown
    assert "Map network drive" in shown
    assert "Connect to Server" in shown
    assert (
        f"rclone config create commonroom webdav url={SITE}/dav/ vendor=other "
        f"user={team.editor.email} pass=$(rclone obscure TOKEN)"
    ) in shown


def test_a_guest_without_tokens_is_not_told_to_connect(team: Any) -> None:
    team.viewer.kind = UserKind.GUEST
    team.viewer.save(update_fields=["kind"])
    shown = browser(team.viewer).get(reverse("account_tokens")).content.decode()
    assert 'data-testid="tokens-refused"' in shown
    assert 'id="dav-root"' not in shown
