"""Custom document properties: set in .docx, .xlsx and .pptx files built here with every other
member left byte for byte, read back by us and by the files' own libraries, and hostile
properties read as nothing."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import pytest
from lxml import etree

from commonroom.office.package import OfficeFileError, Package
from commonroom.office.properties import (
    CUSTOM_NS,
    CUSTOM_PART,
    MAX_VALUE,
    VT_NS,
    custom_property,
    read_property,
    set_custom_property,
    with_property,
)

NAME = "CommonroomVersion"


def docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Minutes", level=1)
    document.add_paragraph("The board met on Tuesday.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_bytes(*, custom: dict[str, str] | None = None) -> bytes:
    import openpyxl
    from openpyxl.packaging.custom import StringProperty

    book = openpyxl.Workbook()
    book.active["A1"] = "Budget"
    for key, value in (custom or {}).items():
        book.custom_doc_props.append(StringProperty(name=key, value=value))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def pptx_bytes() -> bytes:
    import pptx

    deck = pptx.Presentation()
    deck.slides.add_slide(deck.slide_layouts[1]).shapes.title.text = "Budget"
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


BUILDERS: dict[str, Callable[[], bytes]] = {
    "docx": docx_bytes,
    "xlsx": xlsx_bytes,
    "pptx": pptx_bytes,
}


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def opens(kind: str, data: bytes) -> None:
    """The file's own library reads it."""
    if kind == "docx":
        import docx

        assert docx.Document(io.BytesIO(data)).paragraphs[1].text == "The board met on Tuesday."
    elif kind == "xlsx":
        import openpyxl

        assert openpyxl.load_workbook(io.BytesIO(data)).active["A1"].value == "Budget"
    else:
        import pptx

        deck = pptx.Presentation(io.BytesIO(data))
        assert deck.slides[0].shapes.title.text == "Budget"


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_a_property_is_added_and_nothing_else_changes(kind: str) -> None:
    original = BUILDERS[kind]()
    before = members(original)
    assert CUSTOM_PART not in before

    stamped = with_property(original, NAME, "doc v3")

    after = members(stamped)
    assert list(after)[: len(before)] == list(before)  # same members, same order, one more
    assert set(after) - set(before) == {CUSTOM_PART}
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"[Content_Types].xml", "_rels/.rels"}
    # ...and those two only gained the new part.
    types = etree.fromstring(after["[Content_Types].xml"])
    overrides = [o.get("PartName") for o in types]
    assert overrides.count("/" + CUSTOM_PART) == 1
    assert len(types) == len(etree.fromstring(before["[Content_Types].xml"])) + 1
    rels = etree.fromstring(after["_rels/.rels"])
    assert len(rels) == len(etree.fromstring(before["_rels/.rels"])) + 1
    assert read_property(stamped, NAME) == "doc v3"
    opens(kind, stamped)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_the_property_is_read_by_xml_as_office_writes_it(kind: str) -> None:
    stamped = with_property(BUILDERS[kind](), NAME, "doc v3")
    root = etree.fromstring(members(stamped)[CUSTOM_PART])
    (prop,) = root.findall(f"{{{CUSTOM_NS}}}property")
    assert prop.get("name") == NAME and prop.get("pid") == "2"
    assert prop.get("fmtid") == "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"
    assert prop.findtext(f"{{{VT_NS}}}lpwstr") == "doc v3"


def test_openpyxl_reads_the_property_back() -> None:
    import openpyxl

    stamped = with_property(xlsx_bytes(), NAME, "doc v3")
    props = {p.name: p.value for p in openpyxl.load_workbook(io.BytesIO(stamped)).custom_doc_props}
    assert props == {NAME: "doc v3"}


def test_an_existing_part_is_the_only_member_that_changes() -> None:
    original = xlsx_bytes(custom={"Owner": "Finance"})
    before = members(original)
    assert CUSTOM_PART in before

    stamped = with_property(original, NAME, "doc v4")

    after = members(stamped)
    assert list(after) == list(before)
    assert {name for name in before if before[name] != after[name]} == {CUSTOM_PART}
    package = Package.open(stamped)
    assert custom_property(package, NAME) == "doc v4"
    assert custom_property(package, "Owner") == "Finance"
    pids = [p.get("pid") for p in etree.fromstring(after[CUSTOM_PART])]
    assert len(set(pids)) == len(pids) == 2


def test_stamping_again_replaces_the_value() -> None:
    once = with_property(docx_bytes(), NAME, "doc v1")
    twice = with_property(once, NAME, "doc v2")
    assert read_property(twice, NAME) == "doc v2"
    props = etree.fromstring(members(twice)[CUSTOM_PART]).findall(f"{{{CUSTOM_NS}}}property")
    assert len(props) == 1
    before, after = members(once), members(twice)
    assert {n for n in before if before[n] != after[n]} == {CUSTOM_PART}


def test_a_property_of_another_type_is_replaced_by_text() -> None:
    package = Package.open(with_property(docx_bytes(), NAME, "doc v1"))
    root = package.xml(CUSTOM_PART)
    prop = root.find(f"{{{CUSTOM_NS}}}property")
    for child in list(prop):
        prop.remove(child)
    etree.SubElement(prop, f"{{{VT_NS}}}i4").text = "7"
    package.replace_xml(CUSTOM_PART, root)
    assert custom_property(package, NAME) is None  # not text: not ours
    set_custom_property(package, NAME, "doc v2")
    assert custom_property(Package.open(package.save()), NAME) == "doc v2"


def test_a_file_without_the_property_reads_none() -> None:
    assert read_property(docx_bytes(), NAME) is None
    assert read_property(xlsx_bytes(custom={"Owner": "Finance"}), NAME) is None


def _with_custom_xml(xml: bytes) -> bytes:
    """A .docx whose custom-properties part holds ``xml``, written as is."""
    stamped = with_property(docx_bytes(), NAME, "placeholder")
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(stamped)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            body = xml if info.filename == CUSTOM_PART else source.read(info)
            target.writestr(info.filename, body)
    return out.getvalue()


def _custom_xml(value: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<Properties xmlns="{CUSTOM_NS}" xmlns:vt="{VT_NS}">'
        f'<property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="2" name="{NAME}">'
        f"<vt:lpwstr>{value}</vt:lpwstr></property></Properties>"
    ).encode()


def test_a_huge_value_reads_as_none() -> None:
    assert read_property(_with_custom_xml(_custom_xml("9" * (MAX_VALUE + 1))), NAME) is None
    assert read_property(_with_custom_xml(_custom_xml("9" * MAX_VALUE)), NAME) == "9" * MAX_VALUE


def test_an_entity_bomb_in_the_custom_part_is_refused_unexpanded() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lololololololololol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        + _custom_xml("&lol3;").split(b"?>", 1)[1]
    )
    with pytest.raises(OfficeFileError):
        read_property(_with_custom_xml(bomb), NAME)
    with pytest.raises(OfficeFileError):
        with_property(_with_custom_xml(bomb), NAME, "doc v1")


def test_a_damaged_file_is_refused() -> None:
    data = docx_bytes()
    with pytest.raises(OfficeFileError):
        with_property(data[: len(data) // 2], NAME, "doc v1")
    with pytest.raises(OfficeFileError):
        read_property(b"not a zip at all", NAME)


def test_an_unlinked_custom_part_is_left_alone() -> None:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(docx_bytes())) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
        target.writestr(CUSTOM_PART, _custom_xml("forged"))
    assert read_property(out.getvalue(), NAME) is None  # no relationship names it
    with pytest.raises(OfficeFileError):
        with_property(out.getvalue(), NAME, "doc v1")


@pytest.mark.parametrize(
    ("name", "value"), [("", "doc v1"), (NAME, "line\nbreak"), (NAME, "x" * (MAX_VALUE + 1))]
)
def test_only_printable_text_of_sensible_length_is_written(name: str, value: str) -> None:
    with pytest.raises(ValueError):
        with_property(docx_bytes(), name, value)
