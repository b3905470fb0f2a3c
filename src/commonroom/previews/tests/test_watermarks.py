"""Watermarks on what a reader who may not download is shown: drawn by the server into a PDF's
pages and a picture's preview, for that reader, from the shared picture left as it is; laid
over an HTML preview; and a printed preview's footer for everyone.

Whose copy a picture is, is read from its bytes: drawn again with the watermark function for
that reader it is the very same file, for anyone else it is not (the drawing is deterministic).
"""

from __future__ import annotations

import datetime
import hashlib
import io
import re
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from fpdf import FPDF
from PIL import Image

from commonroom.core.watermark import Watermark, print_footer, watermark_for
from commonroom.previews import watermark as drawing
from commonroom.previews.models import Preview, PreviewFile
from commonroom.previews.tests import files
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.services import workspace_update
from commonroom.workspaces.tests.factories import upload_document

pytestmark = pytest.mark.django_db

MINUTES = "Minutes of the ward managers' meeting: the bank staff rota was agreed."


@pytest.fixture
def downloads_off(team: Any) -> None:
    """The workspace's setting: only managers may download originals (editors, commenters and
    viewers read in the browser), so what the others read is watermarked."""
    workspace_update(
        actor=team.manager,
        access=workspace_access(user=team.manager, workspace_id=team.workspace.pk),
        downloads={"editor": "nobody", "commenter": "nobody", "viewer": "nobody"},
    )


def minutes_pdf(pages: int = 2) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.multi_cell(0, 8, f"Page {number}. {MINUTES}\n" * 12)
    return bytes(pdf.output())


def photo_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 420), (230, 236, 240)).save(out, "PNG")
    return out.getvalue()


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def file_url(team: Any, doc: Any, name: str) -> str:
    return reverse("preview_file", args=[team.workspace.pk, doc.pk, 1, name])


def picture(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def stored(doc: Any, name: str) -> bytes:
    found = PreviewFile.objects.get(preview__blob__versions__document=doc, name=name)
    with default_storage.open(found.storage_name, "rb") as stream:
        return stream.read()


def test_a_pdf_page_is_drawn_with_its_readers_watermark_and_the_shared_page_is_untouched(
    team: Any, downloads_off: None, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        doc = upload_document(
            team.workspace, team.manager, name="minutes.pdf", content=minutes_pdf()
        )
    # The manager may download: the page as drawn for everyone.
    plain = client_for(team.manager).get(file_url(team, doc, "page-1.png"))
    assert plain.status_code == 200
    shared = stored(doc, "page-1.png")
    assert picture(plain) == shared

    viewer = client_for(team.viewer).get(file_url(team, doc, "page-1.png"))
    assert viewer.status_code == 200
    assert viewer["Content-Type"] == "image/png"
    # One address, a picture per reader: a browser shared by two people keeps each one's.
    assert "Cookie" in viewer["Vary"] and "Cookie" in plain["Vary"]
    assert viewer["X-Content-Type-Options"] == "nosniff"
    marked = picture(viewer)
    assert marked != shared
    with Image.open(io.BytesIO(marked)) as seen, Image.open(io.BytesIO(shared)) as page:
        assert seen.size == page.size
    # The reader's email is in the bytes: drawn again for the viewer, the same file; for the
    # commenter (same name rules, another address), not.
    assert marked == drawing.watermark_bytes(shared, "image/png", watermark_for(team.viewer))[0]
    assert marked != drawing.watermark_bytes(shared, "image/png", watermark_for(team.commenter))[0]
    commenter = picture(client_for(team.commenter).get(file_url(team, doc, "page-1.png")))
    assert (
        commenter == drawing.watermark_bytes(shared, "image/png", watermark_for(team.commenter))[0]
    )
    # The shared page was never overwritten, and no second page was stored.
    assert stored(doc, "page-1.png") == shared
    assert list(PreviewFile.objects.values_list("name", flat=True)) == ["page-1.png"]


def test_a_page_drawn_first_for_a_watermarked_reader_is_stored_unwatermarked(
    team: Any, downloads_off: None, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        doc = upload_document(
            team.workspace, team.manager, name="minutes.pdf", content=minutes_pdf()
        )
    marked = picture(client_for(team.viewer).get(file_url(team, doc, "page-2.png")))
    shared = stored(doc, "page-2.png")
    assert marked != shared
    assert picture(client_for(team.manager).get(file_url(team, doc, "page-2.png"))) == shared


def test_a_watermarked_page_is_drawn_once_per_reader_and_day(
    team: Any, downloads_off: None, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        doc = upload_document(
            team.workspace, team.manager, name="minutes.pdf", content=minutes_pdf()
        )
    drawn: list[str] = []
    real = drawing.watermark_bytes

    def counting(data: bytes, content_type: str, watermark: Watermark) -> tuple[bytes, str]:
        drawn.append(watermark.email)
        return real(data, content_type, watermark)

    monkeypatch.setattr(drawing, "watermark_bytes", counting)
    viewer = client_for(team.viewer)
    first = picture(viewer.get(file_url(team, doc, "page-1.png")))
    again = picture(viewer.get(file_url(team, doc, "page-1.png")))
    assert first == again and drawn == ["viewer@example.org"]
    picture(client_for(team.commenter).get(file_url(team, doc, "page-1.png")))
    assert drawn == ["viewer@example.org", "sam@example.org"]
    # Another day is another watermark, so another drawing: nothing to invalidate.
    found = PreviewFile.objects.get(name="page-1.png")
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    later = drawing.watermarked_file(found, watermark_for(team.viewer, day=tomorrow))[0]
    assert later != first
    assert drawn[-1] == "viewer@example.org" and len(drawn) == 3


def test_a_pictures_preview_is_watermarked_for_a_reader_who_may_not_download(
    team: Any, downloads_off: None, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        doc = upload_document(team.workspace, team.manager, name="ward.png", content=photo_png())
    preview = Preview.objects.get(blob__versions__document=doc)
    assert preview.kind == "image"
    name = preview.files.get().name
    shared = stored(doc, name)
    assert picture(client_for(team.manager).get(file_url(team, doc, name))) == shared
    marked = picture(client_for(team.viewer).get(file_url(team, doc, name)))
    content_type = preview.files.get().content_type
    assert marked == drawing.watermark_bytes(shared, content_type, watermark_for(team.viewer))[0]
    assert marked != drawing.watermark_bytes(shared, content_type, watermark_for(team.editor))[0]
    assert stored(doc, name) == shared


def test_everyone_who_may_download_gets_the_pictures_as_they_are(
    team: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Without the setting every member may download: no watermark, for any role."""
    with django_capture_on_commit_callbacks(execute=True):
        doc = upload_document(
            team.workspace, team.manager, name="minutes.pdf", content=minutes_pdf()
        )
    for role in ("viewer", "commenter", "editor", "manager"):
        page = picture(client_for(team.by_role[role]).get(file_url(team, doc, "page-1.png")))
        assert page == stored(doc, "page-1.png"), role
    html = client_for(team.viewer).get(reverse("document_detail", args=[team.workspace.pk, doc.pk]))
    assert b"cr-watermark" not in html.content and b"Watermarked with your name" not in html.content


def test_a_non_member_gets_no_page_watermarked_or_not(
    team: Any, downloads_off: None, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        doc = upload_document(
            team.workspace, team.manager, name="minutes.pdf", content=minutes_pdf()
        )
    outsider = client_for(team.outsider)
    for url in (
        file_url(team, doc, "page-1.png"),
        reverse("version_preview", args=[team.workspace.pk, doc.pk, 1]),
        reverse("document_detail", args=[team.workspace.pk, doc.pk]),
    ):
        answer = outsider.get(url)
        assert answer.status_code == 404, url
        assert b"outsider@example.org" not in answer.content
    assert not PreviewFile.objects.exists()  # nothing was drawn for them


def test_an_html_preview_carries_the_readers_watermark(
    team: Any, downloads_off: None, django_capture_on_commit_callbacks: Any, tmp_path: Any
) -> None:
    content = files.rich_docx(tmp_path / "minutes.docx").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        doc = upload_document(team.workspace, team.manager, name="minutes.docx", content=content)
    for url in (
        reverse("document_detail", args=[team.workspace.pk, doc.pk]),
        reverse("version_preview", args=[team.workspace.pk, doc.pk, 1]),
    ):
        viewer = client_for(team.viewer).get(url).content.decode()
        line = watermark_for(team.viewer).line
        assert 'class="cr-watermark"' in viewer
        assert viewer.count(f">{line}</text>") == 2  # the overlay's pattern
        assert viewer.count(f"<p>{line}</p>") == 5  # the printed layer
        assert "Watermarked with your name" in viewer
        manager = client_for(team.manager).get(url).content.decode()
        assert "cr-watermark" not in manager and "priya@example.org ·" not in manager
    page = client_for(team.viewer).get(reverse("document_detail", args=[team.workspace.pk, doc.pk]))
    sheet = reverse("print_sheet", args=[team.workspace.pk, doc.pk])
    assert f'href="{sheet}" media="print"' in page.content.decode()


def css_text(css: str) -> list[str]:
    """The strings of a stylesheet, their escapes read back."""
    return [
        re.sub(r"\\([0-9a-f]{6})", lambda m: chr(int(m.group(1), 16)), found)
        for found in re.findall(r'content: "([^"]*)"', css)
    ]


def test_the_print_stylesheet_puts_the_footer_on_every_sheet_and_the_watermark_for_some(
    team: Any, downloads_off: None
) -> None:
    url = reverse(
        "print_sheet", args=[team.workspace.pk, upload_document(team.workspace, team.manager).pk]
    )
    viewer = client_for(team.viewer).get(url)
    assert viewer.status_code == 200
    assert viewer["Content-Type"] == "text/css; charset=utf-8"
    assert viewer["Cache-Control"] == "private, no-store"
    assert css_text(viewer.content.decode()) == [
        print_footer(team.viewer),
        watermark_for(team.viewer).line,
    ]
    manager = client_for(team.manager).get(url).content.decode()
    assert css_text(manager) == [print_footer(team.manager)]
    assert client_for(team.outsider).get(url).status_code == 404
    forged = reverse("print_sheet", args=[team.workspace.pk, team.workspace.pk])
    assert client_for(team.viewer).get(forged).status_code == 404


def test_a_name_cannot_break_out_of_the_print_stylesheet() -> None:
    name = 'Tom"; } body { display: none } @page { x: "\\\n</style>'
    mark = Watermark(name, "tom@example.org", datetime.date(2026, 12, 5))
    css = drawing.print_stylesheet(footer=f"Printed by {name}", watermark=mark)
    assert css.count("{") == css.count("}") == 3
    assert '"' not in css.replace('content: "', "").replace('";', "")
    assert css_text(css) == [f"Printed by {name}", mark.line]
    # No space follows an escape (it would be read as the escape's end and lost).
    assert not re.search(r"\\[0-9a-f]{6}\s", css)


def test_a_pdf_preview_is_not_overlaid_its_pages_carry_the_watermark(
    team: Any, downloads_off: None, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        doc = upload_document(
            team.workspace, team.manager, name="minutes.pdf", content=minutes_pdf()
        )
    page = client_for(team.viewer).get(
        reverse("version_preview", args=[team.workspace.pk, doc.pk, 1])
    )
    html = page.content.decode()
    assert 'class="cr-watermark"' not in html
    assert "Watermarked with your name" in html


def test_a_preview_file_that_is_not_a_picture_is_not_sent_to_a_watermarked_reader(
    team: Any, downloads_off: None, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        doc = upload_document(
            team.workspace, team.manager, name="minutes.pdf", content=minutes_pdf()
        )
    preview = Preview.objects.get(blob__versions__document=doc)
    name = "chart.emf"
    storage_name = default_storage.save(f"previews/{preview.blob_id}/{name}", io.BytesIO(b"EMF"))
    PreviewFile.objects.create(
        preview=preview,
        name=name,
        content_type="image/emf",
        size=3,
        storage_name=storage_name,
    )
    assert client_for(team.viewer).get(file_url(team, doc, name)).status_code == 404
    assert client_for(team.manager).get(file_url(team, doc, name)).status_code == 200


def test_the_watermark_names_the_reader_by_name_email_and_day() -> None:
    day = datetime.date(2026, 12, 5)
    mark = Watermark("Aisha Khan", "aisha@example.org", day)
    assert mark.line == "Aisha Khan · aisha@example.org · 5 December 2026"
    assert (
        Watermark("a@example.org", "a@example.org", day).line == "a@example.org · 5 December 2026"
    )
    assert (
        hashlib.sha256(mark.key.encode()).hexdigest()
        != hashlib.sha256(
            Watermark(
                "Aisha Khan", "aisha@example.org", day + datetime.timedelta(days=1)
            ).key.encode()
        ).hexdigest()
    )


def test_a_comparison_carries_the_readers_watermark(
    team: Any, downloads_off: None, django_capture_on_commit_callbacks: Any
) -> None:
    from commonroom.documents.tests.factories import new_version

    with django_capture_on_commit_callbacks(execute=True):
        doc = upload_document(team.workspace, team.manager, content=b"The rota was agreed.\n")
        new_version(team.manager, doc, b"The rota was agreed on Monday.\n")
    url = reverse("version_compare", args=[team.workspace.pk, doc.pk])
    viewer = client_for(team.viewer).get(url).content.decode()
    assert "<ins>" in viewer  # the comparison is shown
    assert viewer.count(f">{watermark_for(team.viewer).line}</text>") == 2
    sheet = reverse("print_sheet", args=[team.workspace.pk, doc.pk])
    assert f'href="{sheet}" media="print"' in viewer
    manager = client_for(team.manager).get(url).content.decode()
    assert "<ins>" in manager and 'class="cr-watermark"' not in manager
    assert client_for(team.outsider).get(url).status_code == 404


def test_a_guest_who_may_download_reads_watermarked_previews_where_guests_pdfs_are_stamped(
    team: Any, django_capture_on_commit_callbacks: Any, tmp_path: Any
) -> None:
    """Where the workspace watermarks guests' downloads (decision 28), a PDF's page pictures
    are a copy of the PDF too: a guest who may download reads them with their watermark, as
    they read HTML previews, print and compare; staff who may download, and the same guest
    where the setting is off, read them as they are."""
    from commonroom.accounts.tests.factories import UserFactory
    from commonroom.documents.tests.test_guest_download_watermark import (
        guests_may_download,
        watermarking,
    )
    from commonroom.workspaces.tests.factories import add_member

    guest: Any = UserFactory(email="aisha@guest.example.com", full_name="Aisha Khan", kind="guest")
    add_member(team.workspace, guest, "viewer")
    guests_may_download(team)
    watermarking(team.workspace)
    content = files.rich_docx(tmp_path / "minutes.docx").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        pdf = upload_document(
            team.workspace, team.manager, name="minutes.pdf", content=minutes_pdf()
        )
        photo = upload_document(team.workspace, team.manager, name="ward.png", content=photo_png())
        docx = upload_document(team.workspace, team.manager, name="minutes.docx", content=content)
    reader = client_for(guest)
    assert (
        reader.get(reverse("version_download", args=[team.workspace.pk, pdf.pk, 1])).status_code
        == 200
    )
    line = watermark_for(guest).line
    # A PDF's page and a picture: drawn with the guest's watermark; the stored ones untouched.
    marked = picture(reader.get(file_url(team, pdf, "page-1.png")))
    shared = stored(pdf, "page-1.png")  # drawn when first asked for, unwatermarked
    assert marked == drawing.watermark_bytes(shared, "image/png", watermark_for(guest))[0]
    assert stored(pdf, "page-1.png") == shared
    found = Preview.objects.get(blob__versions__document=photo).files.get()
    marked = picture(reader.get(file_url(team, photo, found.name)))
    assert (
        marked
        == drawing.watermark_bytes(
            stored(photo, found.name), found.content_type, watermark_for(guest)
        )[0]
    )
    # An HTML preview: the overlay and the printed layer, and a sentence that is true for them.
    html = reader.get(
        reverse("document_detail", args=[team.workspace.pk, docx.pk])
    ).content.decode()
    assert html.count(f">{line}</text>") == 2 and html.count(f"<p>{line}</p>") == 5
    assert "this workspace watermarks what external guests read and download" in html
    assert "not download it" not in html
    sheet = reader.get(reverse("print_sheet", args=[team.workspace.pk, docx.pk])).content.decode()
    assert css_text(sheet) == [print_footer(guest), line]
    # Staff who may download read the page as it is.
    assert picture(client_for(team.viewer).get(file_url(team, pdf, "page-1.png"))) == shared
    # The setting off: the guest too.
    watermarking(team.workspace, on=False)
    assert picture(reader.get(file_url(team, pdf, "page-1.png"))) == shared
    sheet = reader.get(reverse("print_sheet", args=[team.workspace.pk, docx.pk])).content.decode()
    assert css_text(sheet) == [print_footer(guest)]
