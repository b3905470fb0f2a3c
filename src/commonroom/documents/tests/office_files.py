"""Office files built by the tests (python-docx, openpyxl, python-pptx), and ways to look inside
them and to forge their custom properties."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

from lxml import etree

CUSTOM_PART = "docProps/custom.xml"
CUSTOM_NS = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
VT_NS = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
PROPERTY = "CommonroomVersion"

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def docx_bytes(text: str = "The board met on Tuesday.") -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Minutes", level=1)
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_bytes(text: str = "Budget") -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    book.active["A1"] = text
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def pptx_bytes(text: str = "Budget") -> bytes:
    import pptx

    deck = pptx.Presentation()
    deck.slides.add_slide(deck.slide_layouts[1]).shapes.title.text = text
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


BUILDERS: dict[str, Callable[..., bytes]] = {
    "docx": docx_bytes,
    "xlsx": xlsx_bytes,
    "pptx": pptx_bytes,
}


def first_text(kind: str, data: bytes) -> str:
    """The text the builder wrote, read back by the file's own library (so it opens)."""
    if kind == "docx":
        import docx

        return str(docx.Document(io.BytesIO(data)).paragraphs[1].text)
    if kind == "xlsx":
        import openpyxl

        return str(openpyxl.load_workbook(io.BytesIO(data)).active["A1"].value)
    import pptx

    return str(pptx.Presentation(io.BytesIO(data)).slides[0].shapes.title.text)


def members(data: bytes) -> dict[str, bytes]:
    """Each member's uncompressed bytes, in the zip's order."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def stamp_in(data: bytes) -> str | None:
    """The text of the CommonroomVersion property, read with lxml."""
    part = members(data).get(CUSTOM_PART)
    if part is None:
        return None
    for prop in etree.fromstring(part).iter(f"{{{CUSTOM_NS}}}property"):
        if prop.get("name") == PROPERTY:
            return str(prop.findtext(f"{{{VT_NS}}}lpwstr"))
    return None


def edited_docx(data: bytes, paragraph: str) -> bytes:
    """``data`` opened in python-docx, a paragraph added, saved: as an editor saves a file (the
    custom properties go along)."""
    import docx

    document = docx.Document(io.BytesIO(data))
    document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def custom_xml(value: str, *, name: str = PROPERTY) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<Properties xmlns="{CUSTOM_NS}" xmlns:vt="{VT_NS}">'
        f'<property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="2" name="{name}">'
        f"<vt:lpwstr>{value}</vt:lpwstr></property></Properties>"
    ).encode()


ENTITY_BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lololololololololol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    + custom_xml("&lol3;").split(b"?>", 1)[1]
)


def with_custom_part(data: bytes, xml: bytes) -> bytes:
    """A copy of the Office file ``data`` whose custom-properties part holds ``xml`` as it is
    (linked from the package as Office links it)."""
    ct = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
    parts = members(data)
    parts[CUSTOM_PART] = xml
    types = parts["[Content_Types].xml"]
    if b"/docProps/custom.xml" not in types:
        override = f'<Override PartName="/{CUSTOM_PART}" ContentType="{ct}"/>'.encode()
        parts["[Content_Types].xml"] = types.replace(b"</Types>", override + b"</Types>")
        link = f'<Relationship Id="rIdStamp" Type="{rel}" Target="{CUSTOM_PART}"/>'.encode()
        parts["_rels/.rels"] = parts["_rels/.rels"].replace(
            b"</Relationships>", link + b"</Relationships>"
        )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in parts.items():
            archive.writestr(name, body)
    return out.getvalue()
