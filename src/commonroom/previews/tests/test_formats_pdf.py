"""The PDF converter and the page drawer, on PDFs the tests write: placeholders and text per page,
a 10,000-page PDF cut at the limit, pages drawn with a pixel cap, protected and damaged files
refused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfWriter

from commonroom.previews import limits
from commonroom.previews.converters import pdf
from commonroom.previews.converters.base import Refused


def text_pdf(path: Path, pages: list[str], *, size: tuple[int, int] = (612, 792)) -> Path:
    """A small valid PDF, one line of Helvetica on each page, written object by object."""
    count = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, words in enumerate(pages):
        stream = f"BT /F1 24 Tf 72 {size[1] - 100} Td ({words}) Tj ET"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {size[0]} {size[1]}] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    path.write_bytes(bytes(out))
    return path


def test_pages_are_placeholders_with_their_text_for_search(tmp_path):
    source = text_pdf(
        tmp_path / "minutes.pdf", ["Board minutes", "Ward 7 staffing", r"Actions \(<b>\)"]
    )

    result = pdf.convert(source, tmp_path)

    assert result.kind == "pdf"
    assert result.page_count == 3
    assert result.notes == []
    assert result.files == []  # nothing is drawn while converting
    assert result.html.startswith(
        '<figure class="cr-preview-page" id="p-1"><img src="{{file:page-1.png}}" '
        'loading="lazy" alt="Page 1" width="1200" height="1553"><figcaption>Page 1</figcaption>'
        '<details class="cr-preview-page-text"><summary>Text of page 1</summary>'
        "<p>Board minutes</p></details></figure>"
    )
    assert result.html.count("<figure") == 3 and 'id="p-3"' in result.html
    assert "{{file:page-3.png}}" in result.html
    assert result.text.split("\n") == ["Board minutes", "Ward 7 staffing", "Actions (<b>)"]
    # Each page's words are there to select, quote and read, escaped.
    assert "<summary>Text of page 3</summary><p>Actions (&lt;b&gt;)</p>" in result.html
    assert not list(tmp_path.glob("*.png"))


def test_a_page_is_drawn_on_demand_at_the_width_asked(tmp_path):
    source = text_pdf(tmp_path / "minutes.pdf", ["Board minutes", "Ward 7 staffing"])
    out = tmp_path / "page-2.png"

    size = pdf.render_page(source, 2, out)

    assert size == (1200, 1553)
    with Image.open(out) as page:
        assert page.format == "PNG" and page.size == (1200, 1553)
        assert page.mode == "P"  # 256 colours: a fraction of the bytes on a phone
        # The words are drawn: the page is not all white.
        darkest, lightest = page.convert("L").getextrema()
        assert isinstance(darkest, int) and darkest < 100
        assert lightest == 255

    assert pdf.render_page(source, 1, tmp_path / "wide.png", width=10_000)[0] == 2400

    for missing in (0, 3, -1):
        with pytest.raises(Refused, match="not in the preview"):
            pdf.render_page(source, missing, tmp_path / "none.png")


def test_a_very_long_page_is_drawn_within_the_pixel_cap(tmp_path):
    source = text_pdf(tmp_path / "scroll.pdf", ["A long roll"], size=(612, 14_400))

    width, height = pdf.render_page(source, 1, tmp_path / "page-1.png")

    assert width * height <= pdf.MAX_RENDER_PIXELS
    assert width < 1200
    assert abs(height / width - 14_400 / 612) < 0.05


def test_a_10000_page_pdf_is_cut_at_the_limit_quickly(tmp_path):
    writer = PdfWriter()
    for _ in range(10_000):
        writer.add_blank_page(612, 792)
    source = tmp_path / "long.pdf"
    writer.write(source)

    started = time.monotonic()
    result = pdf.convert(source, tmp_path)
    elapsed = time.monotonic() - started

    assert limits.MAX_PDF_PAGES == 2_000
    assert result.page_count == 2_000
    assert result.notes == ["Showing the first 2,000 of 10,000 pages."]
    assert result.html.count("<figure") == 2_000
    assert 'id="p-2000"' in result.html and 'id="p-2001"' not in result.html
    assert elapsed < 10, f"took {elapsed:.1f}s"

    with pytest.raises(Refused, match="not in the preview"):
        pdf.render_page(source, 2_001, tmp_path / "page-2001.png")


def test_a_truncated_pdf_is_refused_with_a_message(tmp_path):
    writer = PdfWriter()
    for _ in range(50):
        writer.add_blank_page(612, 792)
    whole = tmp_path / "whole.pdf"
    writer.write(whole)
    data = whole.read_bytes()
    source = tmp_path / "cut.pdf"
    source.write_bytes(data[: len(data) // 2])

    with pytest.raises(Refused, match="damaged or incomplete"):
        pdf.convert(source, tmp_path)
    with pytest.raises(Refused, match="damaged or incomplete"):
        pdf.render_page(source, 1, tmp_path / "page-1.png")


def test_a_file_that_is_not_a_pdf_is_refused(tmp_path):
    source = tmp_path / "letter.pdf"
    source.write_text("Dear colleague, this is not a PDF.")

    with pytest.raises(Refused, match="damaged or incomplete"):
        pdf.convert(source, tmp_path)


def test_a_password_protected_pdf_is_refused_with_a_clear_sentence(tmp_path):
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    source = tmp_path / "locked.pdf"
    writer.write(source)

    expected = (
        "This PDF is protected by a password, so it cannot be previewed; download to open it."
    )
    with pytest.raises(Refused) as refused:
        pdf.convert(source, tmp_path)
    assert str(refused.value) == expected
    with pytest.raises(Refused) as refused:
        pdf.render_page(source, 1, tmp_path / "page-1.png")
    assert str(refused.value) == expected


def test_a_pdf_locked_only_against_editing_is_previewed(tmp_path):
    # An owner password alone (no password to open) restricts editing, not reading.
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    source = tmp_path / "no-editing.pdf"
    writer.write(source)

    result = pdf.convert(source, tmp_path)

    assert result.page_count == 1
    assert pdf.render_page(source, 1, tmp_path / "page-1.png") == (1200, 1553)
