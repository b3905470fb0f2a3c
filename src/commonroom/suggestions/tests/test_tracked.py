"""A Word version downloaded with its open suggestions as tracked changes and its open threads
as Word comments (services.tracked_changes_download, in the confined child): what the file
holds, read back; what is left out and counted; who may; what is refused; the audit."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC
from typing import Any

import pytest
from lxml import etree

from commonroom.accounts.tests.factories import GuestFactory
from commonroom.audit.models import Action, AuditEvent
from commonroom.comments import services as comments
from commonroom.core.exceptions import Conflict, NotFound, PermissionDenied
from commonroom.core.sandbox import ChildRun
from commonroom.documents import services as documents
from commonroom.documents.selectors import document_access
from commonroom.documents.stamping import PROPERTY, Stamp
from commonroom.documents.tests.factories import new_version
from commonroom.office import properties, wordedit
from commonroom.suggestions import services, tracked
from commonroom.suggestions.tests.factories import (
    access,
    docx_bytes,
    make_preview,
    suggest,
    where,
    with_preview,
)
from commonroom.suggestions.tracked import tracked_filename
from commonroom.workspaces.tests.factories import add_member

pytestmark = pytest.mark.django_db

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
W15 = "{http://schemas.microsoft.com/office/word/2012/wordml}"
MINUTES = docx_bytes(
    "The board met on Tuesday and agreed the budget.",
    "Apologies were received from two members.",
    "Any other business: none.",
)


@pytest.fixture
def doc(team: Any) -> Any:
    return with_preview(team.manager, team.workspace, "minutes.docx", MINUTES)


def download(user: Any, doc: Any, number: Any = 1) -> Any:
    return services.tracked_changes_download(
        actor=user, doc_access=access(user, doc), number=number
    )


def part(data: bytes, name: str) -> Any:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return etree.fromstring(archive.read(name))


def word_date(moment: Any) -> str:
    return str(moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def thread_on(user: Any, doc: Any, quote: str, body: str, *, number: int | None = None) -> Any:
    place = where(doc, quote, number=number)
    return comments.comment_create(
        actor=user,
        doc_access=access(user, doc),
        body=body,
        version_number=place["version_number"],
        anchor_quote=quote,
        anchor_position={"block": place["block_id"], "start": place["start"], "end": place["end"]},
    )


def reply(user: Any, doc: Any, thread: Any, body: str) -> Any:
    return comments.comment_reply(
        actor=user, doc_access=access(user, doc), comment_id=thread.pk, body=body
    )


def test_open_suggestions_are_tracked_changes_and_threads_word_comments(team, doc) -> None:
    sam, tom = team.commenter, team.editor
    replaced = suggest(sam, doc, "agreed the budget", "replace", "approved the plan")
    deleted = suggest(tom, doc, "two ", "delete", reason="Three sent apologies.")
    thread = thread_on(tom, doc, "Any other business", "Was anything raised?")
    answer = reply(sam, doc, thread, "Nothing was raised.")
    gone = reply(tom, doc, thread, "A reply taken back.")
    comments.comment_delete(actor=tom, doc_access=access(tom, doc), comment_id=gone.pk)
    resolved = thread_on(sam, doc, "Apologies", "Settled already.")
    comments.comment_set_resolved(
        actor=sam, doc_access=access(sam, doc), comment_id=resolved.pk, resolved=True
    )
    rejected = suggest(sam, doc, "Tuesday", "replace", "Monday")
    services.suggestion_reject(actor=tom, doc_access=access(tom, doc), suggestion_id=rejected.pk)

    made = download(tom, doc)

    assert made.filename == "minutes (version 1, with suggestions).docx"
    assert (made.suggestions, made.threads) == (2, 2)
    assert (made.suggestions_left_out, made.threads_left_out, made.left_out) == (0, 0, "")
    body = part(made.data, "word/document.xml")
    inserted = [(e.get(f"{W}author"), e.get(f"{W}date")) for e in body.iter(f"{W}ins")]
    removed = [(e.get(f"{W}author"), e.get(f"{W}date")) for e in body.iter(f"{W}del")]
    assert inserted == [(sam.display_name, word_date(replaced.created_at))]
    assert sorted(removed) == sorted(
        [
            (sam.display_name, word_date(replaced.created_at)),
            (tom.display_name, word_date(deleted.created_at)),
        ]
    )
    assert sorted(t.text for t in body.iter(f"{W}delText")) == ["agreed the budget", "two "]
    # With every change accepted it reads as the suggestions say; the rejected one is not in it.
    assert wordedit.paragraphs(wordedit.accept_all_revisions(made.data)) == [
        "The board met on Tuesday and approved the plan.",
        "Apologies were received from members.",
        "Any other business: none.",
    ]
    # Word comments: the deletion's reason, and the thread with its one reply left (the
    # resolved thread, the deleted reply and the suggestion without reason or replies are not).
    notes = [
        (c.get(f"{W}author"), c.get(f"{W}date"), "".join(c.itertext()))
        for c in part(made.data, "word/comments.xml").iter(f"{W}comment")
    ]
    assert notes == [
        (tom.display_name, word_date(deleted.created_at), "Three sent apologies."),
        (tom.display_name, word_date(thread.created_at), "Was anything raised?"),
        (sam.display_name, word_date(answer.created_at), "Nothing was raised."),
    ]
    extended = list(part(made.data, "word/commentsExtended.xml").iter(f"{W15}commentEx"))
    assert [bool(e.get(f"{W15}paraIdParent")) for e in extended] == [False, False, True]
    assert extended[2].get(f"{W15}paraIdParent") == extended[1].get(f"{W15}paraId")
    # Stamped as version 1: an upload of it is known to be based on version 1.
    version = doc.versions.get(number=1)
    assert properties.read_property(made.data, PROPERTY) == Stamp.of(version).value


def test_what_cannot_be_placed_is_left_out_counted_and_said(team, doc) -> None:
    sam, tom = team.commenter, team.editor
    suggest(sam, doc, "agreed the budget", "replace", "approved the plan")
    # The same words: left out, and its reason with it.
    suggest(tom, doc, "the budget", "replace", "the spending", reason="Clearer.")
    kept = thread_on(sam, doc, "Any other business", "Kept: this paragraph is unchanged.")
    changed = thread_on(sam, doc, "two members", "Left out: this paragraph changes.")
    second = new_version(
        tom,
        doc,
        docx_bytes(
            "The board met on Tuesday and agreed the budget.",
            "Apologies were received from three members.",
            "Any other business: none.",
        ),
    )
    make_preview(second)
    comments.passages_follow(sha256=second.blob_id)

    made = download(tom, doc, 2)

    assert (made.suggestions, made.suggestions_left_out) == (1, 1)
    assert (made.threads, made.threads_left_out) == (1, 1)
    assert made.left_out == (
        "1 suggestion could not be placed in version 2's Word file (it changes the same words "
        "as an earlier one, or Word's tracked changes cannot hold it there) and is not in it; "
        "1 comment thread whose passage is not in version 2 as it reads (it changed, or it "
        "could not be found in the file) is not in it: see them on the document's page."
    )
    texts = [
        "".join(c.itertext()) for c in part(made.data, "word/comments.xml").iter(f"{W}comment")
    ]
    assert texts == [kept.body]  # not "Clearer."
    assert changed.body not in texts
    # Version 1 still has both threads' passages.
    assert download(tom, doc, 1).threads == 2


# role -> may download it; None: not a member (404). By default an external guest who is a
# viewer or a commenter may not (the workspace's download setting, decision 27).
MATRIX = {
    "manager": True,
    "editor": True,
    "commenter": True,
    "viewer": True,
    "guest editor": True,
    "guest commenter": False,
    "guest viewer": False,
    "non-member": None,
}


def test_who_may_download_with_suggestions(team, doc) -> None:
    suggest(team.commenter, doc, "agreed the budget", "replace", "approved the plan")
    for role, may in MATRIX.items():
        if role.startswith("guest"):
            user = add_member(team.workspace, GuestFactory(), role.split()[1])
        else:
            user = team.by_role[role]
        if may is None:
            with pytest.raises(NotFound):
                download(user, doc)
        elif not may:
            with pytest.raises(PermissionDenied, match="cannot download"):
                download(user, doc)
        else:
            assert download(user, doc).suggestions == 1, role


def test_a_forged_version_is_not_found_and_nothing_is_audited(team, doc) -> None:
    for number in (2, 0, "x", None):
        with pytest.raises(NotFound):
            download(team.editor, doc, number)
    assert not AuditEvent.objects.filter(action=Action.DOCUMENT_DOWNLOADED_TRACKED).exists()


def test_a_text_file_is_refused_with_a_sentence_and_nothing_written(team) -> None:
    doc = with_preview(team.manager, team.workspace, "notes.txt", b"The board met.\n")
    before = AuditEvent.objects.count()
    with pytest.raises(
        services.NotWord, match=r"Version 1 is not a Word \(\.docx\) file"
    ) as refused:
        download(team.editor, doc)
    assert (refused.value.code, refused.value.status) == ("not_word", 409)
    assert AuditEvent.objects.count() == before


def test_a_file_that_is_not_really_word_is_refused_with_a_sentence(team) -> None:
    doc = with_preview(team.manager, team.workspace, "minutes.docx", MINUTES)
    broken = new_version(team.manager, doc, b"PK\x03\x04 not a zip at all")
    with pytest.raises(Conflict, match="could not be read") as refused:
        download(team.editor, doc, broken.number)
    assert refused.value.code == "not_readable"


def test_a_document_in_the_trash_cannot_be_downloaded_so(team, doc) -> None:
    documents.document_delete(actor=team.manager, doc_access=access(team.manager, doc))
    with pytest.raises(NotFound):
        access(team.editor, doc)
    trashed = document_access(
        user=team.manager, workspace_id=doc.workspace_id, document_id=doc.pk, include_trash=True
    )
    with pytest.raises(PermissionDenied):
        services.tracked_changes_download(actor=team.manager, doc_access=trashed, number=1)


def test_the_download_is_audited_with_what_it_held(team, doc) -> None:
    suggest(team.commenter, doc, "agreed the budget", "replace", "approved the plan")
    made = download(team.viewer, doc)
    event = AuditEvent.objects.get(action=Action.DOCUMENT_DOWNLOADED_TRACKED)
    assert event.actor_id == team.viewer.pk and event.document_id == doc.pk
    assert event.data == {
        "version": 1,
        "sha256": doc.versions.get(number=1).blob_id,
        "suggestions": 1,
        "threads": 0,
        "suggestions_left_out": 0,
        "threads_left_out": 0,
    }
    assert made.suggestions == 1


def test_the_file_name_says_it_has_the_suggestions() -> None:
    assert (
        tracked_filename("Board minutes.docx", 3)
        == "Board minutes (version 3, with suggestions).docx"
    )
    assert tracked_filename("MINUTES.DOCX", 1) == "MINUTES (version 1, with suggestions).docx"
    assert (
        tracked_filename("Board minutes", 2) == "Board minutes (version 2, with suggestions).docx"
    )


@pytest.mark.slow
def test_libreoffice_reads_them_as_its_own_and_accepts_them(team, doc, tmp_path) -> None:
    from commonroom.office.tests.libreoffice import LibreOffice, require_soffice

    sam, tom = team.commenter, team.editor
    suggest(sam, doc, "agreed the budget", "replace", "approved the plan")
    suggest(tom, doc, "two ", "delete", reason="Three sent apologies.")
    thread = thread_on(tom, doc, "Any other business", "Was anything raised?")
    reply(sam, doc, thread, "Nothing was raised.")

    reading = LibreOffice(require_soffice(), tmp_path).read(download(tom, doc).data)

    authors = sorted((kind, author) for kind, author, _minute in reading.revisions)
    assert authors == sorted(
        [("Delete", sam.display_name), ("Delete", tom.display_name), ("Insert", sam.display_name)]
    )
    # Each on its passage (LibreOffice lists its comments in an order of its own).
    assert sorted(reading.comments) == sorted(
        [
            (tom.display_name, "Three sent apologies.", "two "),
            (tom.display_name, "Was anything raised?", "Any other business"),
            (sam.display_name, "Nothing was raised.", "Any other business"),
        ]
    )
    assert [line.strip() for line in reading.accepted_text.splitlines() if line.strip()] == [
        "The board met on Tuesday and approved the plan.",
        "Apologies were received from members.",
        "Any other business: none.",
    ]


@pytest.mark.parametrize(
    ("run", "code"),
    [
        (ChildRun(code=None), "not_readable"),
        (ChildRun(code=-9, errors="Killed"), "not_readable"),
        (
            ChildRun(code=0, answer={"ok": False, "refused": True, "missing": ["landlock-files"]}),
            "not_confined",
        ),
    ],
)
def test_a_child_that_fails_or_may_not_run_confined_refuses_with_a_sentence(
    team, doc, monkeypatch, run: ChildRun, code: str
) -> None:
    # The kernel here applies every layer and the child ends well: its failures are stood in.
    monkeypatch.setattr(tracked, "run_child", lambda *a, **k: run)
    with pytest.raises(Conflict, match=r"download (it|the version) as it is") as refused:
        download(team.editor, doc)
    assert refused.value.code == code
    assert not AuditEvent.objects.filter(action=Action.DOCUMENT_DOWNLOADED_TRACKED).exists()
