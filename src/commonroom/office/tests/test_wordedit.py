"""The Word edit engine on files built here: what it changes, what it keeps, what it refuses."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta, timezone

import pytest
from lxml import etree

from commonroom.office import wordedit
from commonroom.office.package import OfficeFileError, Package
from commonroom.office.tests.samples import (
    BODY,
    COMMENTED,
    HEADING,
    LINK_AFTER,
    LINK_BEFORE,
    LINK_TEXT,
    REPEATED,
    TRACK,
    W_NS,
    docx_with,
    p,
    r,
    sample_docx,
)
from commonroom.office.wordedit import (
    Change,
    CommentThread,
    NewParagraph,
    Reply,
    Revision,
    accept_all_revisions,
    apply,
    paragraphs,
    with_tracked_changes,
)

W = f"{{{W_NS}}}"
W14 = "{http://schemas.microsoft.com/office/word/2010/wordml}"
W15 = "{http://schemas.microsoft.com/office/word/2012/wordml}"
WHEN = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
LINK = LINK_BEFORE + LINK_TEXT + LINK_AFTER
PICTURE = "A chart:  shows the trend."
SAMPLE = sample_docx()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _order(data: bytes) -> list[tuple[str, int]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(i.filename, i.compress_type) for i in archive.infolist()]


def _body(data: bytes) -> list[etree._Element]:
    root = Package.open(data).xml("word/document.xml")
    return [e for e in root.find(f"{W}body") if e.tag == f"{W}p" or e.tag == f"{W}tbl"]


def _paragraph_elements(data: bytes) -> list[etree._Element]:
    root = Package.open(data).xml("word/document.xml")
    return [e for e in root.find(f"{W}body").iter(f"{W}p")]


def _changed_members(before: bytes, after: bytes) -> set[str]:
    old, new = _members(before), _members(after)
    assert list(old) == list(new)[: len(old)]
    return {name for name in new if old.get(name) != new[name]}


# --- reading ---------------------------------------------------------------------------------


def test_paragraphs_read_as_a_reader_sees_them() -> None:
    assert paragraphs(SAMPLE) == [
        HEADING,
        BODY,
        "Open the meeting",
        "Agree the minutes",
        "Close the meeting",
        "Item",
        "Cost",
        "Chairs",
        "120",
        LINK,
        REPEATED,
        PICTURE,
        COMMENTED,
        "Next steps",
        REPEATED,
    ]


def test_tabs_breaks_and_tracked_changes_are_read_as_accepted() -> None:
    data = docx_with(
        p(
            r("a"),
            "<w:r><w:tab/><w:t>b</w:t><w:br/><w:t>c</w:t><w:noBreakHyphen/></w:r>",
            f'<w:del w:id="7" {TRACK}><w:r><w:delText>gone</w:delText></w:r></w:del>',
            f'<w:ins w:id="8" {TRACK}><w:r><w:t>new</w:t></w:r></w:ins>',
            '<w:r><w:fldChar w:fldCharType="begin"/></w:r>',
            '<w:r><w:instrText xml:space="preserve"> PAGE </w:instrText></w:r>',
            '<w:r><w:fldChar w:fldCharType="separate"/></w:r>',
            r("4"),
            '<w:r><w:fldChar w:fldCharType="end"/></w:r>',
        )
    )
    assert paragraphs(data) == ["a\tb\nc\u2011new4"]


# --- apply: the golden round trip --------------------------------------------------------------


def test_apply_rewrites_only_the_changed_runs_and_keeps_everything_else() -> None:
    result = apply(SAMPLE, [Change(BODY, 14, 22, "rejected")])

    # Every other part of the file is byte-identical, in the same order and compression.
    assert _changed_members(SAMPLE, result) == {"word/document.xml"}
    assert _order(result) == _order(SAMPLE)
    # The paragraph says exactly what was asked, and the replaced word is still bold.
    texts = paragraphs(result)
    assert texts[1] == "The committee rejected the budget for next year."
    assert texts[:1] + texts[2:] == paragraphs(SAMPLE)[:1] + paragraphs(SAMPLE)[2:]
    changed = _paragraph_elements(result)[1]
    bold = [run for run in changed.iter(f"{W}r") if run.find(f"{W}rPr/{W}b") is not None]
    assert ["".join(t.text for t in run.iter(f"{W}t")) for run in bold] == ["rejected"]
    # Only that paragraph's XML changed; its runs are the same three runs.
    before, after = _paragraph_elements(SAMPLE), _paragraph_elements(result)
    assert len(before) == len(after)
    for index, (old, new) in enumerate(zip(before, after, strict=True)):
        if index != 1:
            assert etree.tostring(old) == etree.tostring(new)
    assert len(changed.findall(f"{W}r")) == len(before[1].findall(f"{W}r")) == 3
    # The declaration and everything before the paragraphs are as they were.
    old_xml = _members(SAMPLE)["word/document.xml"]
    new_xml = _members(result)["word/document.xml"]
    assert new_xml[: old_xml.index(b"<w:body>")] == old_xml[: old_xml.index(b"<w:body>")]


@pytest.mark.parametrize(
    ("edit", "index", "expected"),
    [
        (Change(HEADING, 0, 6, "Yearly"), 0, "Yearly report"),
        (Change("Agree the minutes", 6, 9, "last week's"), 3, "Agree last week's minutes"),
        (Change("Chairs", 0, 6, "Desks"), 7, "Desks"),
        (Change("120", 3, 3, ".50"), 8, "120.50"),
        (Change(LINK, 9, 13, "complete"), 9, "Read the complete guidance before voting."),
        (Change(LINK, 5, 22, "our guide"), 9, "Read our guide before voting."),
        (Change(LINK, 0, 37, ""), 9, ""),
        (Change(PICTURE, 0, 8, "A graph:"), 11, "A graph:  shows the trend."),
        (Change(COMMENTED, 5, 13, "line"), 12, "This line already has a comment."),
        (Change(REPEATED, 6, 6, " by all", occurrence=2), 14, "Agreed by all."),
        (
            Change(BODY, 3, 3, "\tfull\n"),
            1,
            "The\tfull\n committee approved the budget for next year.",
        ),
    ],
    ids=[
        "heading",
        "list",
        "cell",
        "cell-end",
        "link",
        "across-link",
        "all",
        "picture",
        "commented",
        "second",
        "tab-break",
    ],
)
def test_apply_each_kind_of_paragraph(edit: Change, index: int, expected: str) -> None:
    result = apply(SAMPLE, [edit])
    texts = paragraphs(result)
    assert texts[index] == expected
    others = paragraphs(SAMPLE)
    others[index] = expected
    assert texts == others


def test_apply_a_picture_stays_when_text_beside_it_changes() -> None:
    result = apply(SAMPLE, [Change(PICTURE, 9, 9, " trend"), Change(PICTURE, 0, 2, "")])
    assert paragraphs(result)[11] == "chart:  trend shows the trend."
    assert len(list(_paragraph_elements(result)[11].iter(f"{W}drawing"))) == 1


def test_inserted_text_takes_the_formatting_of_the_character_before_it() -> None:
    after_bold = apply(SAMPLE, [Change(BODY, 22, 22, " unanimously")])
    before_bold = apply(SAMPLE, [Change(BODY, 14, 14, "finally ")])
    for data, bold_text in ((after_bold, "approved unanimously"), (before_bold, "approved")):
        runs = _paragraph_elements(data)[1].findall(f"{W}r")
        bold = [
            "".join(t.text for t in run.iter(f"{W}t"))
            for run in runs
            if run.find(f"{W}rPr/{W}b") is not None
        ]
        assert bold == [bold_text]


def test_several_edits_in_one_paragraph_compose() -> None:
    edits = [
        Change(BODY, 48, 48, " Vote: 5-2"),
        Change(BODY, 0, 4, ""),
        Change(BODY, 27, 33, "spending plan"),
        Change(BODY, 14, 22, "rejected"),
        Change(BODY, 22, 22, " outright"),
    ]
    assert paragraphs(apply(SAMPLE, edits))[1] == (
        "committee rejected outright the spending plan for next year. Vote: 5-2"
    )


def test_new_paragraphs_follow_word_s_enter_key() -> None:
    result = apply(
        SAMPLE,
        [
            NewParagraph(HEADING, "Written by the board."),
            NewParagraph("Open the meeting", "Take apologies"),
            NewParagraph("Open the meeting", "Welcome guests"),
        ],
    )
    texts = paragraphs(result)
    assert texts[:6] == [
        HEADING,
        "Written by the board.",
        BODY,
        "Open the meeting",
        "Take apologies",
        "Welcome guests",
    ]
    elements = _paragraph_elements(result)
    style = elements[1].find(f"{W}pPr/{W}pStyle")
    assert style is not None and style.get(f"{W}val") != "Heading1"  # a heading's next style
    for new in elements[4:6]:  # a list item's new paragraph is a list item
        assert new.find(f"{W}pPr/{W}pStyle").get(f"{W}val") == "ListNumber"


# --- apply: what is refused --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edits", "message"),
    [
        ([Change("No such paragraph.", 0, 1, "x")], "no longer in the file"),
        ([Change(REPEATED, 0, 1, "x", occurrence=3)], "no longer in the file"),
        ([Change(HEADING, 7, 40, "x")], "several paragraphs"),
        ([Change(HEADING, 5, 3, "x")], "not valid"),
        ([Change(BODY, 0, 10, "a"), Change(BODY, 5, 12, "b")], "same words"),
        ([Change(BODY, 4, 4, "a"), Change(BODY, 4, 4, "b")], "same words"),
        ([Change(BODY, 4, 9, "a"), Change(BODY, 4, 4, "b")], "same words"),
        ([Change(PICTURE, 5, 14, "x")], "picture"),
        ([Change(BODY, 0, 1, "x" * 100_000)], "longer than 20,000"),
        ([NewParagraph(BODY, "y" * 20_001)], "longer than 20,000"),
    ],
    ids=[
        "missing",
        "occurrence",
        "spanning",
        "backwards",
        "overlap",
        "same-insert",
        "insert-at-replace",
        "across-picture",
        "huge",
        "huge-new",
    ],
)
def test_apply_refuses_with_a_sentence(edits: list[wordedit.Edit], message: str) -> None:
    with pytest.raises(OfficeFileError, match=message) as caught:
        apply(SAMPLE, edits)
    assert caught.value.message.endswith(".")


def test_adjacent_edits_are_not_overlapping() -> None:
    result = apply(
        SAMPLE, [Change(BODY, 0, 3, "A"), Change(BODY, 3, 3, "n"), Change(BODY, 3, 4, "")]
    )
    assert paragraphs(result)[1] == "Ancommittee approved the budget for next year."


def test_the_longest_text_allowed_is_written() -> None:
    long = "word " * 4_000
    result = apply(SAMPLE, [Change(BODY, 0, 3, long)])
    assert paragraphs(result)[1] == long + BODY[3:]


@pytest.mark.parametrize(
    "bad",
    ["\x00", "\x0b", "\r", "\x1f", "\x7f", "\x85", "\ud800", "\ufffe"],
    ids=["nul", "vt", "cr", "us", "del", "nel", "surrogate", "non-character"],
)
def test_control_characters_are_refused(bad: str) -> None:
    with pytest.raises(OfficeFileError, match="only tabs and new lines"):
        apply(SAMPLE, [Change(BODY, 0, 3, f"A{bad}B")])


FIELD_DOC = docx_with(
    p(
        r("Page "),
        '<w:fldSimple w:instr=" PAGE "><w:r><w:t>3</w:t></w:r></w:fldSimple>',
        r(" of the report, dated "),
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>',
        '<w:r><w:instrText xml:space="preserve"> DATE </w:instrText></w:r>',
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r>',
        r("1 May"),
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>',
        r(" in full."),
    ),
    p(
        "<w:sdt><w:sdtPr/><w:sdtContent><w:r><w:t>Name here</w:t></w:r></w:sdtContent></w:sdt>",
        r(" signs."),
    ),
    p(
        '<w:smartTag w:uri="urn:x" w:element="place"><w:r><w:t>London</w:t></w:r></w:smartTag>',
        r(" office"),
    ),
    p(
        r("Kept "),
        f'<w:del w:id="1" {TRACK}><w:r><w:delText>old </w:delText></w:r></w:del>',
        f'<w:ins w:id="2" {TRACK}><w:r><w:t>new </w:t></w:r></w:ins>',
        r("words"),
    ),
)
FIELD_TEXT = "Page 3 of the report, dated 1 May in full."


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (Change(FIELD_TEXT, 5, 6, "4"), "field"),
        (Change(FIELD_TEXT, 4, 7, "-"), "field"),
        (Change(FIELD_TEXT, 28, 33, "2 June"), "field"),
        (Change(FIELD_TEXT, 20, 40, "x"), "field"),
        (Change("Name here signs.", 0, 4, "Your"), "content control"),
        (Change("London office", 0, 6, "Leeds"), "smart tag"),
        (Change("Kept new words", 5, 8, "fresh"), "tracked change"),
        (Change("Kept new words", 0, 14, ""), "tracked change"),
    ],
    ids=[
        "simple-field",
        "around-field",
        "field-result",
        "across-field",
        "sdt",
        "smarttag",
        "inserted",
        "across-deleted",
    ],
)
def test_edits_into_fields_controls_and_tracked_changes_are_refused(
    edit: Change, message: str
) -> None:
    with pytest.raises(OfficeFileError, match=message):
        apply(FIELD_DOC, [edit])
    with pytest.raises(OfficeFileError, match=message):
        with_tracked_changes(FIELD_DOC, [Revision(edit, "Sam", WHEN)])


def test_edits_beside_fields_controls_and_tracked_changes_are_made() -> None:
    edits = [
        Change(FIELD_TEXT, 0, 4, "Sheet"),
        Change(FIELD_TEXT, 6, 6, " (of 9)"),
        Change(FIELD_TEXT, 33, 42, "."),
        Change("Name here signs.", 10, 15, "agrees"),
        Change("London office", 13, 13, "s"),
        Change("Kept new words", 9, 14, "text"),
    ]
    expected = [
        "Sheet 3 (of 9) of the report, dated 1 May.",
        "Name here agrees.",
        "London offices",
        "Kept new text",
    ]
    assert paragraphs(apply(FIELD_DOC, edits)) == expected
    tracked = with_tracked_changes(FIELD_DOC, [Revision(e, "Sam", WHEN) for e in edits])
    assert paragraphs(tracked) == expected
    assert paragraphs(accept_all_revisions(tracked)) == expected


# --- hostile files -------------------------------------------------------------------------------


def _replace_member(data: bytes, name: str, content: bytes | None) -> bytes:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            if info.filename == name:
                if content is not None:
                    target.writestr(info, content)
            else:
                target.writestr(info, source.read(info))
    return out.getvalue()


def test_a_word_zip_bomb_is_refused() -> None:
    bomb = _replace_member(SAMPLE, "word/media/image1.png", b"\0" * 30_000_000)
    with pytest.raises(OfficeFileError, match="expands to far more"):
        apply(bomb, [Change(BODY, 0, 3, "A")])


def test_an_entity_bomb_in_the_document_is_refused() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b'<w:document xmlns:w="'
        + W_NS.encode()
        + b'"><w:body><w:p><w:r><w:t>&c;</w:t></w:r></w:p></w:body></w:document>'
    )
    with pytest.raises(OfficeFileError, match="entity declarations"):
        paragraphs(_replace_member(SAMPLE, "word/document.xml", laughs))


def test_a_missing_document_part_is_refused() -> None:
    with pytest.raises(OfficeFileError, match=r"not a Word document|missing a part"):
        apply(_replace_member(SAMPLE, "word/document.xml", None), [Change(BODY, 0, 3, "A")])


def test_a_spreadsheet_is_not_a_word_document() -> None:
    import openpyxl

    out = io.BytesIO()
    openpyxl.Workbook().save(out)
    with pytest.raises(OfficeFileError, match="not a Word document"):
        paragraphs(out.getvalue())


def test_xml_written_differently_is_read_and_changed_the_same() -> None:
    """A document.xml in UTF-16 with character references and CDATA cannot come back byte for
    byte; it comes back meaning the same, in UTF-8."""
    xml = (
        '<?xml version="1.0" encoding="UTF-16" standalone="yes"?>'
        f'<w:document xmlns:w="{W_NS}"><w:body>'
        "<w:p><w:r><w:t>Caf&#233; <![CDATA[& bar]]></w:t></w:r></w:p>"
        "<w:p><w:r><w:t>Unchanged &amp; kept</w:t></w:r></w:p>"
        "<w:sectPr/></w:body></w:document>"
    ).encode("utf-16")
    data = _replace_member(SAMPLE, "word/document.xml", xml)
    assert paragraphs(data) == ["Café & bar", "Unchanged & kept"]
    result = apply(data, [Change("Café & bar", 5, 10, "& pub")])
    assert paragraphs(result) == ["Café & pub", "Unchanged & kept"]
    assert _members(result)["word/document.xml"].startswith(b"<?xml version='1.0' encoding='UTF-8'")


def test_a_fault_that_would_damage_the_file_refuses_the_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The written document is read back before it is saved: a change that did not come out
    as asked (here the engine made to drop the new text) is refused, nothing written."""
    monkeypatch.setattr(wordedit, "_content", lambda text, before="", after="": [])
    with pytest.raises(OfficeFileError, match="without damaging the file"):
        apply(SAMPLE, [Change(BODY, 14, 22, "rejected")])


# --- tracked changes and comments ----------------------------------------------------------------


EDITS: list[wordedit.Edit] = [
    Change(BODY, 14, 22, "rejected"),
    Change(BODY, 27, 33, "spending plan"),
    Change(BODY, 48, 48, " Vote: 5-2"),
    Change(LINK, 9, 22, "short guide"),
    Change("Chairs", 0, 6, ""),
    NewParagraph("Open the meeting", "Take apologies"),
    Change(REPEATED, 0, 7, "Agreed unanimously.", occurrence=2),
]
THREAD = CommentThread(
    BODY,
    4,
    13,
    "Sam Patel",
    WHEN - timedelta(minutes=30),
    "Which committee?",
    replies=(
        Reply("Ana Lee", WHEN, "The finance one."),
        Reply("Sam Patel", WHEN, "Thanks.\nAgreed."),
    ),
)


def _tracked() -> bytes:
    revisions = [Revision(edit, "Sam Patel", WHEN) for edit in EDITS]
    revisions[3] = Revision(
        EDITS[3], "Ana Lee", datetime(2025, 3, 2, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    )
    return with_tracked_changes(SAMPLE, revisions, comments=[THREAD])


def test_tracked_changes_are_word_revisions_with_authors_and_dates() -> None:
    tracked = _tracked()
    root = Package.open(tracked).xml("word/document.xml")
    revisions = [e for e in root.iter(f"{W}ins", f"{W}del") if e.getparent().tag != f"{W}rPr"]
    by_author = {(e.get(f"{W}author"), e.get(f"{W}date")) for e in revisions}
    assert by_author == {("Sam Patel", "2025-03-01T09:30:00Z"), ("Ana Lee", "2025-03-02T09:00:00Z")}
    deleted = ["".join(t.text for t in e.iter(f"{W}delText")) for e in root.iter(f"{W}del")]
    inserted = ["".join(t.text for t in e.iter(f"{W}t")) for e in root.iter(f"{W}ins")]
    assert sorted(deleted) == sorted(["approved", "budget", "full guidance", "Chairs", "Agreed."])
    assert sorted(i for i in inserted if i) == sorted(
        [
            "rejected",
            "spending plan",
            " Vote: 5-2",
            "short guide",
            "Take apologies",
            "Agreed unanimously.",
        ]
    )
    # The replacement keeps the replaced word's bold.
    replacement = next(e for e in root.iter(f"{W}ins") if "rejected" in "".join(e.itertext()))
    assert replacement.find(f"{W}r/{W}rPr/{W}b") is not None
    # Every revision and comment has its own id.
    ids = [e.get(f"{W}id") for e in root.iter(f"{W}ins", f"{W}del", f"{W}commentRangeStart")]
    assert len(ids) == len(set(ids))
    # The new paragraph's mark is an insertion too.
    assert root.find(f".//{W}pPr/{W}rPr/{W}ins") is not None
    # Read as accepted, the file says what apply() writes; rejected, what it said before.
    assert paragraphs(tracked) == paragraphs(apply(SAMPLE, EDITS))
    assert paragraphs(accept_all_revisions(tracked)) == paragraphs(apply(SAMPLE, EDITS))


def test_tracked_changes_touch_only_the_parts_they_must() -> None:
    tracked = _tracked()
    assert _changed_members(SAMPLE, tracked) == {
        "[Content_Types].xml",
        "word/_rels/document.xml.rels",
        "word/document.xml",
        "word/comments.xml",
        "word/commentsExtended.xml",
    }


def test_comment_threads_are_word_comments_with_linked_replies() -> None:
    package = Package.open(_tracked())
    comments = package.xml("word/comments.xml").findall(f"{W}comment")
    # The comment already in the file stays first; the thread follows in order.
    assert [
        (c.get(f"{W}author"), "\n".join("".join(p.itertext()) for p in c.iter(f"{W}p")))
        for c in comments
    ] == [
        ("Ana Lee", "Is this right?"),
        ("Sam Patel", "Which committee?"),
        ("Ana Lee", "The finance one."),
        ("Sam Patel", "Thanks.\nAgreed."),
    ]
    assert comments[1].get(f"{W}date") == "2025-03-01T09:00:00Z"
    # Each reply's last paragraph is linked to the thread's first comment.
    last_para = [c.findall(f"{W}p")[-1].get(f"{W14}paraId") for c in comments[1:]]
    entries = package.xml("word/commentsExtended.xml").findall(f"{W15}commentEx")
    links = {e.get(f"{W15}paraId"): e.get(f"{W15}paraIdParent") for e in entries}
    assert links == {last_para[0]: None, last_para[1]: last_para[0], last_para[2]: last_para[0]}
    # The markers in the document are on "committee", with ids that name the comments.
    root = package.xml("word/document.xml")
    ids = [c.get(f"{W}id") for c in comments[1:]]
    paragraph = _paragraph_elements(package.save())[1]
    order = [
        (e.tag.split("}")[1], e.get(f"{W}id"))
        for e in paragraph.iter(
            f"{W}commentRangeStart", f"{W}commentRangeEnd", f"{W}commentReference"
        )
    ]
    assert order == (
        [("commentRangeStart", i) for i in ids]
        + [("commentRangeEnd", i) for i in ids]
        + [("commentReference", i) for i in ids]
    )
    start = paragraph.find(f"{W}commentRangeStart")
    end = paragraph.find(f"{W}commentRangeEnd")
    between = []
    element = start.getnext()
    while element is not end:
        between.append("".join(element.itertext()))
        element = element.getnext()
    assert "".join(between) == "committee"
    assert root is not None


def test_comments_are_added_to_a_file_without_any() -> None:
    plain = docx_with(p(r("Just text here.")))
    result = with_tracked_changes(
        plain, [], comments=[CommentThread("Just text here.", 5, 9, "Sam", WHEN, "Why?")]
    )
    package = Package.open(result)
    assert package.content_type("word/comments.xml") == wordedit.COMMENTS_TYPE
    kinds = {kind for _id, kind, _target in package.relationships("word/document.xml")}
    assert {wordedit.COMMENTS_REL, wordedit.COMMENTS_EX_REL} <= kinds
    assert paragraphs(result) == ["Just text here."]


@pytest.mark.parametrize(
    ("author", "date", "message"),
    [
        ("", WHEN, "author"),
        ("Sam\nPatel", WHEN, "author"),
        ("Sam", datetime(2025, 3, 1, 9, 30), "time zone"),  # noqa: DTZ001
    ],
)
def test_revisions_need_an_author_and_an_aware_date(
    author: str, date: datetime, message: str
) -> None:
    with pytest.raises(OfficeFileError, match=message):
        with_tracked_changes(SAMPLE, [Revision(Change(BODY, 0, 3, "A"), author, date)])


# --- accepting a file's tracked changes ----------------------------------------------------------


def test_accept_all_revisions_keeps_insertions_and_drops_deletions() -> None:
    data = docx_with(
        p(
            r("Alpha "),
            f'<w:del w:id="1" {TRACK}><w:r><w:delText>beta </w:delText></w:r></w:del>',
            f'<w:ins w:id="2" {TRACK}><w:r><w:t>gamma </w:t></w:r></w:ins>',
            f'<w:r><w:rPr><w:b/><w:rPrChange w:id="3" {TRACK}><w:rPr/></w:rPrChange></w:rPr>'
            "<w:t>delta</w:t></w:r>",
        ),
        p(r("Joined "), properties=f'<w:pPr><w:rPr><w:del w:id="4" {TRACK}/></w:rPr></w:pPr>'),
        p(
            r("to this."),
            properties='<w:pPr><w:jc w:val="center"/>'
            f'<w:pPrChange w:id="5" {TRACK}><w:pPr/></w:pPrChange></w:pPr>',
        ),
        p(
            r("New paragraph."),
            properties=f'<w:pPr><w:rPr><w:ins w:id="6" {TRACK}/></w:rPr></w:pPr>',
        ),
        f'<w:tbl><w:tr><w:trPr><w:del w:id="7" {TRACK}/></w:trPr>'
        f"<w:tc><w:p>{r('Deleted row')}</w:p></w:tc></w:tr>"
        f"<w:tr><w:tc><w:p>{r('Kept row')}</w:p></w:tc></w:tr></w:tbl>",
        p(f'<w:moveFrom w:id="8" {TRACK}><w:r><w:t>moved away</w:t></w:r></w:moveFrom>', r("Stay")),
        p(
            r("Arrived: "),
            f'<w:moveTo w:id="9" {TRACK}><w:r><w:t>moved away</w:t></w:r></w:moveTo>',
        ),
        header=p(
            r("Head "),
            f'<w:del w:id="10" {TRACK}><w:r><w:delText>old</w:delText></w:r></w:del>',
            f'<w:ins w:id="11" {TRACK}><w:r><w:t>new</w:t></w:r></w:ins>',
        ),
    )
    result = accept_all_revisions(data)
    assert paragraphs(result) == [
        "Alpha gamma delta",
        "Joined to this.",
        "New paragraph.",
        "Kept row",
        "Stay",
        "Arrived: moved away",
    ]
    package = Package.open(result)
    revision_tags = {
        f"{W}{t}" for t in ("ins", "del", "moveFrom", "moveTo", "rPrChange", "pPrChange")
    }
    for name in ("word/document.xml", "word/header1.xml"):
        root = package.xml(name)
        assert not [e for e in root.iter() if e.tag in revision_tags], name
    header = package.xml("word/header1.xml")
    assert "".join(header.itertext()) == "Head new"
    # The joined paragraph keeps the second paragraph's properties (as Word does).
    joined = _paragraph_elements(result)[1]
    assert joined.find(f"{W}pPr/{W}jc").get(f"{W}val") == "center"
    # Formatting kept as it now is (bold), only the record of the change is gone.
    assert _paragraph_elements(result)[0].find(f".//{W}b") is not None


def test_accept_all_revisions_on_a_file_without_any_changes_nothing() -> None:
    result = accept_all_revisions(SAMPLE)
    assert _changed_members(SAMPLE, result) == set()


def test_cell_changes_are_refused_rather_than_guessed() -> None:
    data = docx_with(
        f'<w:tbl><w:tr><w:tc><w:tcPr><w:cellDel w:id="1" {TRACK}/></w:tcPr>'
        f"<w:p>{r('x')}</w:p></w:tc></w:tr></w:tbl>",
        p(r("after")),
    )
    with pytest.raises(OfficeFileError, match="table's cells"):
        accept_all_revisions(data)
