"""Folders, documents, versions and the trash through the JSON API: uploads (multipart field
``file``), downloads (the exact bytes, as an attachment, audited), amendments that cross, restores,
and what each role may do."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from api_support import API, bearer, doc_url, error_of, upload_via_api, ws_url
from django.core.files.uploadedfile import SimpleUploadedFile

pytestmark = pytest.mark.django_db


def a_file(name: str = "minutes.txt", content: bytes = b"hello\n") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/plain")


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


# --- Folders ---------------------------------------------------------------------------------


def test_folders_create_list_rename_move_and_delete(team):
    editor = bearer(team.editor)

    papers = editor.post(ws_url(team.workspace, "/folders"), {"name": "Papers"}, "application/json")
    assert papers.status_code == 201
    papers_id = papers.json()["id"]
    assert papers.json()["parent_id"] is None
    child = editor.post(
        ws_url(team.workspace, "/folders"),
        {"name": "2026", "parent_id": papers_id},
        "application/json",
    )
    assert child.status_code == 201
    child_id = child.json()["id"]

    top = editor.get(ws_url(team.workspace, "/folders")).json()["items"]
    inside = editor.get(ws_url(team.workspace, f"/folders?parent_id={papers_id}")).json()["items"]
    assert [f["name"] for f in top] == ["Papers"]
    assert [(f["name"], f["parent_id"]) for f in inside] == [("2026", papers_id)]

    renamed = editor.patch(
        ws_url(team.workspace, f"/folders/{child_id}"), {"name": "Year 2026"}, "application/json"
    )
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Year 2026"
    moved = editor.patch(
        ws_url(team.workspace, f"/folders/{child_id}"), {"move_to_top": True}, "application/json"
    )
    assert moved.json()["parent_id"] is None
    assert sorted(
        f["name"] for f in editor.get(ws_url(team.workspace, "/folders")).json()["items"]
    ) == [
        "Papers",
        "Year 2026",
    ]

    deleted = editor.delete(ws_url(team.workspace, f"/folders/{papers_id}"))
    assert deleted.status_code == 204
    assert [f["name"] for f in editor.get(ws_url(team.workspace, "/folders")).json()["items"]] == [
        "Year 2026"
    ]


def test_a_folder_name_taken_is_a_conflict(team):
    editor = bearer(team.editor)
    editor.post(ws_url(team.workspace, "/folders"), {"name": "Papers"}, "application/json")

    response = editor.post(
        ws_url(team.workspace, "/folders"), {"name": "papers"}, "application/json"
    )

    assert response.status_code == 409
    assert error_of(response)["code"] == "name_taken"


def test_a_folder_cannot_move_inside_itself(team):
    editor = bearer(team.editor)
    outer = editor.post(
        ws_url(team.workspace, "/folders"), {"name": "A"}, "application/json"
    ).json()
    inner = editor.post(
        ws_url(team.workspace, "/folders"),
        {"name": "B", "parent_id": outer["id"]},
        "application/json",
    ).json()

    response = editor.patch(
        ws_url(team.workspace, f"/folders/{outer['id']}"),
        {"parent_id": inner["id"]},
        "application/json",
    )

    assert response.status_code == 400
    assert error_of(response)["code"] == "folder_cycle"


@pytest.mark.parametrize("role", ["commenter", "viewer"])
def test_readers_may_not_create_folders(team, role):
    response = bearer(team.by_role[role]).post(
        ws_url(team.workspace, "/folders"), {"name": "Mine"}, "application/json"
    )

    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"


def test_a_folder_of_another_workspace_is_404(team):
    from commonroom.documents import services
    from commonroom.workspaces.selectors import workspace_access
    from commonroom.workspaces.tests.factories import make_workspace

    other = make_workspace(manager=team.manager, name="Other")
    foreign = services.folder_create(
        actor=team.manager,
        access=workspace_access(user=team.manager, workspace_id=other.pk),
        name="Elsewhere",
    )
    client = bearer(team.manager)

    for response in (
        client.patch(
            ws_url(team.workspace, f"/folders/{foreign.pk}"), {"name": "x"}, "application/json"
        ),
        client.delete(ws_url(team.workspace, f"/folders/{foreign.pk}")),
        client.get(ws_url(team.workspace, f"/folders?parent_id={foreign.pk}")),
        upload_via_api(client, team.workspace, folder_id=str(foreign.pk)),
    ):
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"


# --- Documents -------------------------------------------------------------------------------


def test_upload_creates_a_document_with_its_first_version(team):
    content = b"Minutes of the weekly budget meeting\n"

    response = upload_via_api(
        bearer(team.editor), team.workspace, "minutes.txt", content, note="First draft"
    )

    assert response.status_code == 201
    document, version = response.json()["document"], response.json()["version"]
    assert document["name"] == "minutes.txt"
    assert document["current_version"] == 1
    assert document["folder_id"] is None
    assert document["abilities"]["upload_version"] is True
    assert document["latest"] == version
    assert version["number"] == 1
    assert version["size"] == len(content)
    assert version["sha256"] == hashlib.sha256(content).hexdigest()
    assert version["note"] == "First draft"
    assert version["author_email"] == "tom@example.org"
    assert version["content_type"] == "text/plain"


def test_upload_into_a_folder(team):
    editor = bearer(team.editor)
    folder = editor.post(
        ws_url(team.workspace, "/folders"), {"name": "Papers"}, "application/json"
    ).json()

    response = upload_via_api(editor, team.workspace, folder_id=folder["id"])

    assert response.status_code == 201
    assert response.json()["document"]["folder_id"] == folder["id"]
    listed = editor.get(ws_url(team.workspace, f"/documents?folder_id={folder['id']}")).json()[
        "items"
    ]
    assert [d["name"] for d in listed] == ["minutes.txt"]
    assert editor.get(ws_url(team.workspace, "/documents")).json()["items"] == []


def test_an_empty_folder_id_means_the_top_level(team):
    response = upload_via_api(bearer(team.editor), team.workspace, folder_id="")

    assert response.status_code == 201
    assert response.json()["document"]["folder_id"] is None


def test_the_same_upload_key_twice_stores_one_version(team):
    editor = bearer(team.editor)

    first = upload_via_api(editor, team.workspace, content=b"one", upload_key="retry-7f3a")
    again = upload_via_api(editor, team.workspace, content=b"one", upload_key="retry-7f3a")

    assert first.status_code == again.status_code == 201
    assert again.json()["version"]["number"] == first.json()["version"]["number"] == 1
    assert again.json()["document"]["current_version"] == 1


def test_uploading_a_name_that_exists_adds_a_version(team):
    editor = bearer(team.editor)
    upload_via_api(editor, team.workspace, content=b"one")

    second = upload_via_api(editor, team.workspace, content=b"two")

    assert second.json()["version"]["number"] == 2
    assert len(editor.get(ws_url(team.workspace, "/documents")).json()["items"]) == 1


def test_upload_without_a_file_is_422(team):
    response = bearer(team.editor).post(ws_url(team.workspace, "/documents"), {"note": "no file"})

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid"
    assert error["detail"][0]["loc"][-1] == "file"


@pytest.mark.parametrize("role", ["commenter", "viewer"])
def test_readers_may_not_upload(team, role):
    from commonroom.documents.models import Document

    response = upload_via_api(bearer(team.by_role[role]), team.workspace)

    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"
    assert not Document.objects.exists()


def test_an_over_size_upload_is_413_and_nothing_is_kept(team, settings, tmp_path):
    from commonroom.documents.models import Blob, Document

    settings.COMMONROOM_MAX_UPLOAD_BYTES = 1000
    editor = bearer(team.editor)

    for response in (
        upload_via_api(editor, team.workspace, "big.bin", b"x" * 5000),
        upload_via_api(editor, team.workspace, "big.bin", b"x" * 5000, folder_id=str(uuid.uuid4())),
    ):
        assert response.status_code == 413
        error = error_of(response)
        assert error["code"] == "too_large"
        assert "limit" in error["detail"]
    assert not Document.objects.exists()
    assert not Blob.objects.exists()
    assert [p for p in (tmp_path / "upload-tmp").iterdir()] == []


def test_an_over_size_new_version_is_413_and_the_document_is_unchanged(team, settings):
    editor = bearer(team.editor)
    doc = upload_via_api(editor, team.workspace, content=b"small").json()["document"]
    settings.COMMONROOM_MAX_UPLOAD_BYTES = 1000

    response = editor.post(
        doc_url(team.workspace, doc["id"], "/versions"),
        {"file": a_file("minutes.txt", b"y" * 5000), "based_on": "1"},
    )

    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"
    assert len(editor.get(doc_url(team.workspace, doc["id"], "/versions")).json()["items"]) == 1


def test_get_a_document_with_its_latest_version_and_abilities(team, seeded):
    response = bearer(team.viewer).get(doc_url(team.workspace, seeded.document.pk))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(seeded.document.pk)
    assert body["current_version"] == 2
    assert body["latest"]["number"] == 2
    assert body["latest"]["note"] == "Amended"
    assert body["abilities"] == {
        "view": True,
        "download": True,
        "comment": False,
        "upload_version": False,
        "restore_version": False,
        "rename": False,
        "move": False,
        "delete": False,
        "restore": False,
        "purge": False,
        "reopen": False,
        "break_lock": False,
        "see_readers": False,
        "remind_readers": False,
    }


def test_documents_list_with_abilities_per_role(team, seeded):
    for role, may_upload in [("editor", True), ("commenter", False)]:
        (doc,) = (
            bearer(team.by_role[role]).get(ws_url(team.workspace, "/documents")).json()["items"]
        )
        assert doc["id"] == str(seeded.document.pk)
        assert doc["abilities"]["upload_version"] is may_upload
        assert doc["abilities"]["comment"] is True


@pytest.mark.parametrize("forged", [str(uuid.uuid4()), "nope", "0"])
def test_a_forged_document_id_is_404(team, seeded, forged):
    client = bearer(team.manager)

    for response in (
        client.get(doc_url(team.workspace, forged)),
        client.get(doc_url(team.workspace, forged, "/versions")),
        client.get(doc_url(team.workspace, forged, "/versions/1/content")),
        client.patch(doc_url(team.workspace, forged), {"name": "x.txt"}, "application/json"),
        client.delete(doc_url(team.workspace, forged)),
    ):
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"


def test_a_document_is_not_reachable_through_another_workspace(team, seeded):
    from commonroom.workspaces.tests.factories import make_workspace

    mine = make_workspace(manager=team.manager, name="Mine")

    response = bearer(team.manager).get(doc_url(mine, seeded.document.pk))

    assert response.status_code == 404


def test_a_non_member_cannot_reach_a_document_or_its_bytes(team, seeded):
    client = bearer(team.outsider)

    assert client.get(doc_url(team.workspace, seeded.document.pk)).status_code == 404
    response = client.get(doc_url(team.workspace, seeded.document.pk, "/versions/1/content"))
    assert response.status_code == 404
    assert b"version one" not in body_of(response)


def test_rename_and_move_a_document(team, seeded):
    editor = bearer(team.editor)

    renamed = editor.patch(
        doc_url(team.workspace, seeded.document.pk),
        {"name": "minutes-final.txt"},
        "application/json",
    )
    moved = editor.patch(
        doc_url(team.workspace, seeded.document.pk),
        {"folder_id": str(seeded.folder.pk)},
        "application/json",
    )

    assert renamed.status_code == 200
    assert renamed.json()["name"] == "minutes-final.txt"
    assert moved.status_code == 200
    assert moved.json()["folder_id"] == str(seeded.folder.pk)
    back = editor.patch(
        doc_url(team.workspace, seeded.document.pk), {"move_to_top": True}, "application/json"
    )
    assert back.json()["folder_id"] is None


def test_renaming_onto_an_existing_name_is_a_conflict(team, seeded):
    editor = bearer(team.editor)
    upload_via_api(editor, team.workspace, "agenda.txt")

    response = editor.patch(
        doc_url(team.workspace, seeded.document.pk), {"name": "Agenda.txt"}, "application/json"
    )

    assert response.status_code == 409
    assert error_of(response)["code"] == "name_taken"
    seeded.document.refresh_from_db()
    assert seeded.document.name == "minutes.txt"


@pytest.mark.parametrize("role", ["commenter", "viewer"])
def test_readers_may_not_rename_move_or_delete(team, seeded, role):
    client = bearer(team.by_role[role])

    for response in (
        client.patch(
            doc_url(team.workspace, seeded.document.pk), {"name": "x.txt"}, "application/json"
        ),
        client.delete(doc_url(team.workspace, seeded.document.pk)),
    ):
        assert response.status_code == 403
        assert error_of(response)["code"] == "permission_denied"
    seeded.document.refresh_from_db()
    assert seeded.document.name == "minutes.txt"
    assert seeded.document.deleted_at is None


# --- Versions --------------------------------------------------------------------------------


def test_versions_are_listed_newest_first(team, seeded):
    listed = (
        bearer(team.viewer)
        .get(doc_url(team.workspace, seeded.document.pk, "/versions"))
        .json()["items"]
    )

    assert [v["number"] for v in listed] == [2, 1]
    assert listed[0]["sha256"] == hashlib.sha256(b"version two\n").hexdigest()
    assert listed[1]["sha256"] == hashlib.sha256(b"version one\n").hexdigest()


def test_a_new_version_based_on_the_latest(team, seeded):
    response = bearer(team.editor).post(
        doc_url(team.workspace, seeded.document.pk, "/versions"),
        {"file": a_file("minutes.txt", b"version three\n"), "based_on": "2", "note": "Typos"},
    )

    assert response.status_code == 201
    version = response.json()
    assert version["number"] == 3
    assert version["based_on"] == 2
    assert version["based_on_latest"] is True
    assert version["note"] == "Typos"


def test_two_amendments_of_the_same_version_are_both_kept_and_the_second_is_flagged(team, seeded):
    """Tom and Priya both amend version 2: neither change is lost."""
    url = doc_url(team.workspace, seeded.document.pk, "/versions")

    toms = bearer(team.editor).post(url, {"file": a_file(content=b"Tom's"), "based_on": "2"})
    priyas = bearer(team.manager).post(url, {"file": a_file(content=b"Priya's"), "based_on": "2"})

    assert (toms.status_code, priyas.status_code) == (201, 201)
    assert (toms.json()["number"], toms.json()["based_on_latest"]) == (3, True)
    assert (priyas.json()["number"], priyas.json()["based_on"]) == (4, 2)
    assert priyas.json()["based_on_latest"] is False
    listed = bearer(team.viewer).get(url).json()["items"]
    assert [(v["number"], v["based_on_latest"]) for v in listed] == [
        (4, False),
        (3, True),
        (2, True),
        (1, True),
    ]


def test_a_new_version_identical_to_the_latest_is_409_and_makes_nothing(team, seeded):
    url = doc_url(team.workspace, seeded.document.pk, "/versions")
    editor = bearer(team.editor)

    response = editor.post(url, {"file": a_file(content=b"version two\n"), "based_on": "2"})

    assert response.status_code == 409
    assert error_of(response) == {
        "code": "same_as_latest",
        "detail": "This file is the same as version 2, the latest: no new version was made.",
    }
    assert [v["number"] for v in editor.get(url).json()["items"]] == [2, 1]
    # The same bytes as version 1, which is not the latest: a deliberate return, allowed.
    back = editor.post(url, {"file": a_file(content=b"version one\n")})
    assert back.status_code == 201
    assert back.json()["number"] == 3


def test_a_same_named_upload_identical_to_the_latest_is_409_too(team, seeded):
    """POST /documents with a live document's name is a new version of it: the same rule."""
    url = ws_url(team.workspace, "/documents")
    editor = bearer(team.editor)
    response = editor.post(url, {"file": a_file(content=b"version two\n")})
    assert response.status_code == 409
    assert error_of(response)["code"] == "same_as_latest"
    versions = doc_url(team.workspace, seeded.document.pk, "/versions")
    assert [v["number"] for v in editor.get(versions).json()["items"]] == [2, 1]
    changed = editor.post(url, {"file": a_file(content=b"version three\n")})
    assert changed.status_code == 201


def test_a_resent_version_upload_is_the_same_201_not_a_409(team, seeded):
    url = doc_url(team.workspace, seeded.document.pk, "/versions")
    editor = bearer(team.editor)
    form = {"file": a_file(content=b"version three\n"), "upload_key": "resend-1"}
    first = editor.post(url, form)
    again = editor.post(url, {"file": a_file(content=b"version three\n"), "upload_key": "resend-1"})

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()


def test_based_on_a_version_that_does_not_exist_is_refused(team, seeded):
    response = bearer(team.editor).post(
        doc_url(team.workspace, seeded.document.pk, "/versions"),
        {"file": a_file(), "based_on": "9"},
    )

    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_based_on"


def test_version_detail(team, seeded):
    response = bearer(team.viewer).get(doc_url(team.workspace, seeded.document.pk, "/versions/1"))

    assert response.status_code == 200
    assert response.json()["number"] == 1
    assert response.json()["size"] == len(b"version one\n")


@pytest.mark.parametrize("number", ["3", "0", "-1", "x", str(2**70)])
def test_a_forged_version_number_is_404(team, seeded, number):
    client = bearer(team.viewer)

    for suffix in ("", "/content"):
        response = client.get(
            doc_url(team.workspace, seeded.document.pk, f"/versions/{number}{suffix}")
        )
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize("role", ["viewer", "commenter", "editor", "manager"])
def test_download_gives_the_exact_bytes_as_an_attachment_and_is_audited(team, seeded, role):
    from commonroom.audit.models import AuditEvent

    user = team.by_role[role]

    response = bearer(user).get(
        doc_url(team.workspace, seeded.document.pk, "/versions/1/content"),
        headers={"User-Agent": "minutes-sync/1.0"},
    )

    assert response.status_code == 200
    assert body_of(response) == b"version one\n"
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="minutes (version 1).txt"' in response["Content-Disposition"]
    assert response["Content-Type"].startswith("text/plain")
    assert response["X-Content-Type-Options"] == "nosniff"
    digest = hashlib.sha256(b"version one\n").hexdigest()
    assert response["ETag"] == f'"{digest}"'
    event = AuditEvent.objects.filter(action="version.downloaded").get()
    assert event.actor_id == user.pk
    assert event.document_id == seeded.document.pk
    assert event.workspace_id == team.workspace.pk
    assert event.data["version"] == 1
    assert event.user_agent == "minutes-sync/1.0"


def test_restore_adds_the_old_version_as_a_new_one(team, seeded):
    from commonroom.audit.models import AuditEvent

    editor = bearer(team.editor)

    response = editor.post(doc_url(team.workspace, seeded.document.pk, "/versions/1/restore"))

    assert response.status_code == 201
    version = response.json()
    assert version["number"] == 3
    assert version["restored_from"] == 1
    assert version["sha256"] == hashlib.sha256(b"version one\n").hexdigest()
    assert [
        v["number"]
        for v in editor.get(doc_url(team.workspace, seeded.document.pk, "/versions")).json()[
            "items"
        ]
    ] == [3, 2, 1]
    content = editor.get(doc_url(team.workspace, seeded.document.pk, "/versions/3/content"))
    assert body_of(content) == b"version one\n"
    assert AuditEvent.objects.filter(action="version.restored", document_id=seeded.document.pk)


@pytest.mark.parametrize("role", ["commenter", "viewer"])
def test_readers_may_not_add_or_restore_versions(team, seeded, role):
    client = bearer(team.by_role[role])

    for response in (
        client.post(doc_url(team.workspace, seeded.document.pk, "/versions"), {"file": a_file()}),
        client.post(doc_url(team.workspace, seeded.document.pk, "/versions/1/restore")),
    ):
        assert response.status_code == 403
    seeded.document.refresh_from_db()
    assert seeded.document.current_version_number == 2


# --- Trash -----------------------------------------------------------------------------------


def test_delete_moves_to_the_trash_where_a_manager_restores_it(team, seeded):
    editor, manager = bearer(team.editor), bearer(team.manager)

    assert editor.delete(doc_url(team.workspace, seeded.document.pk)).status_code == 204

    assert editor.get(doc_url(team.workspace, seeded.document.pk)).status_code == 404
    assert editor.get(ws_url(team.workspace, "/documents")).json()["items"] == []
    trash = manager.get(ws_url(team.workspace, "/trash/documents")).json()["items"]
    assert [d["id"] for d in trash] == [str(seeded.document.pk)]
    assert trash[0]["deleted_at"] is not None
    assert trash[0]["abilities"]["restore"] is True
    assert trash[0]["abilities"]["download"] is False

    restored = manager.post(
        ws_url(team.workspace, f"/trash/documents/{seeded.document.pk}/restore")
    )

    assert restored.status_code == 200
    assert restored.json()["deleted_at"] is None
    assert editor.get(doc_url(team.workspace, seeded.document.pk)).status_code == 200
    assert manager.get(ws_url(team.workspace, "/trash/documents")).json()["items"] == []


def test_purge_removes_a_trashed_document_for_good_and_is_audited(team, seeded):
    from commonroom.audit.models import AuditEvent
    from commonroom.documents.models import Document, Version

    manager = bearer(team.manager)
    manager.delete(doc_url(team.workspace, seeded.document.pk))

    response = manager.delete(ws_url(team.workspace, f"/trash/documents/{seeded.document.pk}"))

    assert response.status_code == 204
    assert not Document.objects.filter(pk=seeded.document.pk).exists()
    assert not Version.objects.filter(document_id=seeded.document.pk).exists()
    event = AuditEvent.objects.get(action="document.purged")
    assert event.data["versions"] == 2
    again = manager.delete(ws_url(team.workspace, f"/trash/documents/{seeded.document.pk}"))
    assert again.status_code == 404


def test_a_live_document_cannot_be_purged(team, seeded):
    response = bearer(team.manager).delete(
        ws_url(team.workspace, f"/trash/documents/{seeded.document.pk}")
    )

    assert response.status_code == 400
    assert error_of(response)["code"] == "not_in_trash"


def test_a_trashed_folder_restores_with_what_went_with_it_or_is_purged(team, seeded):
    manager = bearer(team.manager)
    upload_via_api(manager, team.workspace, "inside.txt", folder_id=str(seeded.folder.pk))
    manager.delete(ws_url(team.workspace, f"/folders/{seeded.folder.pk}"))

    trash = manager.get(ws_url(team.workspace, "/trash/folders")).json()["items"]
    assert [f["id"] for f in trash] == [str(seeded.folder.pk)]
    # What went with the folder comes back with it.
    assert manager.get(ws_url(team.workspace, "/trash/documents")).json()["items"] == []

    restored = manager.post(ws_url(team.workspace, f"/trash/folders/{seeded.folder.pk}/restore"))

    assert restored.status_code == 200
    assert restored.json()["deleted_at"] is None
    inside = manager.get(ws_url(team.workspace, f"/documents?folder_id={seeded.folder.pk}")).json()[
        "items"
    ]
    assert [d["name"] for d in inside] == ["inside.txt"]

    manager.delete(ws_url(team.workspace, f"/folders/{seeded.folder.pk}"))
    purged = manager.delete(ws_url(team.workspace, f"/trash/folders/{seeded.folder.pk}"))

    assert purged.status_code == 204
    for kind in ("folders", "documents"):
        assert manager.get(ws_url(team.workspace, f"/trash/{kind}")).json() == {
            "items": [],
            "next": None,
        }


@pytest.mark.parametrize("role", ["editor", "commenter", "viewer"])
def test_only_managers_see_restore_or_purge_the_trash(team, seeded, role):
    bearer(team.manager).delete(doc_url(team.workspace, seeded.document.pk))
    client = bearer(team.by_role[role])

    for response in (
        client.get(ws_url(team.workspace, "/trash/documents")),
        client.get(ws_url(team.workspace, "/trash/folders")),
        client.post(ws_url(team.workspace, f"/trash/documents/{seeded.document.pk}/restore")),
        client.delete(ws_url(team.workspace, f"/trash/documents/{seeded.document.pk}")),
    ):
        assert response.status_code in (403, 404)
        error_of(response)
    seeded.document.refresh_from_db()
    assert seeded.document.deleted_at is not None


def test_api_errors_never_answer_html(team, seeded):
    client = bearer(team.manager)

    for response in (
        client.get(f"{API}/no-such-thing"),
        client.post(f"{API}/workspaces/{team.workspace.pk}/no-such-thing"),
        client.get(f"{API}/workspaces/"),
        client.post(f"{API}/workspaces", "not json", "application/json"),
    ):
        assert response.status_code in (400, 404)
        error_of(response)


def test_a_multipart_body_with_too_many_fields_is_400_not_500(team, settings):
    from commonroom.documents.models import Document

    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    fields = {f"extra{i}": "x" for i in range(10)}

    response = upload_via_api(bearer(team.editor), team.workspace, **fields)

    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"
    assert not Document.objects.exists()


def test_an_unexpected_failure_is_a_json_500_without_internals(team, seeded, monkeypatch):
    from commonroom.documents import api as documents_api

    def broken(*args, **kwargs):
        raise RuntimeError("database on fire: secret internals")

    monkeypatch.setattr(documents_api, "document_versions", broken)

    response = bearer(team.viewer).get(doc_url(team.workspace, seeded.document.pk, "/versions"))

    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "server_error"
    assert "secret" not in response.content.decode()


def test_a_note_with_a_nul_character_is_422_and_nothing_is_kept(team):
    from commonroom.documents.models import Document

    response = upload_via_api(bearer(team.editor), team.workspace, note="draft\x00")

    assert response.status_code == 422
    assert error_of(response)["detail"][0]["loc"][-1] == "note"
    assert not Document.objects.exists()


def test_a_patch_that_fails_half_way_changes_nothing(team):
    """Rename and move in one PATCH: the move clashes with a name in the target folder, so the
    rename is not kept either."""
    from commonroom.documents.models import Document
    from commonroom.documents.tests.factories import make_folder, upload

    doc = upload(team.editor, team.workspace, "draft.txt", b"a").document
    papers = make_folder(team.editor, team.workspace, "Papers")
    upload(team.editor, team.workspace, "minutes.txt", b"b", folder=papers)

    response = bearer(team.editor).patch(
        doc_url(team.workspace, doc.pk),
        {"name": "minutes.txt", "folder_id": str(papers.pk)},
        "application/json",
    )

    assert response.status_code == 409
    doc = Document.objects.get(pk=doc.pk)
    assert (doc.name, doc.folder_id) == ("draft.txt", None)
