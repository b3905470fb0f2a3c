"""Who may download originals, in the browser: Priya sets it on the workspace's settings page
(one choice per role, at desk and phone widths); Aisha, an external guest and a commenter,
reads the minutes in the browser with no download offered, and the address of a download
answers with the sentence saying why; Tom, an editor, still downloads them under the
document's own name."""

from __future__ import annotations

from typing import Any

from e2e_support import PHONE, page_width, shoot, sign_in
from playwright.sync_api import expect
from test_accessibility import violations

from commonroom.accounts.tests.factories import PASSWORD, GuestFactory, UserFactory
from commonroom.suggestions.tests.factories import make_preview
from commonroom.workspaces.models import Workspace
from commonroom.workspaces.tests.factories import add_member, make_workspace, upload_document


def test_a_manager_turns_downloads_off_and_a_guest_reads_without_them(
    new_page: Any, page_problems: Any
) -> None:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    ws = make_workspace(manager=priya)
    aisha = add_member(
        ws, GuestFactory(email="aisha@partner.example", full_name="Aisha Okafor"), "commenter"
    )
    tom = add_member(ws, UserFactory(email="tom@example.org", full_name="Tom Reid"), "editor")
    doc = upload_document(
        ws, priya, name="Board minutes.txt", content=b"The board agreed the budget.\n"
    )
    make_preview(doc.versions.get())

    # Priya, on her phone, lets no viewer download and leaves commenters as they are.
    desk = new_page("Priya", viewport=PHONE)
    sign_in(desk, priya.email, PASSWORD)
    desk.goto(f"/w/{ws.pk}/settings/")
    expect(desk.get_by_label("Commenters")).to_have_value("staff")
    desk.get_by_label("Viewers").select_option("nobody")
    assert page_width(desk) <= PHONE["width"]
    assert violations(desk) == []
    shoot(desk, "download-settings")
    desk.get_by_role("button", name="Save").click()
    expect(desk.get_by_text("Workspace details saved.")).to_be_visible()
    assert Workspace.objects.get(pk=ws.pk).viewers_download == "nobody"

    # Aisha, a guest commenter, reads the minutes: no download is offered.
    phone = new_page("Aisha", viewport=PHONE)
    sign_in(phone, aisha.email, PASSWORD)
    phone.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    expect(phone.locator("#p-1")).to_have_text("The board agreed the budget.")
    expect(phone.get_by_role("link", name="Download version 1")).to_have_count(0)
    expect(phone.get_by_test_id("download-off")).to_be_visible()
    assert page_width(phone) <= PHONE["width"]
    assert violations(phone) == []
    shoot(phone, "download-off-guest")
    refused = phone.goto(f"/w/{ws.pk}/d/{doc.pk}/v/1/download/")
    assert refused is not None and refused.status == 403
    expect(phone.get_by_text("external guests who are commenters cannot download")).to_be_visible()
    shoot(phone, "download-refused")

    # Tom downloads them, named after the document.
    editor = new_page("Tom")
    sign_in(editor, tom.email, PASSWORD)
    editor.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    with editor.expect_download() as downloading:
        editor.get_by_role("link", name="Download version 1").first.click()
    assert downloading.value.suggested_filename == "Board minutes (version 1).txt"
    # The one error a browser reports is the refusal asked for on purpose.
    assert [p for p in page_problems.seen if "/download/" not in p] == []
    assert len(page_problems.seen) == 1 and "403" in page_problems.seen[0]
