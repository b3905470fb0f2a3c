"""A stale copy never wins silently, in Chromium: Tom downloads version 1 of the minutes, Priya
uploads versions 2 and 3, and Tom, from a freshly opened page (whose form says "based on version
3"), uploads his edited copy. The page says it was based on version 1, not the latest, because
the file itself says it was downloaded from version 1; the version list says so too. Tom then
carries his copy's changes onto version 3 as suggestions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from e2e_support import sign_in
from playwright.sync_api import expect
from test_accessibility import violations

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.documents.models import Version
from commonroom.documents.tests.factories import new_version
from commonroom.documents.tests.office_files import docx_bytes, edited_docx, stamp_in
from commonroom.suggestions.tests.factories import make_preview
from commonroom.workspaces.models import Role
from commonroom.workspaces.tests.factories import add_member, make_workspace, upload_document


def test_a_stale_copy_uploaded_from_a_fresh_page_is_flagged_and_explained(
    new_page: Any, page_problems: Any, tmp_path: Path, settings: Any
) -> None:
    settings.DATA_DIR = tmp_path / "data"
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    tom = UserFactory(email="tom@example.org", full_name="Tom Evans")
    ws = make_workspace(manager=priya)
    add_member(ws, tom, Role.EDITOR)
    doc = upload_document(ws, priya, name="minutes.docx", content=docx_bytes("First draft"))

    # Tom downloads version 1 through its link
    page = new_page("Tom")
    sign_in(page, "tom@example.org", PASSWORD)
    page.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    with page.expect_download() as download:
        page.locator("#v1").get_by_role("link", name="Download version 1").click()
    copy = Path(download.value.path()).read_bytes()
    assert stamp_in(copy) is not None

    # Priya uploads versions 2 and 3 meanwhile
    new_version(priya, doc, docx_bytes("Second draft"))
    make_preview(new_version(priya, doc, docx_bytes("Third draft")))

    # Tom opens the page afresh (its form now says version 3) and uploads his edited copy
    edited = tmp_path / "minutes.docx"
    edited.write_bytes(edited_docx(copy, "Tom's corrections"))
    page.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    expect(page.locator('input[name="based_on"]')).to_have_value("3")
    page.get_by_text("Upload a new version").click()
    page.locator('input[type="file"][name="file"]').set_input_files(str(edited))
    page.get_by_role("button", name="Upload new version").click()

    expect(page.locator("#v4")).to_be_visible()
    expect(
        page.get_by_text(
            "Version 4 uploaded. It was based on version 1, not the latest (this file was "
            "downloaded from version 1): check nothing was missed between them."
        )
    ).to_be_visible()
    expect(page.locator("#v4")).to_contain_text("Based on version 1, not the latest")
    expect(page.locator("#v4")).to_contain_text("This file was downloaded from version 1.")
    expect(page.locator(".nhsuk-warning-callout")).to_contain_text(
        "this file was downloaded from version 1"
    )
    assert violations(page) == []  # the new sentences and tags keep the page WCAG 2.2 AA
    v4 = Version.objects.get(document=doc, number=4)
    assert (v4.based_on_number, v4.based_on_latest, v4.based_on_from_file) == (1, False, True)

    # The callout offers Tom to carry his copy's changes onto version 3 as suggestions: version
    # 3's text comes back as version 5, and his new paragraph is a suggestion on it.
    page.get_by_role(
        "button", name="Carry this copy's changes onto version 3 as suggestions"
    ).click()
    expect(
        page.get_by_text(
            "Version 5 has the text of version 3 again; 1 change of version 4 is a suggestion "
            "to accept or reject."
        )
    ).to_be_visible()
    expect(page.locator("#suggestions")).to_contain_text("Tom's corrections")
    expect(page.locator(".nhsuk-warning-callout")).to_have_count(0)
    assert not page_problems.seen, "\n".join(page_problems.seen)
