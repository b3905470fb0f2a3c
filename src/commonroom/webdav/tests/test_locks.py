"""Locks: LOCK, refresh, UNLOCK, lockdiscovery and timeouts, kept in the database and met by
everyone, whatever each person calls the workspace."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from commonroom.webdav.locks import MAX_TIMEOUT
from commonroom.webdav.models import DavLock
from commonroom.webdav.tests.client import DAV, Dav, lock_token, properties
from commonroom.workspaces.tests.factories import make_workspace, upload_document

pytestmark = pytest.mark.django_db

WS = "/Weekly budget meeting"
DOC = WS + "/minutes.docx"


def _doc(team: Any) -> Any:
    return upload_document(team.workspace, team.manager, name="minutes.docx", content=b"v1")


def test_a_lock_is_discovered_refreshed_and_released(team: Any) -> None:
    _doc(team)
    tom = Dav(team.editor)
    response = tom.lock(DOC, owner="Tom Editor", timeout="Second-600")
    assert response.status_code == 200
    token = lock_token(response)
    active = properties_of(tom, DOC)["lockdiscovery"].find(f"{DAV}activelock")
    assert active.find(f"{DAV}locktoken/{DAV}href").text == token
    assert active.findtext(f"{DAV}owner/{DAV}href") == "Tom Editor"
    assert (
        active.findtext(f"{DAV}lockroot/{DAV}href") == "/dav/Weekly%20budget%20meeting/minutes.docx"
    )
    assert 590 <= int(active.findtext(f"{DAV}timeout").split("-")[1]) <= 600

    refreshed = tom.request("LOCK", DOC, headers={"If": f"(<{token}>)", "Timeout": "Second-1200"})
    assert refreshed.status_code == 200
    assert "Second-1" in refreshed.text

    assert tom.unlock(DOC, token).status_code == 204
    assert properties_of(tom, DOC)["lockdiscovery"] == ""  # empty: no lock


def test_a_lock_keeps_everyone_else_out_until_it_ends(team: Any) -> None:
    doc = _doc(team)
    tom, priya = Dav(team.editor), Dav(team.manager)
    token = lock_token(tom.lock(DOC))

    assert priya.lock(DOC).status_code == 423
    assert priya.put(DOC, b"Priya's").status_code == 423
    assert priya.delete(DOC).status_code == 423
    assert priya.move(DOC, WS + "/renamed.docx").status_code == 423
    assert priya.unlock(DOC, token).status_code == 403  # not hers to release
    assert tom.put(DOC, b"without the token").status_code == 423
    assert tom.put(DOC, b"Tom's", headers={"If": f"(<{token}>)"}).status_code == 204
    assert doc.versions.count() == 2

    DavLock.objects.update(expire_at=timezone.now() - timedelta(seconds=1))
    assert priya.put(DOC, b"Priya's").status_code == 204
    assert doc.versions.count() == 3


def test_locks_meet_whatever_each_person_calls_the_workspace(team: Any) -> None:
    _doc(team)
    make_workspace(manager=team.manager, name="Weekly budget meeting")  # Priya sees two now
    tom, priya = Dav(team.editor), Dav(team.manager)
    lock_token(tom.lock(DOC))
    hers = f"/Weekly budget meeting ({team.workspace.pk.hex[:8]})/minutes.docx"
    assert priya.get(hers).status_code == 200
    assert priya.put(hers, b"Priya's").status_code == 423


def test_a_lock_lasts_at_most_an_hour(team: Any) -> None:
    _doc(team)
    response = Dav(team.editor).lock(DOC, timeout="Infinite")
    assert response.status_code == 200
    lock = DavLock.objects.get()
    assert lock.timeout == MAX_TIMEOUT
    assert lock.expire_at <= timezone.now() + timedelta(seconds=MAX_TIMEOUT)


def test_a_folder_locked_deep_holds_what_is_inside(team: Any) -> None:
    from commonroom.documents.tests.factories import make_folder

    folder = make_folder(team.manager, team.workspace, "Papers")
    upload_document(team.workspace, team.manager, name="a.txt", folder=folder)
    tom, priya = Dav(team.editor), Dav(team.manager)
    token = lock_token(tom.lock(WS + "/Papers/", depth="infinity"))
    assert priya.put(WS + "/Papers/a.txt", b"x").status_code == 423
    assert priya.put(WS + "/Papers/new.txt", b"x").status_code == 423
    assert priya.delete(WS + "/Papers").status_code == 423
    assert tom.put(WS + "/Papers/a.txt", b"x", headers={"If": f"(<{token}>)"}).status_code == 204


def test_locks_along_the_path_are_met_at_every_level(team: Any) -> None:
    """A write meets the locks on its own name and the deep ones above it, however far up; a
    folder's shallow lock holds the folder and its list of names, not what is below."""
    from commonroom.documents.tests.factories import make_folder

    papers = make_folder(team.manager, team.workspace, "Papers")
    make_folder(team.manager, team.workspace, "2026", parent=papers)
    upload_document(team.workspace, team.manager, name="b.txt", folder=papers)
    tom, priya = Dav(team.editor), Dav(team.manager)
    shallow = lock_token(tom.lock(WS + "/Papers/", depth="0"))
    assert priya.put(WS + "/Papers/2026/a.txt", b"x").status_code == 201
    assert priya.put(WS + "/Papers/b.txt", b"x").status_code == 204
    assert priya.put(WS + "/Papers/new.txt", b"x").status_code == 423  # its list of names
    assert tom.unlock(WS + "/Papers/", shallow).status_code == 204
    # The workspace's top level, locked deep by a manager.
    deep = lock_token(priya.lock(WS + "/", depth="infinity"))
    assert tom.put(WS + "/Papers/2026/a.txt", b"y").status_code == 423
    assert tom.put(WS + "/Papers/2026/c.txt", b"y").status_code == 423
    with_token = {"If": f"(<{deep}>)"}
    assert priya.put(WS + "/Papers/2026/a.txt", b"y", headers=with_token).status_code == 204
    # Priya's lock is hers with its token only: without it, her own write waits too.
    assert priya.put(WS + "/Papers/2026/a.txt", b"z").status_code == 423


def test_locking_a_new_name_makes_an_empty_file_only_its_person_sees(team: Any) -> None:
    tom = Dav(team.editor)
    response = tom.lock(WS + "/new.docx")
    assert response.status_code == 201
    token = lock_token(response)
    assert f"/dav{WS}/new.docx" in tom.listing(WS + "/")
    assert Dav(team.manager).listing(WS + "/") == {}
    assert tom.put(WS + "/new.docx", b"content", headers={"If": f"(<{token}>)"}).status_code == 204
    assert Dav(team.manager).get(WS + "/new.docx").content == b"content"
    assert tom.unlock(WS + "/new.docx", token).status_code == 204


def test_readers_cannot_lock(team: Any) -> None:
    _doc(team)
    for role in ("viewer", "commenter"):
        response = Dav(team.by_role[role]).lock(DOC)
        assert response.status_code == 403
    assert Dav(team.outsider).lock(DOC).status_code == 404
    assert not DavLock.objects.exists()


def properties_of(client: Dav, path: str) -> dict[str, Any]:
    response = client.propfind(path, depth="0")
    assert response.status_code == 207
    return next(iter(properties(response).values()))
