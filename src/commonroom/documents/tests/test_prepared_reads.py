"""The document page's reads of the document and its versions run SQL built once per process
(``core.prepared``): each answers what the ORM's own query reads, every field of every object
it follows, after writes made straight through the ORM as another process makes them (no
service, no signal of this process)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import models
from django.db.models import Max
from django.utils import timezone

from commonroom.accounts.models import User
from commonroom.core.exceptions import NotFound
from commonroom.documents.models import Document, ReadReminder, Version, VersionRead
from commonroom.documents.selectors import (
    document_access,
    document_version_list,
    document_versions,
    last_read_numbers,
    reminder_today,
    version_readers,
)
from commonroom.documents.tests.factories import make_folder, new_version, upload

pytestmark = pytest.mark.django_db


def _fields(obj: models.Model | None) -> Any:
    if obj is None:
        return None
    assert obj._state.db == "default" and not obj._state.adding
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def _same_document(found: Document, pk: Any) -> None:
    expected = Document.objects.select_related("folder", "created_by", "sealed_version").get(pk=pk)
    assert _fields(found) == _fields(expected)
    for relation in ("folder", "created_by", "sealed_version"):
        # Followed as select_related follows it: already there, no query when read.
        assert Document.__dict__[relation].is_cached(found), relation
        assert _fields(getattr(found, relation)) == _fields(getattr(expected, relation))


def _same_versions(found: list[Version], expected: list[Version]) -> None:
    assert [v.number for v in found] == [v.number for v in expected]
    for mine, theirs in zip(found, expected, strict=True):
        assert _fields(mine) == _fields(theirs)
        for relation in ("author", "while_locked_by"):
            assert Version.__dict__[relation].is_cached(mine), relation
            assert _fields(getattr(mine, relation)) == _fields(getattr(theirs, relation))


def test_the_document_is_the_orms_after_each_write(team: Any) -> None:
    doc = upload(team.editor, team.workspace, "minutes.txt", b"one").document
    ws = team.workspace.pk
    found = document_access(user=team.viewer, workspace_id=ws, document_id=str(doc.pk))
    _same_document(found.document, doc.pk)
    assert found.document.folder is None and found.document.sealed_version is None
    folder = make_folder(team.manager, team.workspace, "Board")
    version = Version.objects.get(document=doc)
    Document.objects.filter(pk=doc.pk).update(
        folder=folder, sealed_version=version, name="renamed.txt", created_by=team.manager
    )
    found = document_access(user=team.viewer, workspace_id=ws, document_id=doc.pk)
    _same_document(found.document, doc.pk)
    assert found.document.folder == folder and found.document.name == "renamed.txt"
    assert found.document.sealed_version == version and found.document.created_by == team.manager
    User.objects.filter(pk=team.manager.pk).update(full_name="Priya Shah-Jones")
    found = document_access(user=team.viewer, workspace_id=ws, document_id=doc.pk)
    assert found.document.created_by.full_name == "Priya Shah-Jones"
    Document.objects.filter(pk=doc.pk).update(deleted_at=timezone.now())
    with pytest.raises(NotFound):
        document_access(user=team.viewer, workspace_id=ws, document_id=doc.pk)
    found = document_access(
        user=team.manager, workspace_id=ws, document_id=doc.pk, include_trash=True
    )
    _same_document(found.document, doc.pk)
    assert found.document.in_trash
    Document.objects.filter(pk=doc.pk).update(sealed_version=None)
    Document.objects.filter(pk=doc.pk).delete()
    with pytest.raises(NotFound):
        document_access(user=team.manager, workspace_id=ws, document_id=doc.pk, include_trash=True)


def test_a_document_of_another_workspace_or_a_forged_id_is_not_found(team: Any) -> None:
    from commonroom.workspaces.tests.factories import make_workspace

    doc = upload(team.editor, team.workspace, "minutes.txt", b"one").document
    other = make_workspace(manager=team.manager)
    for ws, pk in ((other.pk, doc.pk), (team.workspace.pk, "not-a-uuid")):
        with pytest.raises(NotFound):
            document_access(user=team.manager, workspace_id=ws, document_id=pk)


def test_the_versions_are_the_orms_after_each_write(team: Any) -> None:
    doc = upload(team.editor, team.workspace, "minutes.txt", b"one").document
    access = document_access(user=team.viewer, workspace_id=team.workspace.pk, document_id=doc.pk)

    def check() -> list[Version]:
        found = document_version_list(doc_access=access)
        _same_versions(found, list(document_versions(doc_access=access)))
        return found

    assert [v.number for v in check()] == [1]
    new_version(team.manager, doc, b"two")
    new_version(team.editor, doc, b"three")
    assert [v.number for v in check()] == [3, 2, 1]
    Version.objects.filter(document=doc, number=2).update(
        while_locked_by=team.editor, record_at=timezone.now()
    )
    User.objects.filter(pk=team.editor.pk).update(full_name="Tom Renamed")
    found = check()
    assert found[1].while_locked_by == team.editor and found[0].while_locked_by is None
    assert found[0].author.full_name == "Tom Renamed"
    Version.objects.filter(document=doc, number=3).delete()
    assert [v.number for v in check()] == [2, 1]
    other = upload(team.editor, team.workspace, "other.txt", b"x").document
    other_access = document_access(
        user=team.viewer, workspace_id=team.workspace.pk, document_id=other.pk
    )
    assert [v.document_id for v in document_version_list(doc_access=other_access)] == [other.pk]


def test_readers_reminder_and_last_read_are_the_orms_after_each_write(
    team: Any, monkeypatch: Any
) -> None:
    doc = upload(team.editor, team.workspace, "minutes.txt", b"one").document
    new_version(team.editor, doc, b"two")
    other = upload(team.editor, team.workspace, "other.txt", b"x").document

    def access() -> Any:
        return document_access(
            user=team.manager, workspace_id=team.workspace.pk, document_id=doc.pk
        )

    def receipts(number: int) -> dict[Any, Any]:
        readers = version_readers(doc_access=access(), number=number)
        found = {r.person.pk: _fields(r.read) for r in [*readers.read, *readers.unread]}
        version = Version.objects.get(document=doc, number=number)
        expected = {r.reader_id: _fields(r) for r in VersionRead.objects.filter(version=version)}
        assert {k: v for k, v in found.items() if v is not None} == expected
        return found

    def last_read(user: Any) -> Any:
        found = last_read_numbers(user=user, documents=[doc])
        newest = VersionRead.objects.filter(reader=user, document=doc).aggregate(
            n=Max("version__number")
        )
        assert found == ({doc.pk: newest["n"]} if newest["n"] is not None else {})
        return found

    assert all(v is None for v in receipts(2).values()) and last_read(team.viewer) == {}
    v1, v2 = Version.objects.filter(document=doc).order_by("number")
    VersionRead.objects.create(version=v1, document=doc, reader=team.viewer, read_by="preview")
    VersionRead.objects.create(version=v2, document=doc, reader=team.editor, read_by="download")
    o1 = Version.objects.get(document=other)
    VersionRead.objects.create(version=o1, document=other, reader=team.viewer, read_by="preview")
    assert receipts(1)[team.viewer.pk] is not None and receipts(2)[team.viewer.pk] is None
    assert receipts(2)[team.editor.pk] is not None
    assert last_read(team.viewer) == {doc.pk: 1} and last_read(team.editor) == {doc.pk: 2}
    VersionRead.objects.create(version=v2, document=doc, reader=team.viewer, read_by="preview")
    VersionRead.objects.filter(reader=team.editor).update(visible_seconds=12)
    assert last_read(team.viewer) == {doc.pk: 2} and receipts(2)[team.editor.pk] is not None
    # Two documents: the ORM's one query for any number of them.
    assert last_read_numbers(user=team.viewer, documents=[doc, other]) == {doc.pk: 2, other.pk: 1}

    assert reminder_today(document=doc) is None
    today = timezone.localdate()
    ReadReminder.objects.create(
        document=doc,
        day=today - timedelta(days=1),
        version_number=2,
        sent_by=team.editor,
        recipients=3,
    )
    assert reminder_today(document=doc) is None
    made = ReadReminder.objects.create(
        document=doc, day=today, version_number=2, sent_by=team.manager, recipients=2
    )
    found = reminder_today(document=doc)
    expected = ReadReminder.objects.select_related("sent_by").get(pk=made.pk)
    assert found is not None and _fields(found) == _fields(expected)
    assert ReadReminder.__dict__["sent_by"].is_cached(found)
    assert _fields(found.sent_by) == _fields(expected.sent_by)
    assert version_readers(doc_access=access()).reminded_today is not None
    tomorrow = timezone.now() + timedelta(days=1)
    monkeypatch.setattr(timezone, "now", lambda: tomorrow)
    assert reminder_today(document=doc) is None  # a new day, in the process that built it


def test_the_folders_for_move_and_the_names_beside_are_the_orms_after_each_write(
    team: Any,
) -> None:
    """``all_folders`` (the page's "Move" choices) and ``folder_child_names`` (WebDAV's names
    beside the document) read what the ORM reads, after folders are made, renamed, moved and
    put in the trash straight through the ORM, in this workspace and another."""
    from commonroom.documents.models import Folder
    from commonroom.documents.selectors import all_folders, folder_child_names, folder_children
    from commonroom.workspaces.selectors import workspace_access
    from commonroom.workspaces.tests.factories import make_workspace

    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)

    def check() -> None:
        expected = list(Folder.objects.filter(workspace=team.workspace, deleted_at__isnull=True))
        found = all_folders(access=access)
        assert sorted(f.pk for f, _ in found) == sorted(f.pk for f in expected)
        for folder, _ in found:
            assert _fields(folder) == _fields(Folder.objects.get(pk=folder.pk))
        for parent in [None, *expected]:
            names = [f.name for f in folder_children(access=access, folder=parent)]
            parent_id = parent.pk if parent else None
            assert folder_child_names(access=access, folder_id=parent_id) == names

    check()
    board = make_folder(team.manager, team.workspace, "Board")
    make_folder(team.manager, team.workspace, "Agenda", parent=board)
    check()
    assert [label for _, label in all_folders(access=access)] == ["Board", "Board / Agenda"]
    Folder.objects.create(
        workspace=team.workspace, name="Archive", parent=board, created_by=team.manager
    )
    Folder.objects.create(workspace=team.workspace, name="Finance", created_by=team.manager)
    check()
    assert folder_child_names(access=access, folder_id=board.pk) == ["Agenda", "Archive"]
    assert folder_child_names(access=access, folder_id=None) == ["Board", "Finance"]
    Folder.objects.filter(name="Archive").update(name="Zeta", parent=None)
    Folder.objects.filter(name="Finance").update(deleted_at=timezone.now())
    check()
    assert folder_child_names(access=access, folder_id=None) == ["Board", "Zeta"]
    assert [label for _, label in all_folders(access=access)] == [
        "Board",
        "Board / Agenda",
        "Zeta",
    ]
    other = make_workspace(manager=team.manager)
    Folder.objects.create(workspace=other, name="Elsewhere", created_by=team.manager)
    check()
    assert "Elsewhere" not in folder_child_names(access=access, folder_id=None)
