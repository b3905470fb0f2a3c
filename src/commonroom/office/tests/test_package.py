"""The package: what it copies untouched, what it adds, and what it refuses."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from lxml import etree

from commonroom.office.package import (
    CONTENT_TYPES,
    CT_NS,
    RELS_NS,
    OfficeFileError,
    Package,
)

CUSTOM_TYPE = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
CUSTOM_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
CUSTOM_XML = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"'
    b' xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
    b'<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="CommonroomVersion">'
    b"<vt:lpwstr>7</vt:lpwstr></property></Properties>"
)


def _docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Minutes", level=1)
    document.add_paragraph("The board met on Tuesday.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _xlsx() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    book.active["A1"] = "Budget"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _members(data: bytes) -> list[tuple[str, bytes, int, Any]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [
            (i.filename, archive.read(i), i.compress_type, i.date_time) for i in archive.infolist()
        ]


def _zip(members: list[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return out.getvalue()


def test_saving_unchanged_keeps_every_member_name_order_bytes_type_and_date() -> None:
    original = _docx()
    # A stored member among deflated ones: its compression type must survive too.
    members = _members(original)
    mixed = io.BytesIO()
    with zipfile.ZipFile(mixed, "w") as archive:
        for index, (name, data, _kind, date) in enumerate(members):
            info = zipfile.ZipInfo(name, date_time=date)
            info.compress_type = zipfile.ZIP_STORED if index % 2 else zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    saved = Package.open(mixed.getvalue()).save()
    assert _members(saved) == _members(mixed.getvalue())
    assert {m[2] for m in _members(saved)} == {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}


def test_replace_changes_only_that_member() -> None:
    original = _docx()
    package = Package.open(original)
    root = package.xml("word/document.xml")
    root.find(".//{*}t").text = "Agenda"
    package.replace_xml("word/document.xml", root)
    saved = _members(package.save())
    before = _members(original)
    assert [m[0] for m in saved] == [m[0] for m in before]
    for new, old in zip(saved, before, strict=True):
        if new[0] == "word/document.xml":
            assert b"Agenda" in new[1] and new[1] != old[1]
            assert new[1].startswith(b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>")
        else:
            assert new == old


def test_add_a_part_with_its_content_type_and_relationship_from_the_package() -> None:
    import docx

    original = _docx()
    package = Package.open(original)
    rel_id = package.add(
        "docProps/custom.xml",
        CUSTOM_XML,
        content_type=CUSTOM_TYPE,
        rel_from=None,
        rel_type=CUSTOM_REL,
    )
    saved = package.save()
    names = [m[0] for m in _members(saved)]
    assert names[-1] == "docProps/custom.xml"
    assert names[: len(_members(original))] == [m[0] for m in _members(original)]
    reopened = Package.open(saved)
    assert reopened.read("docProps/custom.xml") == CUSTOM_XML
    assert reopened.content_type("docProps/custom.xml") == CUSTOM_TYPE
    assert (rel_id, CUSTOM_REL, "docProps/custom.xml") in reopened.relationships(None)
    # Only the two bookkeeping parts changed.
    old = dict((m[0], m[1]) for m in _members(original))
    changed = {name for name, data, *_ in _members(saved) if old.get(name) != data}
    assert changed == {CONTENT_TYPES, "_rels/.rels", "docProps/custom.xml"}
    # Word's reader (python-docx) opens it and sees the new part.
    opened = docx.Document(io.BytesIO(saved))
    assert opened.paragraphs[1].text == "The board met on Tuesday."
    assert any(r.reltype == CUSTOM_REL for r in opened.part.package.rels.values())


def test_add_to_a_spreadsheet_which_still_opens() -> None:
    import openpyxl

    package = Package.open(_xlsx())
    package.add(
        "docProps/custom.xml",
        CUSTOM_XML,
        content_type=CUSTOM_TYPE,
        rel_from=None,
        rel_type=CUSTOM_REL,
    )
    book = openpyxl.load_workbook(io.BytesIO(package.save()))
    assert book.active["A1"].value == "Budget"


def test_add_from_a_part_writes_a_relative_target_and_creates_missing_rels() -> None:
    package = Package.open(_docx())
    part = b'<?xml version="1.0" encoding="UTF-8"?><x xmlns="urn:example"/>'
    rel_type = "urn:example:rel"
    rel_id = package.add(
        "word/extra/one.xml",
        part,
        content_type="application/xml",
        rel_from="word/document.xml",
        rel_type=rel_type,
    )
    rels = package.xml("word/_rels/document.xml.rels")
    targets = {r.get("Id"): r.get("Target") for r in rels.iter(f"{{{RELS_NS}}}Relationship")}
    assert targets[rel_id] == "extra/one.xml"
    assert len(set(targets)) == len(targets)
    # A part with no relationships yet gets its own .rels part.
    package.add(
        "word/extra/two.xml",
        part,
        content_type="application/xml",
        rel_from="word/extra/one.xml",
        rel_type=rel_type,
    )
    assert "word/extra/_rels/one.xml.rels" in package
    assert package.relationships("word/extra/one.xml") == [("rId1", rel_type, "word/extra/two.xml")]
    overrides = package.xml(CONTENT_TYPES).findall(f"{{{CT_NS}}}Override")
    assert {"/word/extra/one.xml", "/word/extra/two.xml"} <= {o.get("PartName") for o in overrides}


def test_add_refuses_a_name_already_taken() -> None:
    package = Package.open(_docx())
    with pytest.raises(OfficeFileError, match="already has a part"):
        package.add(
            "word/document.xml", b"<x/>", content_type="a/b", rel_from=None, rel_type="urn:x"
        )


def test_replace_refuses_xml_with_a_dtd() -> None:
    package = Package.open(_docx())
    with pytest.raises(OfficeFileError, match="entity declarations"):
        package.replace("word/document.xml", b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')


# --- hostile files -------------------------------------------------------------------------------


def test_a_zip_bomb_is_refused_before_it_is_read() -> None:
    bomb = _zip([(CONTENT_TYPES, b"<Types/>"), ("word/document.xml", b"\0" * 20_000_000)])
    assert len(bomb) < 100_000
    with pytest.raises(OfficeFileError, match="expands to far more"):
        Package.open(bomb)


def test_too_many_members_are_refused() -> None:
    many = _zip([(f"m{i}.bin", b"") for i in range(5_001)], zipfile.ZIP_STORED)
    with pytest.raises(OfficeFileError, match="too many parts"):
        Package.open(many)


def test_an_entity_bomb_is_refused() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
            for i in range(1, 10)
        )
        + b"]><lolz>&lol9;</lolz>"
    )
    with pytest.raises(OfficeFileError, match="entity declarations"):
        Package.open(_zip([(CONTENT_TYPES, b"<Types/>"), ("word/document.xml", laughs)]))


def test_an_external_entity_is_refused_and_never_read() -> None:
    xxe = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    with pytest.raises(OfficeFileError, match="entity declarations"):
        Package.open(_zip([(CONTENT_TYPES, b"<Types/>"), ("word/document.xml", xxe)]))


@pytest.mark.parametrize(
    "data",
    [
        b"not a zip at all",
        b"",
        _zip([("word/document.xml", b"<x/>")]),  # no [Content_Types].xml
        _zip([(CONTENT_TYPES, b"<Types/>"), ("word/document.xml", b"<x><unclosed></x>")]),
    ],
    ids=["not-zip", "empty", "no-content-types", "broken-xml"],
)
def test_damaged_files_are_refused_with_a_sentence(data: bytes) -> None:
    with pytest.raises(OfficeFileError) as caught:
        Package.open(data)
    assert caught.value.message.endswith(".")
    assert caught.value.status == 400


def test_two_members_with_one_name_are_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive, pytest.warns(UserWarning):
        archive.writestr(CONTENT_TYPES, b"<Types/>")
        archive.writestr("word/document.xml", b"<a/>")
        archive.writestr("word/document.xml", b"<b/>")
    with pytest.raises(OfficeFileError, match="same name"):
        Package.open(out.getvalue())


def test_a_member_longer_than_its_header_says_is_refused() -> None:
    data = bytearray(_zip([(CONTENT_TYPES, b"<Types/>"), ("a.bin", b"x" * 1000)]))
    # Shrink the declared size of a.bin in the central directory: reading stops at the
    # declared size and the checksum fails.
    archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
    info = archive.getinfo("a.bin")
    central = bytes(data).rfind(b"PK\x01\x02", 0, len(data))
    assert central > 0 and info.file_size == 1000
    # uncompressed size field sits 24 bytes into a central directory record
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    with pytest.raises(OfficeFileError):
        Package.open(bytes(data))


def test_missing_part_is_a_sentence() -> None:
    package = Package.open(_docx())
    with pytest.raises(OfficeFileError, match="missing a part"):
        package.read("word/nothing.xml")
    assert etree.iselement(package.xml("word/document.xml"))
