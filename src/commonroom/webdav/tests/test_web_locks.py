"""WebDAV's locks on the web pages and in the API: a document open in Word shows who has it and
since when, on its page and in its folder; an upload in the browser meanwhile is kept as a
version of its own, flagged and audited; a manager breaks a lock left behind."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from commonroom.accounts.services import token_create
from commonroom.audit.models import AuditEvent
from commonroom.documents.models import Document
from commonroom.documents.tests.factories import make_folder
from commonroom.documents.tests.support import multipart
from commonroom.live.models import Event
from commonroom.webdav.models import DavLock
from commonroom.webdav.services import leftovers_sweep
from commonroom.webdav.tests.client import WORD, Dav, lock_token
from commonroom.workspaces.models import Workspace
from commonroom.workspaces.tests.factories import make_workspace, upload_document

pytestmark = pytest.mark.django_db

WS = "/Weekly budget meeting"
DOC = WS + "/minutes.docx"


@pytest.fixture(autouse=True)
def tom(team: Any) -> Any:
    team.editor.full_name = "Tom Editor"
    team.editor.save(update_fields=["full_name"])
    return team.editor


@pytest.fixture
def doc(team: Any) -> Document:
    return upload_document(team.workspace, team.manager, name="minutes.docx", content=b"v1")


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def bearer(user: Any) -> Client:
    secret = token_create(actor=user, name="script", scope="write").secret
    return Client(headers={"Authorization": f"Bearer {secret}"})


def text(response: Any) -> str:
    """The page's words, as a reader sees them (tags gone, spaces collapsed)."""
    assert response.status_code == 200, response.status_code
    words = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(words))


def doc_page(doc: Document) -> str:
    return reverse("document_detail", args=[doc.workspace_id, doc.pk])


def folder_page(team: Any) -> str:
    return reverse("workspace_detail", args=[team.workspace.pk])


def api(doc: Document, tail: str = "") -> str:
    return f"/api/v1/workspaces/{doc.workspace_id}/documents/{doc.pk}{tail}"


def since() -> str:
    return f"{timezone.localtime(DavLock.objects.get().created_at):%H:%M}"


def upload_in_browser(user: Any, doc: Document, content: bytes) -> Any:
    body, ctype = multipart([("based_on", "1")], [("file", "minutes.docx", content, "text/plain")])
    return browser(user).post(
        reverse("version_upload", args=[doc.workspace_id, doc.pk]),
        data=body,
        content_type=ctype,
        follow=True,
    )


# --- Who has it open, and since when ---------------------------------------------------------


def test_a_document_open_in_word_says_who_and_since_when_on_its_page_and_in_its_folder(
    team: Any, doc: Document
) -> None:
    assert Dav(team.editor).lock(DOC, owner="TRUST\\tom", agent=WORD).status_code == 200
    shown = f"Being edited in Word by Tom Editor since {since()}"
    for user in (team.manager, team.viewer):
        assert shown in text(browser(user).get(doc_page(doc)))
        assert shown in text(browser(user).get(folder_page(team)))
    # Tom himself is told it is him.
    assert f"Being edited in Word by you since {since()}" in text(
        browser(team.editor).get(doc_page(doc))
    )


def test_a_document_nobody_has_open_says_nothing_of_it(team: Any, doc: Document) -> None:
    assert "Being edited" not in text(browser(team.manager).get(doc_page(doc)))
    assert "Being edited" not in text(browser(team.manager).get(folder_page(team)))


@pytest.mark.parametrize(
    ("agent", "owner", "program"),
    [
        ("Microsoft Office Excel 2014 (16.0.17928) Windows NT 10.0", "tom", "Excel"),
        ("Microsoft-WebDAV-MiniRedir/10.0.19045", "tom", "Windows Explorer"),
        ("WebDAVFS/3.0.0 (03008000) Darwin/23.4.0 (arm64)", "tom", "Finder"),
        ("neon/0.33.0", "LibreOffice - Tom Editor", "LibreOffice"),
        ("curl/8.5.0", "someone", "another app"),
    ],
)
def test_the_program_is_named_from_what_it_says_of_itself(
    team: Any, doc: Document, agent: str, owner: str, program: str
) -> None:
    assert Dav(team.editor).lock(DOC, owner=owner, agent=agent).status_code == 200
    page = text(browser(team.manager).get(doc_page(doc)))
    assert f"Being edited in {program} by Tom Editor since {since()}" in page


def test_a_folder_locked_all_the_way_down_holds_its_documents_open(team: Any) -> None:
    papers = make_folder(team.manager, team.workspace, "Papers")
    inside = upload_document(team.workspace, team.manager, name="a.txt", folder=papers)
    assert Dav(team.editor).lock(WS + "/Papers/", depth="infinity", agent=WORD).status_code == 200
    assert "Being edited in Word by Tom Editor" in text(browser(team.manager).get(doc_page(inside)))


def test_the_api_says_whether_and_by_whom(team: Any, doc: Document) -> None:
    free = bearer(team.viewer).get(api(doc, "/lock"))
    assert free.json() == {"locked": False, "lock": None}
    Dav(team.editor).lock(DOC, agent=WORD)
    held = bearer(team.viewer).get(api(doc, "/lock")).json()
    assert held["locked"] is True
    assert held["lock"]["holder_email"] == team.editor.email
    assert held["lock"]["holder_name"] == "Tom Editor"
    assert held["lock"]["app"] == "Word"
    started = datetime.fromisoformat(held["lock"]["since"])
    assert abs(started - DavLock.objects.get().created_at) < timedelta(milliseconds=1)


# --- An upload in the browser meanwhile ------------------------------------------------------


def test_an_upload_over_a_document_open_in_word_is_kept_flagged_and_audited(
    team: Any, doc: Document
) -> None:
    tom = Dav(team.editor)
    token = lock_token(tom.lock(DOC, agent=WORD))

    page = text(upload_in_browser(team.manager, doc, b"Priya's amendment"))
    assert "Version 2 uploaded." in page
    assert "Tom Editor has this document open in Word: it is kept, flagged" in page
    priyas = doc.versions.get(number=2)
    assert priyas.while_locked_by == team.editor
    assert priyas.while_locked_in == "Word"
    assert priyas.while_locked_since == DavLock.objects.get().created_at
    event = AuditEvent.objects.filter(action="version.uploaded").latest("seq")
    assert event.actor_email == team.manager.email
    assert event.data["while_locked"] == {
        "holder": team.editor.email,
        "holder_id": team.editor.pk,
        "app": "Word",
        "since": DavLock.objects.get().created_at.isoformat(),
    }

    # Tom's save from Word comes in above it, not flagged (the lock is his): nothing is lost.
    assert tom.put(DOC, b"Tom's edits", headers={"If": f"(<{token}>)"}).status_code == 204
    assert [(v.number, v.while_locked_by_id) for v in doc.versions.order_by("number")] == [
        (1, None),
        (2, team.editor.pk),
        (3, None),
    ]
    listing = text(browser(team.viewer).get(doc_page(doc)))
    assert "Made while open in Word" in listing
    assert "Made while Tom Editor had this document open in Word" in listing
    versions = bearer(team.viewer).get(api(doc, "/versions")).json()["items"]
    assert versions[1]["number"] == 2
    assert versions[1]["while_locked"]["holder_email"] == team.editor.email
    assert versions[1]["while_locked"]["app"] == "Word"
    assert versions[0]["while_locked"] is None


def test_the_lock_holders_own_upload_in_the_browser_is_not_flagged(
    team: Any, doc: Document
) -> None:
    Dav(team.editor).lock(DOC, agent=WORD)
    upload_in_browser(team.editor, doc, b"Tom, from the browser")
    assert doc.versions.get(number=2).while_locked_by is None


def test_the_api_upload_is_flagged_too(team: Any, doc: Document) -> None:
    Dav(team.editor).lock(DOC, agent=WORD)
    answer = bearer(team.manager).post(
        api(doc, "/versions"),
        {"file": SimpleUploadedFile("minutes.docx", b"Priya's, by script")},
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["while_locked"]["holder_email"] == team.editor.email
    # The version made under the lock shows it as the document's lock does, field for field.
    held = bearer(team.viewer).get(api(doc, "/lock")).json()["lock"]
    assert answer.json()["while_locked"] == held
    listed = bearer(team.viewer).get(api(doc, "/versions")).json()["items"]
    made = answer.json()["number"]
    assert [v["while_locked"] for v in listed if v["number"] == made] == [held]


# --- Breaking a lock left behind -------------------------------------------------------------


def test_a_manager_breaks_a_lock_left_behind_from_the_page(team: Any, doc: Document) -> None:
    tom = Dav(team.editor)
    token = lock_token(tom.lock(DOC, agent=WORD))
    page = browser(team.manager).get(doc_page(doc)).content.decode()
    assert reverse("document_lock_break", args=[doc.workspace_id, doc.pk]) in page
    started = DavLock.objects.get().created_at

    done = browser(team.manager).post(
        reverse("document_lock_break", args=[doc.workspace_id, doc.pk]), follow=True
    )
    shown = text(done)
    assert "Lock broken: anyone who may can change “minutes.docx” again." in shown
    assert "Tom Editor can no longer save over it" in shown
    assert "Being edited" not in shown
    assert not DavLock.objects.exists()
    event = AuditEvent.objects.get(action="document.lock_broken")
    assert event.actor_email == team.manager.email
    assert event.document_id == doc.pk
    assert event.data == {
        "locks": [
            {
                "holder": team.editor.email,
                "holder_id": team.editor.pk,
                "app": "Word",
                "since": started.isoformat(),
            }
        ]
    }
    # Word's save with the broken lock is refused (it then saves a copy); the document can be
    # changed again by anyone who may.
    assert tom.put(DOC, b"Tom's", headers={"If": f"(<{token}>)"}).status_code == 412
    assert Dav(team.manager).put(DOC, b"Priya's").status_code == 204
    assert doc.versions.count() == 2


def test_the_break_button_is_a_managers_and_not_for_their_own_lock(
    team: Any, doc: Document
) -> None:
    Dav(team.editor).lock(DOC, agent=WORD)
    button = "Break the lock"
    assert button in text(browser(team.manager).get(doc_page(doc)))
    for user in (team.editor, team.commenter, team.viewer):
        assert button not in text(browser(user).get(doc_page(doc)))
    DavLock.objects.all().delete()
    Dav(team.manager).lock(DOC, agent=WORD)
    assert button not in text(browser(team.manager).get(doc_page(doc)))


def test_only_a_manager_breaks_a_lock(team: Any, doc: Document) -> None:
    Dav(team.editor).lock(DOC, agent=WORD)
    url = reverse("document_lock_break", args=[doc.workspace_id, doc.pk])
    for user in (team.editor, team.commenter, team.viewer):
        refused = text(browser(user).post(url, follow=True))
        assert "Only the workspace's managers can break a lock." in refused
        assert bearer(user).delete(api(doc, "/lock")).status_code == 403
    assert browser(team.outsider).post(url).status_code == 404
    assert DavLock.objects.count() == 1
    assert not AuditEvent.objects.filter(action="document.lock_broken").exists()


def test_breaking_over_the_api_and_nothing_left_to_break(team: Any, doc: Document) -> None:
    Dav(team.editor).lock(DOC, agent=WORD)
    priya = bearer(team.manager)
    assert priya.delete(api(doc, "/lock")).status_code == 204
    assert not DavLock.objects.exists()
    again = priya.delete(api(doc, "/lock"))
    assert again.status_code == 409
    assert again.json()["code"] == "not_locked"
    assert AuditEvent.objects.filter(action="document.lock_broken").count() == 1


def test_no_lock_is_broken_in_an_archived_workspace(team: Any, doc: Document) -> None:
    Dav(team.editor).lock(DOC, agent=WORD)
    Workspace.objects.filter(pk=team.workspace.pk).update(archived_at=timezone.now())
    assert bearer(team.manager).delete(api(doc, "/lock")).status_code == 403
    assert DavLock.objects.count() == 1


# --- Live: the open pages are told ---------------------------------------------------------


def heading(user: Any, doc: Document) -> str:
    """What a document's open page fetches when told that locks changed."""
    return text(browser(user).get(reverse("document_heading", args=[doc.workspace_id, doc.pk])))


def lock_events(team: Any) -> list[Any]:
    return list(
        Event.objects.filter(workspace_id=team.workspace.pk, kind="locks.changed")
        .order_by("id")
        .values_list("data", flat=True)
    )


def test_taking_releasing_breaking_and_expiry_each_tell_the_open_pages(
    team: Any, doc: Document
) -> None:
    tom = Dav(team.editor)
    assert "Being edited" not in heading(team.viewer, doc)

    token = lock_token(tom.lock(DOC, agent=WORD))
    assert lock_events(team) == [{"actor_id": team.editor.pk}]
    assert f"Being edited in Word by Tom Editor since {since()}" in heading(team.viewer, doc)
    # A refresh changes nothing a page shows: no event.
    refreshed = tom.request("LOCK", DOC, headers={"If": f"(<{token}>)", "Timeout": "Second-600"})
    assert refreshed.status_code == 200
    assert len(lock_events(team)) == 1

    assert tom.unlock(DOC, token).status_code == 204
    assert lock_events(team)[1:] == [{"actor_id": team.editor.pk}]
    assert "Being edited" not in heading(team.viewer, doc)

    tom.lock(DOC, agent=WORD)
    assert (
        browser(team.manager)
        .post(reverse("document_lock_break", args=[doc.workspace_id, doc.pk]))
        .status_code
        == 302
    )
    assert lock_events(team)[2:] == [{"actor_id": team.editor.pk}, {"actor_id": None}]

    tom.lock(DOC, agent=WORD)
    DavLock.objects.update(expire_at=timezone.now() - timedelta(seconds=1))
    assert "Being edited" not in heading(team.viewer, doc)  # expired: never shown
    leftovers_sweep()
    assert not DavLock.objects.exists()
    assert lock_events(team)[4:] == [{"actor_id": team.editor.pk}, {"actor_id": None}]
    leftovers_sweep()  # nothing left to sweep: nothing said
    assert len(lock_events(team)) == 6


def test_the_event_reaches_only_its_workspace_and_the_fragment_only_members(
    team: Any, doc: Document
) -> None:
    other = make_workspace(manager=team.outsider, name="Elsewhere")
    before = Event.objects.filter(workspace_id=other.pk).count()  # its own creation's, if any
    Dav(team.editor).lock(DOC, agent=WORD)
    assert lock_events(team) == [{"actor_id": team.editor.pk}]
    assert Event.objects.filter(workspace_id=other.pk).count() == before
    url = reverse("document_heading", args=[doc.workspace_id, doc.pk])
    assert browser(team.outsider).get(url).status_code == 404


def test_a_lock_taken_clears_only_its_own_workspaces_expired_locks(
    team: Any, doc: Document
) -> None:
    """A LOCK holds its workspace's row lock; clearing another workspace's expired locks there
    would take that workspace's row lock second, the reverse of a LOCK in that workspace (two
    processes could wait on each other for ever). Those are left to the sweep."""
    other = make_workspace(manager=team.manager, name="Elsewhere")
    upload_document(other, team.manager, name="agenda.docx", content=b"a")
    priya = Dav(team.manager)
    assert priya.lock("/Elsewhere/agenda.docx", agent=WORD).status_code == 200
    DavLock.objects.update(expire_at=timezone.now() - timedelta(seconds=1))
    before = Event.objects.filter(workspace_id=other.pk, kind="locks.changed").count()

    assert Dav(team.editor).lock(DOC, agent=WORD).status_code == 200
    assert DavLock.objects.filter(workspace_id=other.pk).exists()  # not this LOCK's to clear
    assert Event.objects.filter(workspace_id=other.pk, kind="locks.changed").count() == before

    leftovers_sweep()
    assert not DavLock.objects.filter(workspace_id=other.pk).exists()
    assert DavLock.objects.filter(workspace_id=team.workspace.pk).count() == 1
    assert Event.objects.filter(workspace_id=other.pk, kind="locks.changed").count() == before + 1
