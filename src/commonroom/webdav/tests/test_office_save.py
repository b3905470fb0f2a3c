"""Office's save, recorded as the plain HTTP requests Windows' WebDAV client sends when Word
saves a document opened from a mapped WebDAV folder, ends as ONE new version of the SAME
document: its history and comments intact, no new document, nothing left in the trash, and
nobody else ever seeing the temporary files.

The sequence follows published access logs of ``Microsoft-WebDAV-MiniRedir`` saving from Word
and Excel (Word writes ``~$name`` as its owner file, the new content to an 8-hex ``.tmp``,
renames the original to ``~WRLnnnn.tmp``, renames the new file into place, then deletes the
old one), with the locks and the ``If`` headers that client sends.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from commonroom.comments.services import comment_create
from commonroom.documents.models import Document
from commonroom.documents.tests.factories import doc_access_for
from commonroom.webdav.models import ScratchFile
from commonroom.webdav.tests.client import Dav, lock_token
from commonroom.workspaces.tests.factories import upload_document

pytestmark = pytest.mark.django_db

WS = "/Weekly budget meeting"
DOC = WS + "/minutes-2026-11-24.docx"
MINIREDIR = {"User-Agent": "Microsoft-WebDAV-MiniRedir/10.0.19045"}
OWNER_FILE = b"\x0bTom Editor" + b"\x00" * 40 + b"\x0bTom Editor" + b"\x00" * 100
WIN32_TIMES = (
    b'<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" '
    b'xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>'
    b"<Z:Win32CreationTime>Mon, 24 Nov 2026 10:02:11 GMT</Z:Win32CreationTime>"
    b"<Z:Win32LastAccessTime>Mon, 24 Nov 2026 10:14:40 GMT</Z:Win32LastAccessTime>"
    b"<Z:Win32LastModifiedTime>Mon, 24 Nov 2026 10:14:40 GMT</Z:Win32LastModifiedTime>"
    b"<Z:Win32FileAttributes>00000020</Z:Win32FileAttributes>"
    b"</D:prop></D:set></D:propertyupdate>"
)


class Word:
    """Tom's Windows, speaking WebDAV for Word."""

    def __init__(self, user: Any) -> None:
        self.dav = Dav(user)

    def send(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> Any:
        headers = {**MINIREDIR, **kwargs.pop("headers", {})}
        if token:
            headers["If"] = f"(<{token}>)"
        return self.dav.request(method, path, headers=headers, **kwargs)

    def lock(self, path: str) -> str:
        response = self.dav.lock(path, owner="TOM-PC\\tom")
        assert response.status_code in (200, 201), (path, response.status_code, response.text)
        return lock_token(response)

    def move(self, source: str, dest: str, *, token: str | None = None) -> int:
        headers = {**MINIREDIR, "Overwrite": "F"}
        if token:
            headers["If"] = f"(<{token}>)"
        return int(self.dav.move(source, dest, overwrite=False, **headers).status_code)


def _open(word: Word) -> tuple[str, str]:
    assert word.send("PROPFIND", DOC, headers={"Depth": "0"}).status_code == 207
    doc_lock = word.lock(DOC)
    owner = WS + "/~$nutes-2026-11-24.docx"
    assert word.send("PROPFIND", owner, headers={"Depth": "0"}).status_code == 404
    assert word.send("PUT", owner, content=b"").status_code == 201
    owner_lock = word.lock(owner)
    assert word.send("PUT", owner, token=owner_lock, content=OWNER_FILE).status_code == 204
    assert word.send("PROPPATCH", owner, token=owner_lock, content=WIN32_TIMES).status_code == 207
    assert word.send("GET", DOC).content == b"version one"
    return doc_lock, owner_lock


def _close(word: Word, doc_lock: str, owner_lock: str) -> None:
    owner = WS + "/~$nutes-2026-11-24.docx"
    assert word.dav.unlock(DOC, doc_lock).status_code == 204
    assert word.dav.unlock(owner, owner_lock).status_code == 204
    assert word.send("DELETE", owner).status_code == 204


def _others_see(team: Any) -> set[str]:
    return set(Dav(team.manager).listing(WS + "/"))


def test_words_save_is_one_new_version_of_the_same_document(team: Any) -> None:
    doc = upload_document(
        team.workspace, team.manager, name="minutes-2026-11-24.docx", content=b"version one"
    )
    comment = comment_create(
        actor=team.commenter, doc_access=doc_access_for(team.commenter, doc), body="Agreed."
    )
    word = Word(team.editor)
    doc_lock, owner_lock = _open(word)
    assert _others_see(team) == {f"/dav{DOC}"}

    # Save: the new content to a temporary file.
    temp = WS + "/A1B2C3D4.tmp"
    assert word.send("PUT", temp, content=b"").status_code == 201
    temp_lock = word.lock(temp)
    assert word.send("PUT", temp, token=temp_lock, content=b"version two").status_code == 204
    assert word.send("PROPPATCH", temp, token=temp_lock, content=WIN32_TIMES).status_code == 207
    assert word.dav.unlock(temp, temp_lock).status_code == 204
    assert word.dav.unlock(DOC, doc_lock).status_code == 204
    # The original renamed aside, the new file renamed into its place, the old one deleted.
    assert word.send("PROPFIND", WS + "/~WRL0001.tmp", headers={"Depth": "0"}).status_code == 404
    assert word.move(DOC, WS + "/~WRL0001.tmp") == 201
    assert _others_see(team) == {f"/dav{DOC}"}  # nobody else sees the dance
    assert word.send("PROPFIND", DOC, headers={"Depth": "0"}).status_code == 404
    assert word.move(temp, DOC) == 201
    doc_lock = word.lock(DOC)
    assert word.send("DELETE", WS + "/~WRL0001.tmp").status_code == 204
    _close(word, doc_lock, owner_lock)

    doc.refresh_from_db()
    assert Document.objects.filter(workspace=team.workspace).count() == 1
    assert not doc.in_trash
    assert [v.number for v in doc.versions.order_by("number")] == [1, 2]
    assert doc.versions.get(number=2).author == team.editor
    assert doc.versions.get(number=2).size == len(b"version two")
    comment.refresh_from_db()
    assert comment.document_id == doc.pk and comment.deleted_at is None
    assert Dav(team.manager).get(DOC).content == b"version two"
    assert not ScratchFile.objects.exists()
    assert _others_see(team) == {f"/dav{DOC}"}
    assert set(word.dav.listing(WS + "/")) == {f"/dav{DOC}"}


def test_a_save_that_deletes_the_original_first_keeps_the_document(team: Any) -> None:
    """LibreOffice through a mounted folder (davfs2) deletes the original, then renames its
    new file into place."""
    doc = upload_document(team.workspace, team.manager, name="notes.odt", content=b"one")
    tom = Dav(team.editor)
    assert tom.put(WS + "/notes.odt.tmp", b"two").status_code == 201
    assert tom.delete(WS + "/notes.odt").status_code == 204
    assert tom.move(WS + "/notes.odt.tmp", WS + "/notes.odt", overwrite=False).status_code == 201
    doc.refresh_from_db()
    assert not doc.in_trash
    assert doc.versions.count() == 2
    assert Document.objects.filter(workspace=team.workspace).count() == 1


def test_an_unchanged_save_makes_no_version(team: Any) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.docx", content=b"same")
    tom = Dav(team.editor)
    tom.put(WS + "/B00B1E5.tmp", b"same")
    tom.move(WS + "/minutes.docx", WS + "/~WRL0002.tmp", overwrite=False)
    assert tom.move(WS + "/B00B1E5.tmp", WS + "/minutes.docx", overwrite=False).status_code == 201
    assert tom.delete(WS + "/~WRL0002.tmp").status_code == 204
    assert doc.versions.count() == 1
    doc.refresh_from_db()
    assert not doc.in_trash


def test_a_rename_to_a_temporary_name_is_never_carried_into_the_workspace(team: Any) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.docx", content=b"x")
    tom = Dav(team.editor)
    assert tom.move(WS + "/minutes.docx", WS + "/~WRL0003.tmp").status_code == 201
    doc.refresh_from_db()
    assert doc.name == "minutes.docx"
    assert _others_see(team) == {f"/dav{WS}/minutes.docx"}
    # Nothing came in its place: once the hold ends, Tom sees it again.
    ScratchFile.objects.update(held_until=timezone.now() - timedelta(seconds=1))
    assert f"/dav{WS}/minutes.docx" in tom.listing(WS + "/")


def test_deleting_the_renamed_original_with_nothing_in_its_place_is_a_deletion(
    team: Any,
) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.docx", content=b"x")
    tom = Dav(team.editor)
    tom.move(WS + "/minutes.docx", WS + "/~WRL0004.tmp")
    assert tom.delete(WS + "/~WRL0004.tmp").status_code == 204
    doc.refresh_from_db()
    assert doc.in_trash and doc.deleted_by == team.editor


def test_a_viewer_cannot_start_the_dance(team: Any) -> None:
    upload_document(team.workspace, team.manager, name="minutes.docx", content=b"x")
    sam = Dav(team.viewer)
    assert sam.put(WS + "/~$minutes.docx", b"owner").status_code == 403
    assert sam.move(WS + "/minutes.docx", WS + "/~WRL0005.tmp").status_code == 403
    assert not ScratchFile.objects.exists()


def test_temporary_files_are_each_persons_own(team: Any) -> None:
    tom, priya = Dav(team.editor), Dav(team.manager)
    assert tom.put(WS + "/~$minutes.docx", b"Tom").status_code == 201
    assert priya.put(WS + "/~$minutes.docx", b"Priya").status_code == 201
    assert tom.get(WS + "/~$minutes.docx").content == b"Tom"
    assert priya.get(WS + "/~$minutes.docx").content == b"Priya"
    tom_lock = Word(team.editor).lock(WS + "/~$minutes.docx")
    assert tom_lock and Word(team.manager).lock(WS + "/~$minutes.docx")
    assert not Document.objects.exists()


def test_leftovers_are_swept_after_a_day(team: Any) -> None:
    from commonroom.webdav.models import DavLock
    from commonroom.webdav.schedule import JOBS

    tom = Dav(team.editor)
    tom.put(WS + "/~$left.docx", b"owner")
    tom.put(WS + "/~$fresh.docx", b"owner")
    Word(team.editor).lock(WS + "/~$fresh.docx")
    ScratchFile.objects.filter(name="~$left.docx").update(
        modified_at=timezone.now() - timedelta(days=2)
    )
    DavLock.objects.update(expire_at=timezone.now() - timedelta(seconds=1))
    (job,) = JOBS
    job.run()
    assert list(ScratchFile.objects.values_list("name", flat=True)) == ["~$fresh.docx"]
    assert not DavLock.objects.exists()
