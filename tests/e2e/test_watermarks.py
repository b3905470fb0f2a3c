"""A watermarked preview in Chromium, at a desk and on a phone: the reader's name, email and the
day over the Word preview on screen, and in what the browser prints (its PDF, read back as
text), with the footer saying who printed it and that the workspace has the latest version;
a member who may download prints the footer and no watermark."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from e2e_support import DESKTOP, PHONE, page_width, sign_in
from playwright.sync_api import expect
from pypdf import PdfReader
from test_accessibility import violations

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.core.watermark import print_footer, watermark_for
from commonroom.previews.models import Preview, PreviewStatus
from commonroom.workspaces.tests.factories import add_member, make_workspace, upload_document


def long_minutes() -> bytes:
    document = Document()
    document.add_heading("Ward managers' meeting — minutes", level=1)
    for number in range(1, 61):
        document.add_paragraph(
            f"{number}. The bank staff rota for the winter months was discussed and agreed, "
            "with the cover for nights shared between the two wards."
        )
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def printed_pages(page: Any) -> list[str]:
    # Printed from wherever the reader had scrolled to.
    page.mouse.wheel(0, 4000)
    reader = PdfReader(io.BytesIO(page.pdf(format="A4")))
    # Without spaces: the PDF's text is read back with some missing.
    return [squash(sheet.extract_text() or "") for sheet in reader.pages]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_watermarked_preview_is_printed_with_the_readers_name_and_the_footer(
    new_page: Any, page_problems: Any, viewport: dict[str, int], tmp_path: Path
) -> None:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    guest = UserFactory(email="aisha@guest.example.com", full_name="Aisha Khan", kind="guest")
    ws = make_workspace(manager=priya)
    add_member(ws, guest, "viewer")
    doc = upload_document(ws, priya, name="minutes.docx", content=long_minutes())
    assert Preview.objects.get().status == PreviewStatus.READY

    page = new_page("Aisha", viewport=viewport)
    sign_in(page, str(guest.email), PASSWORD)
    page.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    read = page.locator("#preview-" + str(doc.pk))
    expect(read.get_by_text("60. The bank staff rota")).to_be_visible()
    expect(read.get_by_text("Watermarked with your name")).to_be_visible()
    overlay = read.locator("svg.cr-watermark")
    expect(overlay).to_be_attached()
    # The overlay covers the whole preview, however long, and lets clicks through.
    box, body = overlay.bounding_box(), read.locator(".cr-preview__body").bounding_box()
    assert box is not None and body is not None
    assert box["height"] >= body["height"] - 1 and box["width"] >= body["width"] - 1
    assert overlay.evaluate("e => getComputedStyle(e).pointerEvents") == "none"
    assert page_width(page) <= viewport["width"]
    assert violations(page) == []
    shots = Path(os.environ.get("COMMONROOM_SHOTS_DIR", tmp_path))  # to look at them
    name = f"watermark-{viewport['width']}"
    read.screenshot(path=str(shots / f"{name}.png"))

    sheets = printed_pages(page)
    page.emulate_media(media="print")
    read.screenshot(path=str(shots / f"{name}-print.png"))
    assert len(sheets) >= 2
    footer = squash(print_footer(guest))
    line = squash(watermark_for(guest).line)
    for number, text in enumerate(sheets, start=1):
        assert footer in text, (number, text[-300:])
        # At the sheet's head, and across it (the printed layer), wherever it falls.
        assert text.count(line) >= 5, (number, text[:300])
    assert "aisha@guest.example.com" in sheets[0]
    assert page_problems.seen == []


def test_a_member_who_may_download_prints_the_footer_without_a_watermark(
    new_page: Any, page_problems: Any
) -> None:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    ws = make_workspace(manager=priya)
    doc = upload_document(ws, priya, name="minutes.docx", content=long_minutes())
    page = new_page("Priya")
    sign_in(page, str(priya.email), PASSWORD)
    page.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    expect(
        page.locator(f"#preview-{doc.pk}").get_by_text("60. The bank staff rota")
    ).to_be_visible()
    expect(page.locator("svg.cr-watermark")).to_have_count(0)
    sheets = printed_pages(page)
    footer = squash(print_footer(priya))
    assert all(footer in text for text in sheets)
    assert not any("priya@example.org·" in text for text in sheets)
    assert page_problems.seen == []
