"""Final records: a version sealed as its document's record, what a seal refuses (with its
sentence, changing nothing), a manager's reopening, and the retention of records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from commonroom.audit.models import AuditEvent
from commonroom.core.exceptions import ApplicationError, Conflict, NotFound, PermissionDenied
from commonroom.core.hooks import OutsideTransaction
from commonroom.documents import services
from commonroom.documents.exceptions import Sealed, UnderRetention
from commonroom.documents.models import Document, Folder, Version
from commonroom.documents.tests.factories import (
    a_file,
    access_for,
    doc_access_for,
    make_folder,
    new_version,
    upload,
)
from commonroom.live.models import Event
from commonroom.suggestions.tests.factories import accept, make_preview, suggest
from commonroom.workspaces.models import Workspace
from commonroom.workspaces.services import workspace_update


def seal(actor: Any, document: Document, number: int | None = None, **data: Any) -> Version:
    """As an approval does: inside its transaction, the document's access locked first."""
    with transaction.atomic():
        locked = services.document_access_locked(
            actor, doc_access_for(actor, document), "view", "You cannot see this document."
        )
        doc = locked.document
        version = doc.versions.get(number=number or doc.current_version_number)
        return services.version_seal(actor=actor, document=doc, version=version, data=data or None)


def fresh(doc: Document) -> Document:
    return Document.objects.select_related("sealed_version").get(pk=doc.pk)


def sentence(doc: Document, number: int) -> str:
    record = fresh(doc).versions.get(number=number)
    assert record.record_at is not None
    day = timezone.localtime(record.record_at)
    return (
        f"“{doc.name}” is sealed: version {number} is its final record, approved on "
        f"{day.day} {day:%B %Y}. A manager can reopen it."
    )


def actions(doc: Document) -> list[str]:
    return list(
        AuditEvent.objects.filter(document_id=doc.pk)
        .order_by("seq")
        .values_list("action", flat=True)
    )


@pytest.fixture
def sealed(team: Any) -> Document:
    """Minutes with two versions, version 2 sealed by a commenter completing an approval."""
    doc = upload(team.editor, team.workspace, "minutes.txt", b"draft").document
    new_version(team.editor, doc, b"agreed")
    seal(team.commenter, doc, approval="a-1")
    return fresh(doc)


# --- Sealing ------------------------------------------------------------------------------------


def test_a_commenter_completing_an_approval_seals_the_latest_version_as_the_record(
    team: Any, sealed: Document
) -> None:
    record = sealed.versions.get(number=2)
    assert sealed.sealed_version_id == record.pk
    assert record.record_at is not None and record.is_record
    assert sealed.versions.get(number=1).record_at is None
    event = AuditEvent.objects.filter(action="document.sealed").get()
    assert event.actor_id == team.commenter.pk
    assert event.data == {"approval": "a-1", "version": 2, "sha256": record.blob_id}
    live = Event.objects.filter(kind="document.sealed").get()
    assert live.data == {
        "document": str(sealed.pk),
        "folder": None,
        "number": 2,
        "actor_id": team.commenter.pk,
    }


def test_sealing_the_same_version_again_does_nothing(team: Any, sealed: Document) -> None:
    first = sealed.versions.get(number=2).record_at
    again = seal(team.manager, sealed, approval="a-2")
    assert again.record_at == first
    assert AuditEvent.objects.filter(action="document.sealed").count() == 1
    assert Event.objects.filter(kind="document.sealed").count() == 1


def test_only_the_latest_version_of_a_live_document_can_be_sealed(team: Any) -> None:
    doc = upload(team.editor, team.workspace, "minutes.txt", b"draft").document
    new_version(team.editor, doc, b"agreed")
    with pytest.raises(Conflict) as refused:
        seal(team.manager, doc, number=1)
    assert refused.value.code == "not_latest"
    assert "Version 1 of “minutes.txt” is no longer the latest (version 2 is)" in str(refused.value)
    services.document_delete(actor=team.editor, doc_access=doc_access_for(team.editor, doc))
    with pytest.raises(Conflict) as trashed, transaction.atomic():
        doc = Document.objects.get(pk=doc.pk)
        services.version_seal(actor=team.manager, document=doc, version=doc.versions.get(number=2))
    assert trashed.value.code == "document_in_trash"
    assert not Version.objects.filter(document=doc, record_at__isnull=False).exists()
    assert not AuditEvent.objects.filter(action="document.sealed").exists()


@pytest.mark.django_db(transaction=True)
def test_sealing_belongs_in_the_callers_transaction(team: Any) -> None:
    doc = upload(team.editor, team.workspace, "minutes.txt", b"draft").document
    with pytest.raises(OutsideTransaction):
        services.version_seal(actor=team.manager, document=doc, version=doc.versions.get(number=1))
    assert fresh(doc).sealed_version_id is None


# --- What a seal refuses ----------------------------------------------------------------------


def _refusals(team: Any, doc: Document) -> dict[str, Any]:
    editor = team.editor
    return {
        "upload a version": lambda: new_version(editor, doc, b"third"),
        "upload under its name": lambda: upload(editor, team.workspace, "minutes.txt", b"third"),
        "restore a version": lambda: services.version_restore(
            actor=editor, doc_access=doc_access_for(editor, doc), number=1
        ),
        "rename": lambda: services.document_rename(
            actor=editor, doc_access=doc_access_for(editor, doc), name="Other.txt"
        ),
        "move": lambda: services.document_move(
            actor=editor,
            doc_access=doc_access_for(editor, doc),
            folder=make_folder(team.manager, team.workspace, "Elsewhere"),
        ),
        "move to the trash": lambda: services.document_delete(
            actor=team.manager, doc_access=doc_access_for(team.manager, doc)
        ),
    }


@pytest.mark.parametrize(
    "what",
    [
        "upload a version",
        "upload under its name",
        "restore a version",
        "rename",
        "move",
        "move to the trash",
    ],
)
def test_a_sealed_document_refuses_with_its_sentence_and_nothing_changes(
    team: Any, sealed: Document, what: str
) -> None:
    before = actions(sealed)
    with pytest.raises(Sealed) as refused:
        _refusals(team, sealed)[what]()
    assert refused.value.status == 409 and refused.value.code == "sealed"
    assert refused.value.message == sentence(sealed, 2)
    after = fresh(sealed)
    assert (after.name, after.folder_id, after.deleted_at) == ("minutes.txt", None, None)
    assert after.current_version_number == 2 and after.versions.count() == 2
    assert actions(sealed) == before


def test_the_seal_sentence_names_the_document_its_record_and_the_day() -> None:
    doc = Document(name="Minutes 3 March")
    record = Version(number=3, record_at=datetime(2026, 12, 4, 10, tzinfo=UTC))
    doc.sealed_version = record
    assert Sealed.of(doc).message == (
        "“Minutes 3 March” is sealed: version 3 is its final record, approved on 4 December "
        "2026. A manager can reopen it."
    )


def test_a_batch_leaves_the_sealed_document_out_with_its_sentence(
    team: Any, sealed: Document
) -> None:
    done = services.documents_upload(
        actor=team.editor,
        access=access_for(team.editor, team.workspace),
        files=[a_file("minutes.txt", b"third"), a_file("agenda.txt", b"agenda")],
    )
    assert [v.filename for v in done.versions] == ["agenda.txt"]
    assert done.unchanged == [f"minutes.txt: {sentence(sealed, 2)}"]
    assert fresh(sealed).current_version_number == 2


def test_a_folder_holding_a_sealed_document_stays_out_of_the_trash_naming_it(team: Any) -> None:
    board = make_folder(team.editor, team.workspace, "Board")
    inner = make_folder(team.editor, team.workspace, "2026", parent=board)
    doc = upload(team.editor, team.workspace, "minutes.txt", b"agreed", folder=inner).document
    upload(team.editor, team.workspace, "agenda.txt", b"agenda", folder=board)
    seal(team.manager, doc)
    with pytest.raises(Sealed) as refused:
        services.folder_delete(
            actor=team.manager, access=access_for(team.manager, team.workspace), folder=board
        )
    assert refused.value.message == (f"“Board” cannot be moved to the trash: {sentence(doc, 1)}")
    assert not Folder.objects.filter(deleted_at__isnull=False).exists()
    assert not Document.objects.filter(deleted_at__isnull=False).exists()


def test_accepting_a_suggestion_on_a_sealed_document_is_refused_with_the_sentence(
    team: Any,
) -> None:
    version = upload(team.editor, team.workspace, "minutes.txt", b"The budget is agreed.\n")
    make_preview(version)
    doc = version.document
    suggestion = suggest(team.commenter, doc, "agreed", text="approved")
    seal(team.manager, doc)
    with pytest.raises(Sealed) as refused:
        accept(team.editor, fresh(doc), suggestion)
    assert refused.value.message == sentence(doc, 1)
    suggestion.refresh_from_db()
    assert suggestion.is_open
    assert fresh(doc).current_version_number == 1


def test_people_who_could_not_anyway_are_told_so_not_about_the_seal(
    team: Any, sealed: Document
) -> None:
    with pytest.raises(PermissionDenied) as refused:
        new_version(team.viewer, sealed, b"third")
    assert "sealed" not in refused.value.message


@pytest.mark.parametrize("role", ["manager", "editor", "commenter", "viewer"])
def test_abilities_of_a_sealed_document(team: Any, sealed: Document, role: str) -> None:
    abilities = doc_access_for(team.by_role[role], sealed).abilities
    for refused in ("upload_version", "restore_version", "rename", "move", "delete"):
        assert abilities[refused] is False
    assert abilities["view"] and abilities["download"]
    assert abilities["reopen"] is (role == "manager")
    assert abilities["comment"] is (role != "viewer")


# --- Reopening ---------------------------------------------------------------------------------


def test_a_manager_reopens_with_a_reason_and_versions_continue_above_the_record(
    team: Any, sealed: Document
) -> None:
    record_at = sealed.versions.get(number=2).record_at
    services.document_reopen(
        actor=team.manager, doc_access=doc_access_for(team.manager, sealed), reason="Item 4 typo."
    )
    doc = fresh(sealed)
    assert doc.sealed_version_id is None
    event = AuditEvent.objects.filter(action="document.reopened").get()
    assert event.actor_id == team.manager.pk
    assert event.data == {
        "version": 2,
        "sha256": doc.versions.get(number=2).blob_id,
        "reason": "Item 4 typo.",
    }
    assert Event.objects.filter(kind="document.reopened").get().data["number"] == 2
    third = new_version(team.editor, doc, b"third")
    assert third.number == 3 and third.record_at is None
    assert doc.versions.get(number=2).record_at == record_at  # still a record
    assert doc_access_for(team.editor, doc).abilities["upload_version"]


@pytest.mark.parametrize("role", ["editor", "commenter", "viewer"])
def test_only_managers_reopen(team: Any, sealed: Document, role: str) -> None:
    with pytest.raises(PermissionDenied):
        services.document_reopen(
            actor=team.by_role[role],
            doc_access=doc_access_for(team.by_role[role], sealed),
            reason="Why not",
        )
    assert fresh(sealed).sealed_version_id is not None
    assert not AuditEvent.objects.filter(action="document.reopened").exists()


def test_a_non_member_does_not_find_the_document_to_reopen(team: Any, sealed: Document) -> None:
    with pytest.raises(NotFound):
        doc_access_for(team.outsider, sealed)


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("", "reason_required"),
        ("   \n ", "reason_required"),
        ("x" * 501, "reason_too_long"),
        ("Typo\x07", "invalid_reason"),
        ("Typo\u202e", "invalid_reason"),
        (None, "reason_required"),
    ],
)
def test_a_reopening_needs_a_plain_reason(
    team: Any, sealed: Document, reason: Any, code: str
) -> None:
    with pytest.raises(ApplicationError) as refused:
        services.document_reopen(
            actor=team.manager, doc_access=doc_access_for(team.manager, sealed), reason=reason
        )
    assert refused.value.code == code
    assert fresh(sealed).sealed_version_id is not None


def test_reopening_a_document_that_is_not_sealed_says_so(team: Any) -> None:
    doc = upload(team.editor, team.workspace, "minutes.txt", b"draft").document
    with pytest.raises(Conflict) as refused:
        services.document_reopen(
            actor=team.manager, doc_access=doc_access_for(team.manager, doc), reason="Why"
        )
    assert refused.value.code == "not_sealed"


def test_a_record_sealed_again_after_reopening_keeps_its_first_date(
    team: Any, sealed: Document
) -> None:
    first = sealed.versions.get(number=2).record_at
    services.document_reopen(
        actor=team.manager, doc_access=doc_access_for(team.manager, sealed), reason="Check"
    )
    seal(team.manager, sealed)
    doc = fresh(sealed)
    assert doc.sealed_version is not None and doc.sealed_version.record_at == first
    assert AuditEvent.objects.filter(action="document.sealed").count() == 2


# --- Retention ---------------------------------------------------------------------------------


def _trashed_record(team: Any, sealed: Document) -> Document:
    services.document_reopen(
        actor=team.manager, doc_access=doc_access_for(team.manager, sealed), reason="Redo"
    )
    services.document_delete(actor=team.manager, doc_access=doc_access_for(team.manager, sealed))
    return Document.objects.get(pk=sealed.pk)


def test_a_record_under_retention_is_not_purged_and_the_attempt_is_in_the_trail(
    team: Any, sealed: Document
) -> None:
    doc = _trashed_record(team, sealed)
    record = doc.versions.get(number=2)
    with pytest.raises(UnderRetention) as refused:
        services.document_purge(
            actor=team.manager, access=access_for(team.manager, team.workspace), document=doc
        )
    assert refused.value.status == 409 and refused.value.code == "under_retention"
    assert record.record_at is not None
    kept = timezone.localtime(record.record_at.replace(year=record.record_at.year + 8))
    assert refused.value.message == (
        "“minutes.txt” cannot be deleted: version 2 of “minutes.txt” is a final record, kept "
        f"until {kept.day} {kept:%B %Y} under the workspace's retention."
    )
    assert Document.objects.filter(pk=doc.pk).exists() and doc.versions.count() == 2
    event = AuditEvent.objects.filter(action="record.purge_refused").get()
    assert event.actor_id == team.manager.pk
    assert event.target_id == str(doc.pk)
    assert event.data == {
        "how": "purge",
        "version": 2,
        "sha256": record.blob_id,
        "document": str(doc.pk),
    }
    assert not AuditEvent.objects.filter(action="document.purged").exists()


def test_a_folder_holding_a_record_under_retention_is_not_purged(team: Any) -> None:
    board = make_folder(team.editor, team.workspace, "Board")
    doc = upload(team.editor, team.workspace, "minutes.txt", b"agreed", folder=board).document
    seal(team.manager, doc)
    services.document_reopen(
        actor=team.manager, doc_access=doc_access_for(team.manager, doc), reason="Redo"
    )
    access = access_for(team.manager, team.workspace)
    services.folder_delete(actor=team.manager, access=access, folder=board)
    with pytest.raises(UnderRetention):
        services.folder_purge(
            actor=team.manager, access=access, folder=Folder.objects.get(pk=board.pk)
        )
    assert Folder.objects.filter(pk=board.pk).exists()
    assert Document.objects.filter(pk=doc.pk).exists()
    event = AuditEvent.objects.filter(action="record.purge_refused").get()
    assert (event.target_type, event.target_id) == ("folder", str(board.pk))


def test_without_retention_or_after_it_a_record_is_purged(team: Any, sealed: Document) -> None:
    doc = _trashed_record(team, sealed)
    access = access_for(team.manager, team.workspace)
    # Approved nine years ago: past the eight years kept.
    Version.objects.filter(document=doc).update(record_at=timezone.now() - timedelta(days=9 * 366))
    services.document_purge(actor=team.manager, access=access, document=doc)
    assert not Document.objects.filter(pk=doc.pk).exists()

    other = upload(team.editor, team.workspace, "agenda.txt", b"agenda").document
    seal(team.manager, other)
    workspace_update(actor=team.manager, access=access, record_retention_years=0)
    doc = _trashed_record(team, fresh(other))
    services.document_purge(
        actor=team.manager, access=access_for(team.manager, team.workspace), document=doc
    )
    assert not Document.objects.filter(pk=doc.pk).exists()
    assert not AuditEvent.objects.filter(action="record.purge_refused").exists()


# --- The workspace's retention setting ---------------------------------------------------------


def test_managers_set_the_retention_and_it_is_audited(team: Any) -> None:
    access = access_for(team.manager, team.workspace)
    assert team.workspace.record_retention_years == 8
    workspace_update(actor=team.manager, access=access, record_retention_years="10")
    assert Workspace.objects.get(pk=team.workspace.pk).record_retention_years == 10
    event = AuditEvent.objects.filter(action="workspace.updated").last()
    assert event is not None and event.data == {"record_retention_years": [8, 10]}
    # Left as it is when not given.
    workspace_update(actor=team.manager, access=access, name="Board", record_retention_years="")
    assert Workspace.objects.get(pk=team.workspace.pk).record_retention_years == 10


@pytest.mark.parametrize("years", ["101", "-1", "ten", "2.5", True])
def test_a_retention_is_whole_years_from_0_to_100(team: Any, years: Any) -> None:
    with pytest.raises(ApplicationError) as refused:
        workspace_update(
            actor=team.manager,
            access=access_for(team.manager, team.workspace),
            record_retention_years=years,
        )
    assert refused.value.code == "invalid_retention"
    assert Workspace.objects.get(pk=team.workspace.pk).record_retention_years == 8


def test_editors_cannot_change_the_retention(team: Any) -> None:
    with pytest.raises(PermissionDenied):
        workspace_update(
            actor=team.editor,
            access=access_for(team.editor, team.workspace),
            record_retention_years=0,
        )
    assert Workspace.objects.get(pk=team.workspace.pk).record_retention_years == 8


@pytest.mark.parametrize("role", ["manager", "editor", "commenter", "viewer"])
def test_a_document_s_abilities_are_the_same_read_as_a_row_for_the_lists(
    team: Any, sealed: Document, role: str
) -> None:
    """The lists decide each row's abilities from the row (``abilities_of`` of a row of
    ``DOCUMENT_COLUMNS``), one document from the model: one rule, the same answer, for a
    document as it is, sealed, and in the trash."""
    from commonroom.documents.selectors import abilities_of, document_rows

    plain = upload(team.manager, team.workspace, "plain.txt", b"plain").document
    trashed = upload(team.manager, team.workspace, "gone.txt", b"gone").document
    services.document_delete(actor=team.manager, doc_access=doc_access_for(team.manager, trashed))
    access = access_for(team.by_role[role], team.workspace)
    rows = {
        row["id"]: row for row in document_rows(Document.objects.filter(workspace=team.workspace))
    }
    seen: set[frozenset[str]] = set()
    for doc in (plain, sealed, trashed):
        doc = fresh(doc)
        seen.add(frozenset(k for k, v in abilities_of(access, doc).items() if v))
        assert abilities_of(access, rows[doc.pk]) == abilities_of(access, doc), doc.name
    # Those who may change documents tell the three states apart (else it proves less).
    assert len(seen) == (3 if role in ("manager", "editor") else 2)
