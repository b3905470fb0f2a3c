"""Renaming and moving documents and folders: names stay unique per folder, folders stay a tree."""

from __future__ import annotations

import pytest

from commonroom.core.exceptions import ApplicationError, Conflict, NotFound, PermissionDenied
from commonroom.documents import services
from commonroom.documents.models import Document, Folder
from commonroom.documents.tests.factories import access_for, doc_access_for, make_folder, upload


def rename(user, document, name):
    return services.document_rename(
        actor=user, doc_access=doc_access_for(user, document), name=name
    )


def move(user, document, folder):
    return services.document_move(
        actor=user, doc_access=doc_access_for(user, document), folder=folder
    )


def test_rename_a_document(team):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"x").document
    renamed = rename(team.editor, doc, "  Minutes   March.txt ")
    assert renamed.name == "Minutes March.txt"
    assert Document.objects.get(pk=doc.pk).name == "Minutes March.txt"


def test_rename_onto_a_taken_name_is_a_conflict_whatever_the_case(team):
    upload(team.editor, team.workspace, "agenda.txt", b"a")
    doc = upload(team.editor, team.workspace, "minutes.txt", b"m").document
    with pytest.raises(Conflict) as exc:
        rename(team.editor, doc, "AGENDA.txt")
    assert exc.value.status == 409
    assert Document.objects.get(pk=doc.pk).name == "minutes.txt"


def test_a_name_taken_only_in_the_trash_is_free(team):
    gone = upload(team.editor, team.workspace, "agenda.txt", b"a").document
    services.document_delete(actor=team.editor, doc_access=doc_access_for(team.editor, gone))
    doc = upload(team.editor, team.workspace, "minutes.txt", b"m").document
    assert rename(team.editor, doc, "agenda.txt").name == "agenda.txt"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/shadow", "shadow"),
        ("C:\\Windows\\win.ini", "win.ini"),
        ("board\x00.txt", "board.txt"),
        ("board\x07\x1b[31m.txt", "board[31m.txt"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
    ],
)
def test_a_rename_keeps_only_a_safe_name(team, raw, expected):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"x").document
    assert rename(team.editor, doc, raw).name == expected


@pytest.mark.parametrize("raw", ["..", "...", " . . ", "../..", "/", "\x00\x01", "\u202e"])
def test_a_rename_to_nothing_usable_is_refused(team, raw):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"x").document
    with pytest.raises(ApplicationError) as exc:
        rename(team.editor, doc, raw)
    assert exc.value.code == "invalid_filename"
    assert Document.objects.get(pk=doc.pk).name == "minutes.txt"


def test_a_very_long_rename_is_shortened_keeping_the_extension(team):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"x").document
    renamed = rename(team.editor, doc, "m" * 400 + ".docx")
    assert len(renamed.name) == 255
    assert renamed.name.endswith("m.docx")


def test_viewers_cannot_rename_or_move(team):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"x").document
    folder = make_folder(team.editor, team.workspace, "Board")
    for user in (team.viewer, team.commenter):
        with pytest.raises(PermissionDenied):
            rename(user, doc, "other.txt")
        with pytest.raises(PermissionDenied):
            move(user, doc, folder)
    doc.refresh_from_db()
    assert (doc.name, doc.folder_id) == ("minutes.txt", None)


def test_move_a_document_into_a_folder_and_back(team):
    doc = upload(team.editor, team.workspace, "minutes.txt", b"x").document
    folder = make_folder(team.editor, team.workspace, "Board")
    assert move(team.editor, doc, folder).folder_id == folder.pk
    assert move(team.editor, doc, None).folder_id is None


def test_moving_onto_a_name_taken_in_the_target_folder_is_a_conflict(team):
    folder = make_folder(team.editor, team.workspace, "Board")
    upload(team.editor, team.workspace, "minutes.txt", b"inside", folder=folder)
    doc = upload(team.editor, team.workspace, "Minutes.TXT", b"outside").document
    with pytest.raises(Conflict):
        move(team.editor, doc, folder)
    assert Document.objects.get(pk=doc.pk).folder_id is None


def test_moving_into_a_trashed_or_foreign_folder_is_not_found(team):
    from commonroom.workspaces.tests.factories import make_workspace

    doc = upload(team.editor, team.workspace, "minutes.txt", b"x").document
    trashed = make_folder(team.editor, team.workspace, "Old")
    services.folder_delete(
        actor=team.editor, access=access_for(team.editor, team.workspace), folder=trashed
    )
    foreign = make_folder(
        team.outsider, make_workspace(manager=team.outsider, name="Elsewhere"), "Theirs"
    )
    for target in (trashed, foreign):
        with pytest.raises(NotFound):
            move(team.editor, doc, target)
    assert Document.objects.get(pk=doc.pk).folder_id is None


# --- Folders ----------------------------------------------------------------------------------


def folder_move(user, folder, parent):
    return services.folder_move(
        actor=user, access=access_for(user, folder.workspace), folder=folder, parent=parent
    )


def test_folder_names_are_unique_among_siblings(team):
    access = access_for(team.editor, team.workspace)
    board = make_folder(team.editor, team.workspace, "Board")
    other = make_folder(team.editor, team.workspace, "Finance")
    with pytest.raises(Conflict):
        make_folder(team.editor, team.workspace, "board")
    with pytest.raises(Conflict):
        services.folder_rename(actor=team.editor, access=access, folder=other, name="BOARD")
    # The same name one level down is fine.
    assert make_folder(team.editor, team.workspace, "Board", parent=board).parent == board
    assert Folder.objects.get(pk=other.pk).name == "Finance"


def test_moving_a_folder_next_to_one_of_the_same_name_is_a_conflict(team):
    parent = make_folder(team.editor, team.workspace, "2025")
    make_folder(team.editor, team.workspace, "Board", parent=parent)
    board = make_folder(team.editor, team.workspace, "Board")
    with pytest.raises(Conflict):
        folder_move(team.editor, board, parent)
    assert Folder.objects.get(pk=board.pk).parent_id is None


def test_a_folder_cannot_be_moved_into_itself_or_below_itself(team):
    top = make_folder(team.editor, team.workspace, "Top")
    middle = make_folder(team.editor, team.workspace, "Middle", parent=top)
    bottom = make_folder(team.editor, team.workspace, "Bottom", parent=middle)

    for target in (top, middle, bottom):
        with pytest.raises(ApplicationError) as exc:
            folder_move(team.editor, top, target)
        assert exc.value.code == "folder_cycle"
    assert Folder.objects.get(pk=top.pk).parent_id is None

    # Moving down the other way round is allowed.
    assert folder_move(team.editor, bottom, None).parent_id is None
    assert folder_move(team.editor, top, bottom).parent_id == bottom.pk


def test_a_folder_name_with_nothing_usable_is_refused(team):
    with pytest.raises(ApplicationError) as exc:
        make_folder(team.editor, team.workspace, "../..")
    assert exc.value.code == "invalid_folder_name"
    assert make_folder(team.editor, team.workspace, "../Board").name == "Board"
    assert Folder.objects.count() == 1


def test_viewers_cannot_create_or_move_folders(team):
    board = make_folder(team.editor, team.workspace, "Board")
    with pytest.raises(PermissionDenied):
        make_folder(team.viewer, team.workspace, "Mine")
    with pytest.raises(PermissionDenied):
        folder_move(team.commenter, board, None)
    assert list(Folder.objects.values_list("name", flat=True)) == ["Board"]
