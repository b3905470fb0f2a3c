"""Accepting every tracked change a Word file was uploaded with (made in Word) as one new
version: services.tracked_changes_accept, the child it runs (revisions_child), the count the
preview keeps, the page's button and its view."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest
from django.urls import reverse

from commonroom.audit.models import Action, AuditEvent
from commonroom.core.exceptions import ApplicationError, NotFound, PermissionDenied
from commonroom.documents.models import Version
from commonroom.documents.services import document_delete
from commonroom.documents.stamping import PROPERTY, Stamp
from commonroom.documents.tests.factories import access_for, new_version
from commonroom.office import properties, wordedit
from commonroom.office.tests.libreoffice import LibreOffice, require_soffice
from commonroom.office.tests.samples import TRACK, docx_with, p, r
from commonroom.office.wordedit import Change, Revision
from commonroom.previews.converters import docx as docx_converter
from commonroom.previews.selectors import tracked_revisions
from commonroom.suggestions import services
from commonroom.suggestions.tests.factories import (
    access,
    children_started,
    docx_bytes,
    make_preview,
    version_bytes,
    with_preview,
)
from commonroom.workspaces.services import workspace_set_archived

pytestmark = pytest.mark.django_db

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
FIRST = "The board met on Tuesday and agreed the budget."
SECOND = "Apologies were received from two members."
THIRD = "Any other business: none."
PLAIN = docx_bytes(FIRST, SECOND, THIRD)


def tracked(data: bytes = PLAIN) -> bytes:
    """``data`` with two tracked replacements by Kim (two insertions, two deletions)."""
    at = FIRST.index("agreed")
    return wordedit.with_tracked_changes(
        data,
        [
            Revision(Change(FIRST, at, at + len("agreed"), "approved"), "Kim Lee", WHEN),
            Revision(Change(THIRD, len(THIRD) - 5, len(THIRD) - 1, "none raised"), "Kim Lee", WHEN),
        ],
    )


ACCEPTED = [
    "The board met on Tuesday and approved the budget.",
    SECOND,
    "Any other business: none raised.",
]


@pytest.fixture
def doc(team: Any) -> Any:
    return with_preview(team.manager, team.workspace, "minutes.docx", tracked())


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def accept_all(user: Any, doc: Any, number: Any = 1) -> Version:
    return services.tracked_changes_accept(actor=user, doc_access=access(user, doc), number=number)


def nothing_written(doc: Any, versions: int, audit: int) -> bool:
    return doc.versions.count() == versions and AuditEvent.objects.count() == audit


@pytest.mark.slow
def test_libreoffice_opens_the_accepted_version_and_reads_the_accepted_text(
    team, doc, tmp_path
) -> None:
    version = accept_all(team.editor, doc)
    libreoffice = LibreOffice(require_soffice(), tmp_path)
    lines = [line.strip() for line in libreoffice.text(version_bytes(version)).splitlines()]
    assert [line for line in lines if line] == ACCEPTED


def test_the_preview_counts_the_tracked_changes_and_a_plain_file_has_none(team, doc) -> None:
    version = doc.versions.get()
    assert tracked_revisions(doc_access=access(team.viewer, doc), version=version) == 4
    plain = with_preview(team.manager, team.workspace, "plain.docx", PLAIN)
    assert (
        tracked_revisions(doc_access=access(team.viewer, plain), version=plain.versions.get()) == 0
    )
    with pytest.raises(NotFound):  # a version of another document
        tracked_revisions(doc_access=access(team.viewer, plain), version=version)


def test_the_preview_made_in_its_confined_child_keeps_the_count(team) -> None:
    from commonroom.documents.tests.factories import upload
    from commonroom.previews.services import preview_make

    version = upload(team.manager, team.workspace, "worker.docx", tracked())
    preview = preview_make(sha=version.blob_id)
    assert preview is not None and preview.is_ready and preview.revisions == 4


def test_counting_finds_changes_in_headers_and_formatting_and_paragraph_marks(tmp_path) -> None:
    data = docx_with(
        p(r("Kept "), f'<w:ins w:id="1" {TRACK}>{r("new")}</w:ins>'),
        p(r("Joined"), properties=f'<w:pPr><w:rPr><w:del w:id="2" {TRACK}/></w:rPr></w:pPr>'),
        p(
            '<w:r><w:rPr><w:b/><w:rPrChange w:id="3" '
            + TRACK
            + "><w:rPr/></w:rPrChange></w:rPr><w:t>bold now</w:t></w:r>"
        ),
        header=p(f'<w:del w:id="4" {TRACK}><w:r><w:delText>Draft</w:delText></w:r></w:del>'),
    )
    assert wordedit.tracked_revisions(data) == wordedit.RevisionCount(1, 1, 2)
    # The preview underlines the insertion and says what it cannot show.
    source = tmp_path / "changes.docx"
    source.write_bytes(data)
    result = docx_converter.convert(source, tmp_path)
    assert result.revisions == 4
    assert result.notes[:2] == [
        "This document has 1 tracked insertion and 0 deletions: inserted text is underlined, "
        "deleted text struck through.",
        "It also has 3 tracked changes the preview does not show (to formatting, paragraph "
        "marks, tables, headers, footers or notes).",
    ]
    assert wordedit.RevisionCount(1, 1, 2).described() == (
        "1 insertion, 1 deletion and 2 other changes"
    )
    assert wordedit.tracked_revisions(PLAIN).total == 0


def test_accepting_makes_one_version_with_the_changes_accepted_and_the_rest_untouched(
    team, doc
) -> None:
    version = accept_all(team.editor, doc)
    assert (version.number, version.based_on_number, version.based_on_latest) == (2, 1, True)
    assert version.author == team.editor and version.filename == "minutes.docx"
    assert version.note == (
        "Accepted all tracked changes of version 1 (2 insertions and 2 deletions)."
    )
    data = version_bytes(version)
    assert wordedit.paragraphs(data) == ACCEPTED
    before, after = members(tracked()), members(data)
    assert list(after) == list(before)
    assert [name for name in before if before[name] != after[name]] == ["word/document.xml"]
    body = after["word/document.xml"]
    assert b"<w:ins " not in body and b"<w:del " not in body and b"delText" not in body
    assert wordedit.tracked_revisions(data).total == 0
    event = AuditEvent.objects.filter(action=Action.TRACKED_CHANGES_ACCEPTED).get()
    assert event.actor_id == team.editor.pk and event.document_id == doc.pk
    assert event.data == {
        "version": 2, "based_on": 1, "insertions": 2, "deletions": 2, "others": 0,
    }  # fmt: skip
    # Audited after the version's own row: the transaction's last write.
    actions = list(AuditEvent.objects.order_by("-id").values_list("action", flat=True)[:2])
    assert actions == [Action.TRACKED_CHANGES_ACCEPTED, Action.VERSION_UPLOADED]


def test_a_stamped_file_names_the_version_it_was_accepted_from(team, doc) -> None:
    """Version 2 was uploaded from a download of version 1 with Word's changes in it (its stamp
    says version 1): the accepted file says version 2, so it is not taken for a stale copy."""
    first = doc.versions.get(number=1)
    amended = tracked(docx_bytes(FIRST, SECOND, THIRD, "Amended in Word."))
    stamped = properties.with_property(amended, PROPERTY, Stamp.of(first).value)
    second = new_version(team.editor, doc, stamped)
    version = accept_all(team.editor, doc, 2)
    assert (version.based_on_number, version.based_on_latest) == (2, True)
    assert properties.read_property(version_bytes(version), PROPERTY) == Stamp.of(second).value


def test_one_confined_child_accepts_and_stamps_and_the_upload_believes_its_stamp(
    team, doc, monkeypatch
) -> None:
    """The child that accepts the changes says the stamp it set; the upload takes it from
    there instead of reading its own file back in a second child. A file without a stamp
    says so, and is still uploaded with no second child."""
    started = children_started(monkeypatch)
    first = doc.versions.get(number=1)
    stamped = properties.with_property(
        tracked(docx_bytes(FIRST, SECOND, THIRD, "Amended.")), PROPERTY, Stamp.of(first).value
    )
    second = new_version(team.editor, doc, stamped)
    started.clear()
    version = accept_all(team.editor, doc, 2)
    assert started == ["commonroom.suggestions.revisions_child"]
    assert (version.based_on_number, version.based_on_latest) == (2, True)
    assert version.based_on_from_file
    assert properties.read_property(version_bytes(version), PROPERTY) == Stamp.of(second).value
    plain = with_preview(team.manager, team.workspace, "unstamped.docx", tracked())
    started.clear()
    unstamped = accept_all(team.editor, plain)
    assert started == ["commonroom.suggestions.revisions_child"]
    assert not unstamped.based_on_from_file
    assert properties.read_property(version_bytes(unstamped), PROPERTY) is None


def test_accepting_an_older_version_is_flagged_and_a_second_accept_is_the_same_bytes(
    team, doc
) -> None:
    """Two people accepting version 1 at once: the first makes version 2; the second's file is
    the same bytes as the latest, which the upload path refuses, so nothing is lost or doubled.
    Once a newer version differs, accepting version 1 is kept and flagged as based on it."""
    accept_all(team.editor, doc)
    audit = AuditEvent.objects.count()
    with pytest.raises(ApplicationError) as refused:
        accept_all(team.manager, doc)
    assert refused.value.code == "same_as_latest"
    assert nothing_written(doc, 2, audit)
    new_version(team.editor, doc, docx_bytes("Something else entirely."))
    late = accept_all(team.manager, doc)
    assert (late.number, late.based_on_number, late.based_on_latest) == (4, 1, False)
    assert late.identical_to_number == 2


@pytest.mark.parametrize("role", ["commenter", "viewer"])
def test_those_who_may_not_decide_are_refused(team, doc, role: str) -> None:
    audit = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied, match="managers and editors"):
        accept_all(team.by_role[role], doc)
    assert nothing_written(doc, 1, audit)


def test_a_non_member_and_a_forged_version_get_not_found(team, doc) -> None:
    with pytest.raises(NotFound):
        accept_all(team.outsider, doc)
    for forged in (99, 0, "x", None):
        with pytest.raises(NotFound):
            accept_all(team.editor, doc, forged)
    assert doc.versions.count() == 1


def test_a_file_without_tracked_changes_or_not_a_word_file_is_refused(team) -> None:
    plain = with_preview(team.manager, team.workspace, "plain.docx", PLAIN)
    text = with_preview(team.manager, team.workspace, "notes.txt", b"Hello.\n")
    audit = AuditEvent.objects.count()
    with pytest.raises(ApplicationError, match="Version 1 has no tracked changes to accept"):
        accept_all(team.editor, plain)
    with pytest.raises(services.NotWord, match=r"Version 1 is not a Word \(\.docx\) file") as no:
        accept_all(team.editor, text)
    assert (no.value.code, no.value.status) == ("not_word", 409)
    assert nothing_written(plain, 1, audit) and text.versions.count() == 1


def test_changes_to_a_table_s_cells_are_refused_with_nothing_written(team) -> None:
    cell = (
        "<w:tbl><w:tblPr/><w:tblGrid><w:gridCol/></w:tblGrid><w:tr><w:tc><w:tcPr>"
        f'<w:cellDel w:id="7" {TRACK}/></w:tcPr>{p(r("Gone"))}</w:tc></w:tr></w:tbl>'
    )
    data = docx_with(
        p(r("Kept "), f'<w:ins w:id="1" {TRACK}>{r("new")}</w:ins>'), cell, p(r("End"))
    )
    doc = with_preview(team.manager, team.workspace, "cells.docx", data)
    audit = AuditEvent.objects.count()
    with pytest.raises(ApplicationError, match="tracked changes to a table's cells") as refused:
        accept_all(team.editor, doc)
    assert refused.value.code == "cannot_accept"
    assert nothing_written(doc, 1, audit)


def test_a_trashed_document_or_an_archived_workspace_is_refused(team, doc) -> None:
    stale = access(team.editor, doc)
    document_delete(actor=team.manager, doc_access=access(team.manager, doc))
    audit = AuditEvent.objects.count()
    with pytest.raises(NotFound):
        services.tracked_changes_accept(actor=team.editor, doc_access=stale, number=1)
    assert Version.objects.filter(document=doc).count() == 1
    assert AuditEvent.objects.count() == audit
    other = with_preview(team.manager, team.workspace, "other.docx", tracked())
    workspace_set_archived(
        actor=team.manager, access=access_for(team.manager, team.workspace), archived=True
    )
    with pytest.raises(PermissionDenied, match="archived"):
        accept_all(team.editor, other)
    assert other.versions.count() == 1


# --- the page -------------------------------------------------------------------------------


def page(client: Any, user: Any, doc: Any) -> str:
    client.force_login(user)
    url = reverse("document_detail", args=[doc.workspace_id, doc.pk])
    return client.get(url).content.decode()


def test_the_button_shows_to_those_who_decide_when_the_latest_has_tracked_changes(
    client, team, doc
) -> None:
    assert "Accept all tracked changes" in page(client, team.editor, doc)
    assert "has 4 tracked changes made in Word" in page(client, team.manager, doc)
    for role in ("commenter", "viewer"):
        assert "Accept all tracked changes" not in page(client, team.by_role[role], doc)
    plain = with_preview(team.manager, team.workspace, "plain.docx", PLAIN)
    assert "Accept all tracked changes" not in page(client, team.manager, plain)


def test_the_button_makes_the_version_and_a_refusal_is_a_sentence(client, team, doc) -> None:
    client.force_login(team.editor)
    url = reverse("tracked_changes_accept", args=[doc.workspace_id, doc.pk])
    answer = client.post(url, {"version": "1"}, follow=True)
    assert "version 2 has them all accepted" in answer.content.decode()
    make_preview(doc.versions.get(number=2))
    assert "Accept all tracked changes" not in page(client, team.editor, doc)
    refused = client.post(url, {"version": "2"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 400
    assert refused.content.decode() == "Version 2 has no tracked changes to accept."
    assert client.post(url, {"version": "9"}).status_code == 404
    client.force_login(team.commenter)
    assert client.post(url, {"version": "1"}, HTTP_HX_REQUEST="true").status_code == 403
    client.force_login(team.outsider)
    assert client.post(url, {"version": "1"}).status_code == 404
    assert client.get(url).status_code == 405
    assert doc.versions.count() == 2
