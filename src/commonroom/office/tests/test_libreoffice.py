"""LibreOffice, an independent reader, opens what the engine writes and reads what it must."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from commonroom.office.tests import libreoffice as libreoffice_module
from commonroom.office.tests.libreoffice import LibreOffice, require_soffice
from commonroom.office.tests.samples import COMMENTED, TRACK, docx_with, p, r
from commonroom.office.tests.test_wordedit import EDITS, SAMPLE, THREAD, WHEN
from commonroom.office.wordedit import (
    Revision,
    accept_all_revisions,
    apply,
    paragraphs,
    with_tracked_changes,
)

pytestmark = pytest.mark.slow
KEEP = 'xml:space="preserve"'


@pytest.fixture(scope="module")
def libreoffice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LibreOffice]:
    yield LibreOffice(require_soffice(), tmp_path_factory.mktemp("libreoffice"))


def _lines(text: str) -> list[str]:
    """LibreOffice's text, one paragraph a line, list numbers and indents left out."""
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if line[:3] in ("1. ", "2. ", "3. ", "4. "):
            line = line[3:]
        lines.append(line)
    return lines


def test_libreoffice_reads_the_accepted_file_with_its_new_words(libreoffice: LibreOffice) -> None:
    result = apply(SAMPLE, EDITS)
    text = libreoffice.text(result)
    for words in (
        "The committee rejected the spending plan for next year. Vote: 5-2",
        "Read the short guide before voting.",
        "Take apologies",
        "Agreed unanimously.",
    ):
        assert words in text
    assert "approved" not in text and "full guidance" not in text
    # Every paragraph reads as the engine says it does (new lines inside one are breaks).
    assert _lines(text) == [line for p in paragraphs(result) for line in p.split("\n")]


def test_libreoffice_reads_the_tracked_changes_and_comment_threads(
    libreoffice: LibreOffice,
) -> None:
    revisions = [Revision(edit, "Sam Patel", WHEN) for edit in EDITS]
    tracked = with_tracked_changes(SAMPLE, revisions, comments=[THREAD])
    reading = libreoffice.read(tracked)
    # Each deletion and insertion is a revision by its author at its time (as LibreOffice
    # shows it: in local time, which the helper sets to UTC).
    assert {(author, minute) for _kind, author, minute in reading.revisions} == {
        ("Sam Patel", "2025-03-01T09:30")
    }
    kinds = sorted(kind for kind, _author, _minute in reading.revisions)
    assert kinds.count("Delete") == 5 and kinds.count("Insert") >= 6
    # Accepting them all in LibreOffice gives exactly what apply() writes.
    assert _lines(reading.accepted_text) == _lines(libreoffice.text(apply(SAMPLE, EDITS)))
    # The thread: the comment and each reply on the passage it was made on (LibreOffice lists
    # comments in its own order); the comment the file had is still there.
    assert ("Ana Lee", "Is this right?", COMMENTED) in reading.comments
    thread = [c for c in reading.comments if c[2] == "committee"]
    assert sorted(thread) == sorted(
        [
            ("Sam Patel", "Which committee?", "committee"),
            ("Ana Lee", "The finance one.", "committee"),
            ("Sam Patel", "Thanks. Agreed.", "committee"),
        ]
    )


def test_libreoffice_accepting_all_agrees_with_accept_all_revisions(
    libreoffice: LibreOffice,
) -> None:
    deleted = f'<w:del w:id="1" {TRACK}><w:r><w:delText {KEEP}>beta </w:delText></w:r></w:del>'
    inserted = f'<w:ins w:id="2" {TRACK}><w:r><w:t {KEEP}>gamma </w:t></w:r></w:ins>'
    moved_from = f'<w:moveFrom w:id="4" {TRACK}><w:r><w:t {KEEP}>moved </w:t></w:r></w:moveFrom>'
    moved_to = f'<w:moveTo w:id="5" {TRACK}><w:r><w:t>moved</w:t></w:r></w:moveTo>'
    data = docx_with(
        p(r("Alpha "), deleted, inserted, r("delta")),
        p(r("Joined "), properties=f'<w:pPr><w:rPr><w:del w:id="3" {TRACK}/></w:rPr></w:pPr>'),
        p(r("to this.")),
        p(moved_from, r("Stay")),
        p(r("Arrived: "), moved_to),
    )
    ours = accept_all_revisions(data)
    reading = libreoffice.read(data)
    assert _lines(reading.accepted_text) == paragraphs(ours)
    assert paragraphs(ours) == ["Alpha gamma delta", "Joined to this.", "Stay", "Arrived: moved"]
    # And LibreOffice sees no change left in our result.
    assert libreoffice.read(ours).revisions == []


def test_a_missing_libreoffice_is_a_loud_skip_and_a_failure_in_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(libreoffice_module, "SOFFICE", None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_soffice()
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="SKIPPED"):
        require_soffice()
