"""Journeys 1 (up to the upload) and 2 of PRODUCT.md, in Chromium, against the live server.

Priya signs in, creates "Weekly budget meeting", invites Aisha by email; Aisha opens the emailed
link on her phone, creates her guest account and lands in the workspace. Priya uploads the minutes
through the page's upload script (XHR with a progress bar); Tom, an editor, uploads an amended copy
as version 2 from the document page; both versions download as uploaded, stamped with their
version; Aisha, a commenter, sees both versions but no upload form, and nothing on her phone
scrolls sideways.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from e2e_support import PHONE, page_width, sign_in
from playwright.sync_api import expect

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.demo.seed import MINUTES_NAME, minutes_docx
from commonroom.documents.models import Document, Version
from commonroom.documents.tests.office_files import members, stamp_in
from commonroom.workspaces.models import Membership, Role, Workspace
from commonroom.workspaces.tests.factories import add_member, make_workspace

pytestmark = pytest.mark.e2e

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
AISHA_PASSWORD = "plum-harbour-lantern-42"

# Runs before any page script: writes each state of every upload progress box to
# sessionStorage, which survives the navigation the upload script does when it has finished.
RECORD_UPLOAD_PROGRESS = """
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-progress]").forEach((box) => {
    const bar = box.querySelector("progress");
    const status = box.querySelector('[role="status"]');
    new MutationObserver(() => {
      const seen = JSON.parse(sessionStorage.getItem("upload-progress") || "[]");
      seen.push({ hidden: box.hidden, value: bar.value, text: status.textContent });
      sessionStorage.setItem("upload-progress", JSON.stringify(seen));
    }).observe(box, { subtree: true, childList: true, characterData: true, attributes: true });
  });
});
"""


def upload_progress(page: Any) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = json.loads(
        page.evaluate("sessionStorage.getItem('upload-progress') || '[]'")
    )
    page.evaluate("sessionStorage.removeItem('upload-progress')")
    return seen


def assert_progress_shown(seen: list[dict[str, Any]]) -> None:
    """The progress box was shown while uploading and ended full, saying it had uploaded."""
    assert any(s["text"].startswith("Uploading") and not s["hidden"] for s in seen), seen
    assert seen[-1]["text"] == "Uploaded. Opening…", seen
    assert seen[-1]["value"] == 100, seen


def docx_file(content: bytes) -> dict[str, Any]:
    return {"name": MINUTES_NAME, "mimeType": DOCX, "buffer": content}


def test_minutes_review_and_amendment(
    asgi_server: Any, new_page: Any, page_problems: Any, smtp_server: Any, settings: Any
) -> None:
    # Given Priya (staff) and Tom (staff) with accounts, and the minutes in two drafts
    settings.SITE_URL = asgi_server.url
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    tom = UserFactory(email="tom@example.org", full_name="Tom Evans")
    draft = minutes_docx(amended=False)
    amended = minutes_docx(amended=True)
    assert draft != amended

    # When Priya signs in and creates the workspace
    priya_page = new_page("Priya")
    priya_page.add_init_script(RECORD_UPLOAD_PROGRESS)
    sign_in(priya_page, priya.email, PASSWORD)
    priya_page.get_by_role("link", name="Create a workspace").click()
    priya_page.get_by_label("Name", exact=True).fill("Weekly budget meeting")
    priya_page.get_by_label("What it is for").fill("Minutes and papers for the budget meeting.")
    priya_page.get_by_role("button", name="Create workspace").click()

    # Then she is on its People page, as its manager
    expect(priya_page.get_by_role("heading", level=1)).to_have_text(
        re.compile(r"Weekly budget meeting\s*People")
    )
    workspace = Workspace.objects.get(name="Weekly budget meeting")
    assert Membership.objects.get(workspace=workspace, user=priya).role == Role.MANAGER
    workspace_path = f"/w/{workspace.pk}/"

    # When she invites Aisha as a commenter
    priya_page.get_by_label("Email address").fill("aisha@example.org")
    priya_page.get_by_label("Role", exact=True).select_option("commenter")
    priya_page.get_by_role("button", name="Send invitation").click()
    expect(priya_page.get_by_text("Invitation sent to aisha@example.org.")).to_be_visible()

    # Then one email reaches the SMTP server, addressed to Aisha, with a link to this server
    (mail,) = smtp_server.wait_for(1)
    assert mail["To"] == "aisha@example.org"
    body = smtp_server.body(mail)
    assert "Weekly budget meeting" in body
    link = re.search(r"https?://\S+/invitations/\S+/", body)
    assert link is not None, body
    assert link.group(0).startswith(asgi_server.url + "/invitations/")

    # When Aisha opens it on her phone and creates her guest account
    aisha_page = new_page("Aisha", viewport=PHONE)
    aisha_page.goto(link.group(0))
    expect(aisha_page.get_by_role("heading", level=1)).to_have_text("Join Weekly budget meeting")
    aisha_page.get_by_label("Your name").fill("Aisha Okafor")
    aisha_page.get_by_label("Choose a password").fill(AISHA_PASSWORD)
    aisha_page.get_by_role("button", name="Create account and join").click()

    # Then she lands in the workspace, a guest commenter, with nothing to upload with
    expect(aisha_page).to_have_url(asgi_server.url + workspace_path)
    expect(aisha_page.get_by_role("heading", level=1)).to_have_text("Weekly budget meeting")
    aisha = Membership.objects.select_related("user").get(
        workspace=workspace, user__email="aisha@example.org"
    )
    assert aisha.role == Role.COMMENTER
    assert aisha.user.is_guest
    assert aisha.user.full_name == "Aisha Okafor"
    expect(aisha_page.locator("form[data-upload]")).to_have_count(0)
    assert page_width(aisha_page) <= PHONE["width"]

    # When Priya uploads the minutes with the upload form (the page script sends it by XHR)
    priya_page.goto(workspace_path)
    with priya_page.expect_file_chooser() as chooser:
        priya_page.get_by_role("button", name=re.compile(r"^Choose files to upload\b")).click()
    chooser.value.set_files(docx_file(draft))
    expect(priya_page.get_by_text(MINUTES_NAME)).to_be_visible()
    with priya_page.expect_request(
        lambda r: r.method == "POST" and r.url.endswith(workspace_path + "upload/")
    ) as sent:
        priya_page.get_by_role("button", name="Upload", exact=True).click()
    assert sent.value.headers["accept"] == "application/json"

    # Then the document appears in the workspace, and the progress bar showed the upload
    expect(priya_page.get_by_role("link", name=MINUTES_NAME)).to_be_visible()
    expect(priya_page.get_by_text(f"Uploaded {MINUTES_NAME} (version 1).")).to_be_visible()
    assert_progress_shown(upload_progress(priya_page))

    # When Tom, an editor, uploads his amended copy as a new version from the document page
    add_member(workspace, tom, Role.EDITOR)
    tom_page = new_page("Tom")
    tom_page.add_init_script(RECORD_UPLOAD_PROGRESS)
    sign_in(tom_page, tom.email, PASSWORD)
    tom_page.get_by_role("link", name="Weekly budget meeting").click()
    tom_page.get_by_role("link", name=MINUTES_NAME).click()
    expect(tom_page.get_by_role("heading", level=1)).to_have_text(MINUTES_NAME)
    tom_page.get_by_text("Upload a new version").click()
    with tom_page.expect_file_chooser() as chooser:
        tom_page.get_by_role(
            "button", name=re.compile(r"^Choose file for the new version\b")
        ).click()
    chooser.value.set_files(docx_file(amended))
    tom_page.get_by_label("What changed").fill("Corrected the month 7 deficit")
    tom_page.get_by_role("button", name="Upload new version").click()

    # Then version 2 is listed above version 1, each with its author and checksum
    expect(tom_page.locator("#v2")).to_be_visible()
    expect(tom_page.get_by_text("Version 2 uploaded.")).to_be_visible()
    assert_progress_shown(upload_progress(tom_page))
    versions = tom_page.locator(".cr-version h3")
    expect(versions).to_have_count(2)
    expect(versions.nth(0)).to_contain_text("Version 2")
    expect(versions.nth(1)).to_contain_text("Version 1")
    expect(tom_page.locator("#v2")).to_contain_text("Tom Evans")
    expect(tom_page.locator("#v2")).to_contain_text("Corrected the month 7 deficit")
    expect(tom_page.locator("#v2")).to_contain_text(hashlib.sha256(amended).hexdigest())
    expect(tom_page.locator("#v1")).to_contain_text("Priya Shah")
    expect(tom_page.locator("#v1")).to_contain_text(hashlib.sha256(draft).hexdigest())
    expect(tom_page.get_by_text("not the latest")).to_have_count(0)
    stored = Version.objects.filter(document__workspace=workspace).order_by("number")
    assert [(v.number, v.author_id, v.based_on_latest) for v in stored] == [
        (1, priya.pk, True),
        (2, tom.pk, True),
    ]

    # And each version downloads, through its link, as it was uploaded but for the stamp that
    # says which version it is (every other part byte for byte)
    for number, original in [(1, draft), (2, amended)]:
        with tom_page.expect_download() as download:
            tom_page.locator(f"#v{number}").get_by_role(
                "link", name=f"Download version {number}"
            ).click()
        stem = MINUTES_NAME.removesuffix(".docx")  # named after the document and the version
        assert download.value.suggested_filename == f"{stem} (version {number}).docx"
        data = Path(download.value.path()).read_bytes()
        before, after = members(original), members(data)
        changed = {name for name in before if before[name] != after.get(name)}
        assert changed <= {"[Content_Types].xml", "_rels/.rels", "docProps/custom.xml"}
        stamp = stamp_in(data)
        assert stamp is not None and stamp.endswith(hashlib.sha256(original).hexdigest())

    # When Aisha, on her phone, opens the document
    aisha_page.reload()
    aisha_page.get_by_role("link", name=MINUTES_NAME).click()

    # Then she sees both versions, no way to upload, and nothing wider than her screen
    expect(aisha_page.get_by_role("heading", level=1)).to_have_text(MINUTES_NAME)
    expect(aisha_page.locator(".cr-version h3")).to_have_count(2)
    expect(aisha_page.locator("#v2")).to_contain_text("Tom Evans")
    expect(aisha_page.locator("#v1")).to_contain_text("Priya Shah")
    expect(aisha_page.get_by_text("Upload a new version")).to_have_count(0)
    expect(aisha_page.locator("form[data-upload]")).to_have_count(0)
    assert page_width(aisha_page) <= PHONE["width"]

    # And no page showed a script error or broke the Content-Security-Policy
    assert not page_problems.seen, "\n".join(page_problems.seen)


def test_upload_form_explains_a_refusal_and_keeps_nothing(
    asgi_server: Any, new_page: Any, page_problems: Any, settings: Any
) -> None:
    # Given Priya's workspace and an upload limit of 1 KB
    settings.COMMONROOM_MAX_UPLOAD_BYTES = 1024
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    workspace = make_workspace(manager=priya)
    page = new_page("Priya", viewport=PHONE)
    sign_in(page, priya.email, PASSWORD)
    page.goto(f"/w/{workspace.pk}/")
    status = page.get_by_role("status")
    upload = page.get_by_role("button", name="Upload", exact=True)

    # When she presses Upload with no file chosen
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    upload.click()

    # Then the page asks for a file and sends nothing
    expect(status).to_have_text("Choose at least one file to upload.")
    assert sent == []

    # When she sends a file over the limit
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name=re.compile(r"^Choose files to upload\b")).click()
    chooser.value.set_files(
        {"name": "scan.pdf", "mimeType": "application/pdf", "buffer": b"%" * 4096}
    )
    with page.expect_response(lambda r: r.url.endswith("/upload/")) as answer:
        upload.click()

    # Then the server's reason is shown, she can try again, and nothing was kept
    assert answer.value.status == 413
    expect(status).to_contain_text("Not uploaded. That file is larger than the limit")
    expect(upload).to_be_enabled()
    assert not Document.objects.filter(workspace=workspace).exists()
    assert page_width(page) <= PHONE["width"]
    # (Chromium logs the refused request itself as a console error: that one is expected.)
    unexpected = [p for p in page_problems.seen if "status of 413" not in p]
    assert not unexpected, "\n".join(unexpected)
