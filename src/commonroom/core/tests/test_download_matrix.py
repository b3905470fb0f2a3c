"""The download matrix: every way to download a document's bytes, for every role, staff and
external guest, under every kind of workspace setting (decision 27).

A download of an original (a version's file, a Word version with its suggestions as tracked
changes, a final record's certificate, a WebDAV GET) is allowed to those the workspace's
setting lets download: managers always; each other role everyone, staff only, or nobody. The
expected answers are written out by hand below (``MAY``), not asked of the code under test.
Every refusal is a 403 with a sentence and leaves one ``download.refused`` row in the trail;
an outsider still gets 404.

No download route can escape: every page route of the URL configuration and every API
operation is asked, as a manager, about each of the world's documents; any answer that is a
file (an attachment or inline file) must come from a route classified here, as a download in
the matrix or as something else that sends bytes (a preview's picture, read in the browser).
An API operation whose documented answer is not JSON must be classified too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.test import Client, override_settings
from django.urls import reverse

from commonroom.accounts.models import UserKind
from commonroom.accounts.services import token_create
from commonroom.accounts.tests.factories import UserFactory
from commonroom.approvals.services import approval_decide, approval_request_create
from commonroom.audit.models import AuditEvent
from commonroom.core.request_info import RequestInfo
from commonroom.core.tests.test_permission_matrix import (
    OPERATIONS,
    PREFIX,
    ROUTES,
    World,
    build_world,
    files,  # noqa: F401 (the module's blob folder, a fixture)
    fill,
    matrix_settings,
)
from commonroom.documents.selectors import document_access
from commonroom.suggestions.tests.factories import docx_bytes, make_preview
from commonroom.webdav.selectors import document_names, workspace_segment
from commonroom.webdav.tests.client import Dav
from commonroom.workspaces.models import Workspace
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.tests.factories import add_member, upload_document

# Who may download, written out by hand: a role's rule, and whether the person is an external
# guest. Managers always may, whatever the setting.
MAY = {
    ("everyone", False): True,
    ("everyone", True): True,
    ("staff", False): True,
    ("staff", True): False,
    ("nobody", False): False,
    ("nobody", True): False,
}

# The settings asked: the default, each rule for every role, and a mixed one.
SETTINGS: dict[str, dict[str, str]] = {
    "default": {"editor": "everyone", "commenter": "staff", "viewer": "staff"},
    "everyone": {"editor": "everyone", "commenter": "everyone", "viewer": "everyone"},
    "staff": {"editor": "staff", "commenter": "staff", "viewer": "staff"},
    "nobody": {"editor": "nobody", "commenter": "nobody", "viewer": "nobody"},
    "mixed": {"editor": "staff", "commenter": "everyone", "viewer": "nobody"},
}

ROLES = ("viewer", "commenter", "editor", "manager")
PEOPLE = (*ROLES, *(f"guest {role}" for role in ROLES), "non-member")

W = "/workspaces/{workspace_id}"
D = W + "/documents/{document_id}"

# Each download, by the document it is asked about: "text" (a text file), "word" (a .docx,
# for its suggestions as tracked changes), "record" (a final record, for its certificate).
DOWNLOAD_PAGES: dict[str, str] = {
    "version_download": "text",
    "suggestions_tracked_download": "word",
    "record_certificate": "record",
}
DOWNLOAD_API: dict[tuple[str, str], str] = {
    ("GET", D + "/versions/{number}/content"): "text",
    ("GET", D + "/suggestions/tracked-changes"): "word",
    ("GET", D + "/versions/{number}/certificate"): "record",
}
# WebDAV's GET of a document (its COPY reads the same bytes: webdav/tests/test_downloads.py).
DOWNLOAD_DAV = {"dav GET": "text"}

# Routes that send bytes which are not an original, and why they stay open to every member.
NOT_ORIGINALS_PAGES = {
    # A preview's picture: part of reading the document in the browser (drawn with the
    # reader's watermark for whoever may not download, and for guests whose PDFs are stamped).
    "preview_file": "a preview's picture, shown while reading in the browser",
}
NOT_ORIGINALS_API: dict[tuple[str, str], str] = {}


@pytest.fixture(autouse=True)
def _matrix_settings(settings: Any, files: Path) -> None:  # noqa: F811
    for name, value in matrix_settings(files).items():
        setattr(settings, name, value)


@dataclass
class DownloadWorld:
    world: World
    people: dict[str, Any]
    documents: dict[str, Any]
    sessions: dict[str, str]
    tokens: dict[str, str]
    dav: dict[str, Dav]


def build_download_world() -> DownloadWorld:
    """The permission matrix's world, plus an external guest in every role, a Word document
    with a ready preview and a final record (a text file approved by two members)."""
    world = build_world()
    ws = world.workspace
    manager = world.by_role["manager"]
    people = dict(world.by_role)
    del people["anonymous"]
    for role in ROLES:
        guest = UserFactory.create(
            email=f"guest.{role}@partner.example", kind=UserKind.GUEST, api_tokens_allowed=True
        )
        people[f"guest {role}"] = add_member(ws, guest, role)
    word = upload_document(
        ws, manager, name="Board minutes.docx", content=docx_bytes("The board agreed the budget.")
    )
    word_version = word.versions.get()
    make_preview(word_version)
    record = upload_document(ws, manager, name="Record.txt")
    make_preview(record.versions.get())
    asked = approval_request_create(
        actor=manager,
        doc_access=document_access(user=manager, workspace_id=ws.pk, document_id=record.pk),
        version_number=1,
        approver_ids=[people["editor"].pk],
    )
    approval_decide(
        actor=people["editor"],
        doc_access=document_access(
            user=people["editor"], workspace_id=ws.pk, document_id=record.pk
        ),
        request_id=asked.pk,
        approve=True,
        info=RequestInfo(ip="192.0.2.7", user_agent="Desk browser"),
    )
    record.refresh_from_db()
    assert record.sealed_version_id is not None
    documents = {
        "text": world.params["document_id"],
        "word": word.pk,
        "record": record.pk,
    }
    sessions, tokens, dav = {}, {}, {}
    for name, user in people.items():
        browser = Client()
        browser.force_login(user)
        sessions[name] = browser.cookies[django_settings.SESSION_COOKIE_NAME].value
        tokens[name] = token_create(actor=user, name="downloads", scope="read").secret
        dav[name] = Dav(user)
    return DownloadWorld(world, people, documents, sessions, tokens, dav)


@pytest.fixture(scope="module")
def downloads(
    django_db_setup: Any,
    django_db_blocker: Any,
    files: Path,  # noqa: F811
) -> Iterator[DownloadWorld]:
    with django_db_blocker.unblock(), override_settings(**matrix_settings(files)):
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = build_download_world()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


def params_for(dw: DownloadWorld, doc: str) -> dict[str, Any]:
    return {**dw.world.params, "document_id": dw.documents[doc], "number": 1}


def is_a_file(response: Any) -> bool:
    """Whether an answer is a file: sent as an attachment or an inline file, or streamed."""
    return response.has_header("Content-Disposition") or bool(response.streaming)


# --- No download route escapes ------------------------------------------------------------


def page_as_manager(dw: DownloadWorld, name: str, doc: str) -> Any:
    client = Client()
    client.cookies[django_settings.SESSION_COOKIE_NAME] = dw.sessions["manager"]
    url = reverse(name, kwargs=fill(ROUTES[name], params_for(dw, doc)))
    with transaction.atomic():
        response = client.get(url)
        transaction.set_rollback(True)
    return response


def api_as_manager(dw: DownloadWorld, path: str, doc: str) -> Any:
    params = params_for(dw, doc)
    url = PREFIX + path.format(**fill(path.replace("{", "<").replace("}", ">"), params))
    client = Client(headers={"Authorization": f"Bearer {dw.tokens['manager']}"})
    with transaction.atomic():
        response = client.get(url)
        transaction.set_rollback(True)
    return response


def test_every_page_route_that_sends_a_file_is_classified(db, downloads):
    sending: set[str] = set()
    for name in sorted(ROUTES):
        for doc in ("text", "word", "record"):
            if is_a_file(page_as_manager(downloads, name, doc)):
                sending.add(name)
    unclassified = sorted(sending - set(DOWNLOAD_PAGES) - set(NOT_ORIGINALS_PAGES))
    assert not unclassified, (
        f"page routes that send a file without a line in DOWNLOAD_PAGES (a download: in the "
        f"matrix) or NOT_ORIGINALS_PAGES (why it is not one): {unclassified}"
    )
    # The detection works: every download (and every file route classified) was seen.
    assert set(DOWNLOAD_PAGES) | set(NOT_ORIGINALS_PAGES) <= sending


def test_every_api_operation_that_sends_a_file_is_classified(db, downloads):
    documented = set()
    for key, op in OPERATIONS.items():
        content = op.get("responses", {}).get("200", {}).get("content", {})
        if content and set(content) != {"application/json"}:
            documented.add(key)
    sending = {
        ("GET", path)
        for method, path in OPERATIONS
        if method == "GET"
        for doc in ("text", "word", "record")
        if is_a_file(api_as_manager(downloads, path, doc))
    }
    classified = set(DOWNLOAD_API) | set(NOT_ORIGINALS_API)
    unclassified = sorted((documented | sending) - classified)
    assert not unclassified, (
        f"API operations that send a file without a line in DOWNLOAD_API or NOT_ORIGINALS_API: "
        f"{unclassified}"
    )
    assert set(DOWNLOAD_API) <= sending
    stale = sorted(classified - set(OPERATIONS))
    assert not stale, f"classified operations that no longer exist: {stale}"


def test_the_classified_pages_exist():
    stale = sorted((set(DOWNLOAD_PAGES) | set(NOT_ORIGINALS_PAGES)) - set(ROUTES))
    assert not stale, f"classified page routes that no longer exist: {stale}"


# --- The matrix -----------------------------------------------------------------------------


def expected(person: str, setting: dict[str, str]) -> int:
    if person == "non-member":
        return 404
    role = person.removeprefix("guest ")
    if role == "manager":
        return 200
    return 200 if MAY[(setting[role], person.startswith("guest "))] else 403


def ask(dw: DownloadWorld, route: str, person: str) -> tuple[int, bytes]:
    if route in DOWNLOAD_PAGES:
        url = reverse(route, kwargs=fill(ROUTES[route], params_for(dw, DOWNLOAD_PAGES[route])))
        client = Client()
        client.cookies[django_settings.SESSION_COOKIE_NAME] = dw.sessions[person]
        response = client.get(url)
        return response.status_code, b"" if response.streaming else response.content
    if route in DOWNLOAD_DAV:
        doc = document_access(
            user=dw.people["manager"],
            workspace_id=dw.world.workspace.pk,
            document_id=dw.documents[DOWNLOAD_DAV[route]],
        )
        shown = workspace_segment(user=dw.people["manager"], workspace_id=doc.access.workspace.pk)
        assert shown is not None
        names = document_names(doc.access, [doc.document])[doc.document.pk]
        got = dw.dav[person].get("/" + "/".join([shown, *names]))
        return got.status_code, got.content
    method, path = next(k for k in DOWNLOAD_API if f"{k[0]} {k[1]}" == route)
    params = params_for(dw, DOWNLOAD_API[(method, path)])
    url = PREFIX + path.format(**fill(path.replace("{", "<").replace("}", ">"), params))
    response = Client(headers={"Authorization": f"Bearer {dw.tokens[person]}"}).get(url)
    return response.status_code, b"" if response.streaming else response.content


MATRIX_ROUTES = [
    *sorted(DOWNLOAD_PAGES),
    *(f"{m} {p}" for m, p in sorted(DOWNLOAD_API)),
    *sorted(DOWNLOAD_DAV),
]


@pytest.mark.parametrize("setting", sorted(SETTINGS))
@pytest.mark.parametrize("route", MATRIX_ROUTES)
def test_download_matrix(db, downloads, route, setting):
    rules = SETTINGS[setting]
    Workspace.objects.filter(pk=downloads.world.workspace.pk).update(
        editors_download=rules["editor"],
        commenters_download=rules["commenter"],
        viewers_download=rules["viewer"],
    )
    wrong = []
    for person in PEOPLE:
        with transaction.atomic():
            refusals = AuditEvent.objects.filter(action="download.refused").count()
            status, body = ask(downloads, route, person)
            want = expected(person, rules)
            if status != want:
                wrong.append(f"{person}: expected {want}, got {status}")
            elif status == 403:
                assert b"cannot download" in body, (person, body[:300])
                refused = AuditEvent.objects.filter(action="download.refused")
                assert refused.count() == refusals + 1, person
                newest = refused.order_by("-pk").first()
                assert newest is not None and newest.actor_id == downloads.people[person].pk
            else:
                assert AuditEvent.objects.filter(action="download.refused").count() == refusals
            transaction.set_rollback(True)
    assert not wrong, f"{route} with the {setting!r} setting: {wrong}"


def test_the_settings_cover_every_rule_for_every_role():
    for role in ("editor", "commenter", "viewer"):
        assert {rules[role] for rules in SETTINGS.values()} == {"everyone", "staff", "nobody"}


def test_the_world_has_people_of_both_kinds(db, downloads):
    for role in ROLES:
        assert not downloads.people[role].is_guest
        assert downloads.people[f"guest {role}"].is_guest
        access = workspace_access(
            user=downloads.people[f"guest {role}"], workspace_id=downloads.world.workspace.pk
        )
        assert access.role == role
