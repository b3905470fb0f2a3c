"""Writing through WebDAV: each method through the service the web pages and the API use,
decided by the same abilities; every role against every method."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from commonroom.audit.models import AuditEvent
from commonroom.documents.models import Document, Folder
from commonroom.documents.services import version_seal
from commonroom.documents.tests.factories import access_for, make_folder
from commonroom.webdav.tests.client import Dav
from commonroom.workspaces.services import workspace_set_archived
from commonroom.workspaces.tests.factories import upload_document

pytestmark = pytest.mark.django_db

WS = "/Weekly budget meeting"
PROPPATCH = (
    '<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" '
    'xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>'
    "<Z:Win32LastModifiedTime>Mon, 24 Nov 2026 10:02:00 GMT</Z:Win32LastModifiedTime>"
    "</D:prop></D:set></D:propertyupdate>"
)


def _world(team: Any) -> Document:
    make_folder(team.manager, team.workspace, "Papers")
    return upload_document(team.workspace, team.manager, name="minutes.txt", content=b"v1")


def _attempts(client: Dav) -> dict[str, int]:
    """Every method once, each on its own target, by status."""
    return {
        "GET": client.get(WS + "/minutes.txt").status_code,
        "PROPFIND": client.propfind(WS + "/", "1").status_code,
        "PUT existing": client.put(WS + "/minutes.txt", b"changed").status_code,
        "PUT new": client.put(WS + "/new.txt", b"new").status_code,
        "MKCOL": client.mkcol(WS + "/Made").status_code,
        "COPY into": client.copy(WS + "/minutes.txt", WS + "/Papers/copy.txt").status_code,
        "PROPPATCH": client.request(
            "PROPPATCH", WS + "/minutes.txt", content=PROPPATCH.encode()
        ).status_code,
        "LOCK": client.lock(WS + "/minutes.txt").status_code,
        "MOVE": client.move(WS + "/Papers", WS + "/Renamed").status_code,
        "DELETE": client.delete(WS + "/minutes.txt").status_code,
    }


@pytest.mark.parametrize("role", ["viewer", "commenter"])
def test_readers_read_and_every_change_is_refused(team: Any, role: str) -> None:
    doc = _world(team)
    seen = _attempts(Dav(team.by_role[role]))
    assert seen["GET"] == 200 and seen["PROPFIND"] == 207
    changes = {k: v for k, v in seen.items() if k not in ("GET", "PROPFIND")}
    assert changes == dict.fromkeys(changes, 403)
    assert Document.objects.filter(workspace=team.workspace).count() == 1
    assert doc.versions.count() == 1
    assert Folder.objects.filter(name__in=["Made", "Renamed"]).count() == 0
    assert not AuditEvent.objects.filter(
        action__in=["version.uploaded", "document.uploaded", "folder.created"],
        actor_id=team.by_role[role].pk,
    ).exists()


@pytest.mark.parametrize("role", ["editor", "manager"])
def test_editors_and_managers_change_through_the_services(team: Any, role: str) -> None:
    doc = _world(team)
    person = team.by_role[role]
    seen = _attempts(Dav(person))
    assert seen == {
        "GET": 200,
        "PROPFIND": 207,
        "PUT existing": 204,
        "PUT new": 201,
        "MKCOL": 201,
        "COPY into": 201,
        "PROPPATCH": 207,
        "LOCK": 200,
        "MOVE": 201,
        # The lock taken above (without its token now): a change by anyone waits.
        "DELETE": 423,
    }
    actions = set(AuditEvent.objects.filter(actor_id=person.pk).values_list("action", flat=True))
    assert {"version.uploaded", "document.uploaded", "folder.created", "folder.renamed"} <= actions
    assert doc.versions.count() == 2
    assert Folder.objects.get(workspace=team.workspace, name="Renamed")


def test_a_non_member_finds_nothing_whatever_the_method(team: Any) -> None:
    _world(team)
    seen = _attempts(Dav(team.outsider))
    assert seen == dict.fromkeys(seen, 404) | {"PROPFIND": 404}


def test_put_is_a_new_version_by_the_upload_service(team: Any) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.txt", content=b"v1")
    response = Dav(team.editor).put(WS + "/minutes.txt", b"version two")
    assert response.status_code == 204
    latest = doc.versions.get(number=2)
    assert latest.author == team.editor and latest.size == len(b"version two")
    assert response.headers["ETag"] == f'"{latest.blob_id}"'
    event = AuditEvent.objects.get(action="version.uploaded", document_id=doc.pk)
    assert event.data["version"] == 2


def test_the_same_bytes_again_are_a_success_without_a_version(team: Any) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.txt", content=b"v1")
    response = Dav(team.editor).put(WS + "/minutes.txt", b"v1")
    assert response.status_code == 204
    assert doc.versions.count() == 1


def test_no_bytes_over_a_document_change_nothing(team: Any) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.txt", content=b"v1")
    assert Dav(team.editor).put(WS + "/minutes.txt", b"").status_code == 204
    assert doc.versions.count() == 1
    assert Dav(team.editor).get(WS + "/minutes.txt").content == b"v1"


def test_a_new_name_is_a_new_document_and_an_empty_one_waits_for_content(team: Any) -> None:
    tom = Dav(team.editor)
    assert tom.put(WS + "/empty.txt", b"").status_code == 201
    assert not Document.objects.filter(name="empty.txt").exists()
    assert f"/dav{WS}/empty.txt" in tom.listing(WS + "/")
    assert f"/dav{WS}/empty.txt" not in Dav(team.manager).listing(WS + "/")
    assert tom.put(WS + "/empty.txt", b"content").status_code == 204
    doc = Document.objects.get(name="empty.txt")
    assert doc.versions.get().size == len(b"content")
    assert list(tom.listing(WS + "/")) == [f"/dav{WS}/empty.txt"]


def test_a_new_name_with_content_stores_the_document_and_no_placeholder(team: Any) -> None:
    """A PUT's new name is stored as what its body becomes: a document, never an empty
    placeholder row on the way (made and deleted again within the request)."""
    from commonroom.webdav.models import ScratchFile
    from commonroom.webdav.services import MAX_SCRATCH_FILES

    tom = Dav(team.editor)
    for n in range(MAX_SCRATCH_FILES):  # the most temporary files a person may have
        ScratchFile.objects.create(
            user=team.editor,
            workspace=team.workspace,
            name=f"~$tmp{n}.docx",
            name_key=f"~$tmp{n}.docx",
        )
    assert tom.put(WS + "/report.txt", b"content").status_code == 201
    assert Document.objects.get(name="report.txt").versions.get().size == len(b"content")
    assert ScratchFile.objects.filter(user=team.editor).count() == MAX_SCRATCH_FILES
    assert not ScratchFile.objects.filter(name="report.txt").exists()
    # A temporary file is still a scratch file, and still counted.
    assert tom.put(WS + "/~$one-more.docx", b"x").status_code == 507
    assert not ScratchFile.objects.filter(name="~$one-more.docx").exists()


def test_a_new_name_refused_stores_nothing(team: Any) -> None:
    from commonroom.webdav.models import ScratchFile

    assert Dav(team.viewer).put(WS + "/report.txt", b"content").status_code == 403
    assert Dav(team.outsider).put(WS + "/report.txt", b"content").status_code == 404
    assert not Document.objects.filter(name="report.txt").exists()
    assert not ScratchFile.objects.exists()


def test_a_put_over_the_size_limit_is_refused_and_keeps_nothing(team: Any, settings: Any) -> None:
    settings.COMMONROOM_MAX_UPLOAD_BYTES = 10
    response = Dav(team.editor).put(WS + "/big.txt", b"x" * 11)
    assert response.status_code == 413
    assert "larger than the limit" in response.text
    assert not Document.objects.filter(name="big.txt").exists()
    assert Dav(team.editor).listing(WS + "/") == {}
    from commonroom.webdav.models import ScratchFile

    assert not ScratchFile.objects.exists()


def test_a_put_without_a_length_over_the_limit_is_cut_off(team: Any, settings: Any) -> None:
    settings.COMMONROOM_MAX_UPLOAD_BYTES = 10

    def chunks() -> Any:
        yield b"x" * 8
        yield b"x" * 8

    doc = upload_document(team.workspace, team.manager, name="minutes.txt", content=b"v1")
    response = Dav(team.editor).put(WS + "/minutes.txt", chunks())
    assert response.status_code == 413
    assert doc.versions.count() == 1


def test_delete_goes_to_the_trash(team: Any) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.txt")
    folder = make_folder(team.manager, team.workspace, "Papers")
    tom = Dav(team.editor)
    assert tom.delete(WS + "/minutes.txt").status_code == 204
    assert tom.delete(WS + "/Papers").status_code == 204
    doc.refresh_from_db()
    folder.refresh_from_db()
    assert doc.in_trash and doc.deleted_by == team.editor
    assert folder.in_trash
    assert tom.get(WS + "/minutes.txt").status_code == 404


def test_mkcol_and_move_are_the_folder_and_document_services(team: Any) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.txt")
    tom = Dav(team.editor)
    assert tom.mkcol(WS + "/2026").status_code == 201
    assert tom.mkcol(WS + "/2026").status_code == 405
    assert tom.move(WS + "/minutes.txt", WS + "/2026/minutes-final.txt").status_code == 201
    doc.refresh_from_db()
    assert doc.name == "minutes-final.txt" and doc.folder.name == "2026"
    assert tom.move(WS + "/2026", WS + "/Archive 2026").status_code == 201
    assert tom.get(WS + "/Archive 2026/minutes-final.txt").status_code == 200
    actions = list(
        AuditEvent.objects.filter(actor_id=team.editor.pk)
        .exclude(action__in=["version.downloaded", "version.read", "token.created"])
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["folder.created", "document.moved", "document.renamed", "folder.renamed"]


def test_moves_between_workspaces_are_refused_with_a_sentence(team: Any) -> None:
    from commonroom.workspaces.tests.factories import add_member, make_workspace

    other = make_workspace(manager=team.manager, name="Other")
    add_member(other, team.editor, "editor")
    upload_document(team.workspace, team.manager, name="minutes.txt")
    response = Dav(team.editor).move(WS + "/minutes.txt", "/Other/minutes.txt")
    assert response.status_code == 403
    assert "between workspaces" in response.text
    assert Dav(team.editor).copy(WS + "/minutes.txt", "/Other/minutes.txt").status_code == 403


def test_a_sealed_document_refuses_changes_with_423_and_its_sentence(team: Any) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.txt", content=b"v1")
    with transaction.atomic():
        version_seal(actor=team.manager, document=doc, version=doc.versions.get())
    tom = Dav(team.editor)
    for response in (
        tom.put(WS + "/minutes.txt", b"v2"),
        tom.lock(WS + "/minutes.txt"),
        tom.move(WS + "/minutes.txt", WS + "/~WRL0001.tmp"),
        tom.delete(WS + "/minutes.txt"),
    ):
        assert response.status_code == 423, response.text
        assert "final record" in response.text
    assert doc.versions.count() == 1
    assert tom.get(WS + "/minutes.txt").content == b"v1"


def test_an_archived_workspace_is_read_only(team: Any) -> None:
    upload_document(team.workspace, team.manager, name="minutes.txt", content=b"v1")
    workspace_set_archived(
        actor=team.manager, access=access_for(team.manager, team.workspace), archived=True
    )
    priya = Dav(team.manager)
    assert priya.get(WS + "/minutes.txt").status_code == 200
    response = priya.put(WS + "/minutes.txt", b"v2")
    assert response.status_code == 403
    assert "archived" in response.text
    assert priya.lock(WS + "/minutes.txt").status_code == 403
    assert priya.mkcol(WS + "/New").status_code == 403


def test_if_match_and_if_none_match_are_honoured(team: Any) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.txt", content=b"v1")
    tom = Dav(team.editor)
    etag = tom.get(WS + "/minutes.txt").headers["ETag"]
    stale = tom.put(WS + "/minutes.txt", b"v2", headers={"If-Match": '"0000"'})
    assert stale.status_code == 412
    assert tom.put(WS + "/minutes.txt", b"v2", headers={"If-Match": etag}).status_code == 204
    assert tom.put(WS + "/minutes.txt", b"v3", headers={"If-Match": etag}).status_code == 412
    assert tom.put(WS + "/minutes.txt", b"x", headers={"If-None-Match": "*"}).status_code == 412
    assert tom.put(WS + "/fresh.txt", b"x", headers={"If-None-Match": "*"}).status_code == 201
    assert doc.versions.count() == 2
    current = tom.get(WS + "/minutes.txt").headers["ETag"]
    assert tom.get(WS + "/minutes.txt", headers={"If-None-Match": current}).status_code == 304


def test_copy_makes_a_new_document_with_the_same_bytes(team: Any) -> None:
    upload_document(team.workspace, team.manager, name="minutes.txt", content=b"v1")
    tom = Dav(team.editor)
    assert tom.copy(WS + "/minutes.txt", WS + "/minutes copy.txt").status_code == 201
    copy = Document.objects.get(name="minutes copy.txt")
    assert copy.versions.get().size == 2
    assert tom.get(WS + "/minutes copy.txt").content == b"v1"


def test_dead_properties_are_kept_by_identity(team: Any) -> None:
    upload_document(team.workspace, team.manager, name="minutes.txt", content=b"v1")
    tom = Dav(team.editor)
    assert (
        tom.request("PROPPATCH", WS + "/minutes.txt", content=PROPPATCH.encode()).status_code == 207
    )
    tom.move(WS + "/minutes.txt", WS + "/renamed.txt")
    body = (
        '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:">'
        "<D:prop><Z:Win32LastModifiedTime/></D:prop></D:propfind>"
    )
    response = tom.propfind(WS + "/renamed.txt", "0", body)
    assert "Mon, 24 Nov 2026 10:02:00 GMT" in response.text
