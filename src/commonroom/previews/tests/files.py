"""Files the preview tests build: Word documents (python-docx, and hand-written XML for tracked
changes and comments), presentations (python-pptx), a zip bomb, XML with entities, a truncated
file."""

# ruff: noqa: E501 (XML written out whole reads better than split)

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from docx import Document
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Inches
from PIL import Image

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def png_bytes(color: tuple[int, int, int] = (0, 94, 184)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="PNG")
    return buf.getvalue()


def _hyperlink(paragraph: object, url: str, text: str) -> None:
    part = paragraph.part  # type: ignore[attr-defined]
    rel = part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rel)
    run = OxmlElement("w:r")
    t = OxmlElement("w:t")
    t.text = text
    run.append(t)
    link.append(run)
    paragraph._p.append(link)  # type: ignore[attr-defined]


def rich_docx(path: Path) -> Path:
    """Headings, a list, a table, bold/italic, a link, an image and a javascript: link."""
    doc = Document()
    doc.add_heading("Board minutes", level=1)
    doc.add_heading("Attendance", level=2)
    p = doc.add_paragraph("The board met on ")
    p.add_run("Tuesday").bold = True
    p.add_run(" and agreed the ")
    p.add_run("budget").italic = True
    p.add_run(".")
    doc.add_paragraph("First item", style="List Bullet")
    doc.add_paragraph("Second item", style="List Bullet")
    table = doc.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Ward"
    table.cell(0, 1).text = "Beds"
    table.cell(1, 0).text = "Ash"
    table.cell(1, 1).text = "24"
    links = doc.add_paragraph("See ")
    _hyperlink(links, "https://www.nhs.uk/", "the NHS website")
    bad = doc.add_paragraph("Do not ")
    _hyperlink(bad, "javascript:alert(document.cookie)", "click here")
    image = io.BytesIO(png_bytes())
    doc.add_picture(image, width=Inches(1))
    doc.save(str(path))
    return path


def _docx_with(path: Path, body_xml: str, extra: dict[str, str] | None = None) -> Path:
    """A minimal Word document whose body is ``body_xml`` (inside w:body), with extra parts."""
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
        '<Override PartName="/word/comments.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.comments+xml"/>'
        "</Types>"
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
        "</Relationships>"
    )
    doc_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/comments" Target="comments.xml"/>'
        "</Relationships>"
    )
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:document xmlns:w="{W_NS}"><w:body>{body_xml}</w:body></w:document>'
    )
    parts = {
        "[Content_Types].xml": content_types,
        "_rels/.rels": rels,
        "word/_rels/document.xml.rels": doc_rels,
        "word/document.xml": document,
        **(extra or {}),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts.items():
            z.writestr(name, text)
    return path


def tracked_docx(path: Path) -> Path:
    """Two tracked insertions, one deletion, and two Word comments."""
    body = (
        '<w:p><w:r><w:t xml:space="preserve">The budget is </w:t></w:r>'
        '<w:del w:id="1" w:author="Tom"><w:r><w:delText>four</w:delText></w:r></w:del>'
        '<w:ins w:id="2" w:author="Tom"><w:r><w:t>five</w:t></w:r></w:ins>'
        '<w:r><w:t xml:space="preserve"> million.</w:t></w:r></w:p>'
        '<w:p><w:ins w:id="3" w:author="Sam"><w:r><w:t>A new sentence.</w:t></w:r></w:ins></w:p>'
    )
    comments = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:comments xmlns:w="{W_NS}">'
        '<w:comment w:id="0" w:author="Priya Shah" w:date="2025-03-01T10:00:00Z">'
        "<w:p><w:r><w:t>Check the agency figure.</w:t></w:r></w:p></w:comment>"
        '<w:comment w:id="1" w:author="Sam"><w:p><w:r><w:t>&lt;script&gt;x&lt;/script&gt;</w:t></w:r></w:p></w:comment>'
        "</w:comments>"
    )
    return _docx_with(path, body, {"word/comments.xml": comments})


def entity_docx(path: Path, *, external: bool = False) -> Path:
    """A Word document whose main part declares entities: a billion laughs, or an external
    entity pointing at a server file."""
    if external:
        dtd = '<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        text = "&xxe;"
    else:
        levels = ['<!ENTITY lol0 "lol">'] + [
            f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
        ]
        dtd = "<!DOCTYPE w:document [" + "".join(levels) + "]>"
        text = "&lol9;"
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>' + dtd + f'<w:document xmlns:w="{W_NS}">'
        f"<w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>"
    )
    _docx_with(path, "<w:p/>")
    # Rewrite with the hostile main part.
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    parts["word/document.xml"] = document.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return path


def zip_bomb_docx(path: Path, size: int = 1024**3) -> Path:
    """A .docx whose main part is ``size`` bytes of zeros (~1 MB compressed per GB), streamed
    into the zip so the test never holds it in memory."""
    _docx_with(path, "<w:p/>")
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
        chunk = bytes(8 * 1024 * 1024)
        with z.open("customXml/zeros.xml", "w", force_zip64=True) as member:
            written = 0
            while written < size:
                member.write(chunk)
                written += len(chunk)
    return path


def truncated(path: Path, source: Path) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def pptx_bytes(slides: list[tuple[str, list[str], list[str]]]) -> bytes:
    """A presentation of ``slides``, each (title, paragraphs of its text box, speaker notes'
    paragraphs): a "Title and Content" slide, or a blank one when it has neither title nor
    text."""
    from pptx import Presentation

    presentation = Presentation()
    for title, body, notes in slides:
        layout = presentation.slide_layouts[1 if title or body else 6]
        slide = presentation.slides.add_slide(layout)
        if title or body:
            slide.shapes.title.text = title
            frame = slide.placeholders[1].text_frame
            for number, text in enumerate(body):
                (frame.paragraphs[0] if number == 0 else frame.add_paragraph()).text = text
        if notes:
            frame = slide.notes_slide.notes_text_frame
            for number, text in enumerate(notes):
                (frame.paragraphs[0] if number == 0 else frame.add_paragraph()).text = text
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()
