"""Reading through WebDAV: workspaces as top-level folders, then folders and documents as in
the web pages; PROPFIND's properties; GET of the latest version's bytes."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from commonroom.audit.models import AuditEvent
from commonroom.documents.models import VersionRead
from commonroom.documents.tests.factories import make_folder, new_version
from commonroom.webdav.tests.client import Dav
from commonroom.workspaces.tests.factories import add_member, make_workspace, upload_document

pytestmark = pytest.mark.django_db

WS = "/Weekly budget meeting"


def test_the_root_lists_only_the_persons_workspaces(team: Any, dav: dict[str, Dav]) -> None:
    other = make_workspace(name="Someone else's")
    add_member(other, team.editor, "viewer")
    make_workspace(name="Not Tom's")

    listing = dav["editor"].listing("/")

    assert set(listing) == {"/dav/Weekly budget meeting/", "/dav/Someone else's/"}
    assert all(p["resourcetype"] == ["collection"] for p in listing.values())


def test_two_workspaces_of_one_name_are_told_apart_by_their_ids(team: Any) -> None:
    second = make_workspace(manager=team.manager, name="weekly BUDGET meeting")
    listing = Dav(team.manager).listing("/")
    first_id, second_id = team.workspace.pk.hex[:8], second.pk.hex[:8]
    assert set(listing) == {
        f"/dav/Weekly budget meeting ({first_id})/",
        f"/dav/weekly BUDGET meeting ({second_id})/",
    }


def test_a_workspace_name_with_slashes_is_one_folder(team: Any) -> None:
    make_workspace(manager=team.manager, name="Finance / HR: 2026")
    listing = Dav(team.manager).listing("/")
    assert "/dav/Finance - HR: 2026/" in listing
    assert Dav(team.manager).propfind("/Finance - HR: 2026/", depth="0").status_code == 207


def test_folders_and_documents_as_in_the_web_pages(team: Any, dav: dict[str, Dav]) -> None:
    folder = make_folder(team.manager, team.workspace, "Papers")
    upload_document(team.workspace, team.manager, name="minutes.txt", content=b"v1")
    upload_document(team.workspace, team.manager, name="agenda.txt", folder=folder)

    top = dav["viewer"].listing(WS + "/")
    inside = dav["viewer"].listing(WS + "/Papers/")

    assert set(top) == {f"/dav{WS}/Papers/", f"/dav{WS}/minutes.txt"}
    assert set(inside) == {f"/dav{WS}/Papers/agenda.txt"}


def test_propfind_gives_the_latest_versions_properties(team: Any, dav: dict[str, Dav]) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.txt", content=b"one")
    version = new_version(team.manager, doc, b"the second version")

    props = dav["viewer"].listing(WS + "/")[f"/dav{WS}/minutes.txt"]

    assert props["getcontentlength"] == str(len(b"the second version"))
    assert props["getetag"] == f'"{hashlib.sha256(b"the second version").hexdigest()}"'
    assert props["getetag"].strip('"') == version.blob_id
    assert props["getcontenttype"] == "text/plain"
    assert props["displayname"] == "minutes.txt"
    assert props["resourcetype"] == []
    assert props["getlastmodified"].endswith("GMT")
    assert props["creationdate"].startswith(str(doc.created_at.year))


def test_get_streams_the_latest_version_and_is_audited(team: Any, dav: dict[str, Dav]) -> None:
    doc = upload_document(team.workspace, team.manager, name="minutes.txt", content=b"one")
    new_version(team.manager, doc, b"two")

    response = dav["commenter"].get(WS + "/minutes.txt")

    assert response.status_code == 200
    assert response.content == b"two"
    assert response.headers["ETag"] == f'"{hashlib.sha256(b"two").hexdigest()}"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    downloaded = AuditEvent.objects.filter(action="version.downloaded", document_id=doc.pk)
    assert downloaded.get().data["version"] == 2
    head = dav["commenter"].request("HEAD", WS + "/minutes.txt")
    assert head.status_code == 200 and head.content == b""
    assert downloaded.count() == 1  # a HEAD reads no bytes


def test_a_get_is_a_reading_of_the_latest_version(team: Any, dav: dict[str, Dav]) -> None:
    """A download over WebDAV counts as reading the version, as any download does (read
    receipts, decision 26); a HEAD reads nothing."""
    doc = upload_document(team.workspace, team.manager, name="minutes.txt", content=b"one")
    new_version(team.manager, doc, b"two")

    assert dav["viewer"].request("HEAD", WS + "/minutes.txt").status_code == 200
    assert not VersionRead.objects.exists()
    assert dav["viewer"].get(WS + "/minutes.txt").status_code == 200
    assert dav["viewer"].get(WS + "/minutes.txt").status_code == 200

    receipt = VersionRead.objects.get()
    assert (receipt.reader_id, receipt.version.number, receipt.read_by) == (
        team.viewer.pk,
        2,
        "download",
    )
    assert AuditEvent.objects.filter(action="version.read", document_id=doc.pk).count() == 1


def test_an_active_file_is_never_served_as_its_type(team: Any, dav: dict[str, Dav]) -> None:
    upload_document(team.workspace, team.manager, name="page.html", content=b"<script>x</script>")
    response = dav["viewer"].get(WS + "/page.html")
    assert response.headers["Content-Type"] == "application/octet-stream"


def test_a_range_is_served(team: Any, dav: dict[str, Dav]) -> None:
    upload_document(team.workspace, team.manager, name="minutes.txt", content=b"0123456789")
    response = dav["viewer"].get(WS + "/minutes.txt", headers={"Range": "bytes=2-4"})
    assert response.status_code == 206
    assert response.content == b"234"


def test_lookups_ignore_case(team: Any, dav: dict[str, Dav]) -> None:
    upload_document(team.workspace, team.manager, name="Minutes.txt", content=b"x")
    assert dav["viewer"].get("/weekly BUDGET meeting/MINUTES.TXT").content == b"x"


def test_a_document_named_like_a_folder_beside_it_is_numbered(
    team: Any, dav: dict[str, Dav]
) -> None:
    make_folder(team.manager, team.workspace, "Minutes")
    upload_document(team.workspace, team.manager, name="minutes", content=b"doc")

    listing = dav["viewer"].listing(WS + "/")

    assert set(listing) == {f"/dav{WS}/Minutes/", f"/dav{WS}/minutes (2)"}
    assert dav["viewer"].get(WS + "/minutes (2)").content == b"doc"


def test_hostile_names_are_one_segment_each(team: Any, dav: dict[str, Dav]) -> None:
    name = "Budget #1 ?&% 50% ü “quoted” .docx"
    upload_document(team.workspace, team.manager, name=name, content=b"x")
    listing = dav["viewer"].listing(WS + "/")
    assert f"/dav{WS}/{name}" in listing
    assert dav["viewer"].get(f"{WS}/{name}").content == b"x"


def test_a_listing_of_many_documents_takes_a_fixed_number_of_queries(
    team: Any, dav: dict[str, Dav], django_assert_max_num_queries: Any
) -> None:
    for n in range(30):
        upload_document(team.workspace, team.manager, name=f"doc-{n}.txt", content=b"%d" % n)
    with django_assert_max_num_queries(14):
        listing = dav["viewer"].listing(WS + "/")
    assert len(listing) == 30
