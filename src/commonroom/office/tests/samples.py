"""Word files the tests build with python-docx: every kind of paragraph a suggestion meets."""

from __future__ import annotations

import io
from typing import Any

BODY = "The committee approved the budget for next year."
HEADING = "Annual report"
LIST_ITEMS = ["Open the meeting", "Agree the minutes", "Close the meeting"]
LINK_BEFORE = "Read the "
LINK_TEXT = "full guidance"
LINK_AFTER = " before voting."
TABLE = [["Item", "Cost"], ["Chairs", "120"]]
COMMENTED = "This sentence already has a comment."
REPEATED = "Agreed."


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def _hyperlink(paragraph: Any, url: str, text: str) -> None:
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    rel_id = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rel_id)
    run = OxmlElement("w:r")
    props = OxmlElement("w:rPr")
    underline = OxmlElement("w:u")
    underline.set(qn("w:val"), "single")
    props.append(underline)
    run.append(props)
    text_el = OxmlElement("w:t")
    text_el.text = text
    run.append(text_el)
    link.append(run)
    paragraph._p.append(link)


def sample_docx() -> bytes:
    """Headings, a numbered list, a table, bold runs, a hyperlink, an image, an existing
    comment, a header and a footer, and one paragraph text that appears twice."""
    import docx
    from docx.shared import Pt

    document = docx.Document()
    section = document.sections[0]
    section.header.paragraphs[0].text = "Board papers"
    section.footer.paragraphs[0].text = "Confidential"
    document.add_heading(HEADING, level=1)
    paragraph = document.add_paragraph("The committee ")
    bold = paragraph.add_run("approved")
    bold.bold = True
    paragraph.add_run(" the budget for next year.")
    for item in LIST_ITEMS:
        document.add_paragraph(item, style="List Number")
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate(TABLE):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    linked = document.add_paragraph(LINK_BEFORE)
    _hyperlink(linked, "https://example.org/guidance", LINK_TEXT)
    linked.add_run(LINK_AFTER)
    document.add_paragraph(REPEATED)
    pictured = document.add_paragraph("A chart: ")
    pictured.add_run().add_picture(io.BytesIO(_png()))
    pictured.add_run(" shows the trend.")
    commented = document.add_paragraph()
    run = commented.add_run(COMMENTED)
    run.font.size = Pt(12)
    document.add_comment([run], text="Is this right?", author="Ana Lee", initials="AL")
    document.add_heading("Next steps", level=2)
    document.add_paragraph(REPEATED)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def docx_with(*paragraphs: str, header: str | None = None) -> bytes:
    """A python-docx document whose body is ``paragraphs`` (WordprocessingML written with the
    ``w:`` prefix), for what python-docx cannot make: fields, content controls, tracked
    changes. ``header`` (paragraph XML) replaces the default header's paragraph."""
    import zipfile

    import docx
    from lxml import etree

    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "Header"
    out = io.BytesIO()
    document.save(out)
    source = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    wrapper = f'<w:body xmlns:w="{W_NS}">' + "".join(paragraphs) + "</w:body>"
    parsed = etree.fromstring(wrapper)
    result = io.BytesIO()
    with zipfile.ZipFile(result, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/document.xml":
                root = etree.fromstring(data)
                body = root.find(f"{{{W_NS}}}body")
                section = body.find(f"{{{W_NS}}}sectPr")
                for child in list(body):
                    if child is not section:
                        body.remove(child)
                for child in parsed:
                    section.addprevious(child)
                data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
            elif header is not None and info.filename.startswith("word/header"):
                root = etree.fromstring(data)
                for child in list(root):
                    root.remove(child)
                root.append(etree.fromstring(f'<w:hdr xmlns:w="{W_NS}">{header}</w:hdr>')[0])
                data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
            target.writestr(info, data)
    return result.getvalue()


def p(*content: str, properties: str = "") -> str:
    """A paragraph's XML."""
    return f"<w:p>{properties}{''.join(content)}</w:p>"


def r(text: str, properties: str = "") -> str:
    """A run's XML."""
    rpr = f"<w:rPr>{properties}</w:rPr>" if properties else ""
    return f'<w:r>{rpr}<w:t xml:space="preserve">{text}</w:t></w:r>'


TRACK = 'w:author="Kim" w:date="2024-02-01T08:00:00Z"'
