"""Journey 3 of PRODUCT.md, sign-off, in Chromium against the live server.

Priya (manager, at her desk) asks Tom (editor, at his desk) and Aisha (a guest commenter, on her
phone) to approve version 2 of the minutes. The request reaches Aisha's open document page
without a reload and her home page's "Awaiting my approval"; she declines with a reason, which
Priya's page shows as it happens (everyone must approve, so the request ends there). Tom
uploads version 3 from the page; Priya asks the same people again in one step. Tom, who has an
authenticator app, confirms it is him with a current code and approves; Aisha approves from her
phone. Version 3 is the final record on both desks, nothing can be uploaded over it, and its
signed certificate downloads and checks, with the version's SHA-256 inside. Nothing on the
phone is wider than its screen, and the approval screens meet WCAG 2.2 AA (axe).

``COMMONROOM_SHOTS=<folder>`` keeps a full-page screenshot of each screen at 360 and 1280 px.
"""

from __future__ import annotations

import hashlib
import io
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from docx import Document as DocxDocument
from e2e_support import DESKTOP, PHONE, page_width, shoot, sign_in
from playwright.sync_api import expect
from test_accessibility import violations

from commonroom.accounts.tests.factories import PASSWORD, GuestFactory, UserFactory
from commonroom.accounts.tests.test_mfa import current_code
from commonroom.approvals.models import ApprovalRequest, Decision, RequestState
from commonroom.certificates.signing import verify
from commonroom.demo.seed import MINUTES_NAME, minutes_docx
from commonroom.documents.models import Document
from commonroom.documents.tests.factories import new_version, upload
from commonroom.workspaces.tests.factories import add_member, make_workspace

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SOON = 5000  # ms: "within a few seconds", with room for a busy test machine


def _third_draft() -> bytes:
    """Version 3: the amended minutes with the wording Aisha asked for."""
    doc = DocxDocument(io.BytesIO(minutes_docx(amended=True)))
    doc.add_paragraph("Amended after Aisha's review: the vote was 4 for, 1 abstention.")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _live(page: Any, path: str) -> None:
    page.goto(path)
    expect(page.locator("html")).to_have_attribute("data-live", "open")


def _sign_in_with_code(page: Any, email: str, secret: str) -> str:
    """Password, then the authenticator app's code: the code used, which is good only once."""
    page.goto("/accounts/login/")
    page.get_by_label(re.compile("email", re.I)).fill(email)
    page.get_by_label(re.compile("password", re.I)).fill(PASSWORD)
    page.get_by_role("button", name=re.compile(r"^sign in$", re.I)).click()
    page.wait_for_url(re.compile(r"/accounts/2fa/authenticate/"))
    code = current_code(secret)
    page.get_by_label(re.compile("code", re.I)).fill(code)
    page.get_by_role("button", name=re.compile("sign in", re.I)).click()
    page.wait_for_url(re.compile(r"^[^?]*/$"))
    return code


def _fresh_code(secret: str, used: str) -> str:
    """The app's next code when the one shown was used already (a code is good once)."""
    while (code := current_code(secret)) == used:
        time.sleep(1)
    return code


def test_minutes_are_asked_declined_amended_approved_and_sealed(
    asgi_server: Any, new_page: Any, page_problems: Any, settings: Any
) -> None:
    # Given Priya's workspace, Tom (editor, with an authenticator app) and Aisha (a guest
    # commenter), and the minutes at version 2
    settings.SITE_URL = asgi_server.url
    priya = UserFactory.create(email="priya@example.org", full_name="Priya Shah")
    tom = UserFactory.create(email="tom@example.org", full_name="Tom Evans")
    aisha = GuestFactory.create(email="aisha@example.org", full_name="Aisha Okafor")
    ws = make_workspace(manager=priya, name="Weekly budget meeting")
    add_member(ws, tom, "editor")
    add_member(ws, aisha, "commenter")
    doc = upload(priya, ws, MINUTES_NAME, minutes_docx(amended=False)).document
    new_version(tom, doc, minutes_docx(amended=True), based_on_number=1)
    secret = generate_totp_secret()
    TOTP.activate(tom, secret)
    path = f"/w/{ws.pk}/d/{doc.pk}/"

    desk = new_page("Priya", viewport=DESKTOP)
    sign_in(desk, priya.email, PASSWORD)
    _live(desk, path)
    phone = new_page("Aisha", viewport=PHONE)
    sign_in(phone, aisha.email, PASSWORD)
    _live(phone, path)
    expect(phone.locator("#approvals")).to_contain_text("Nobody has been asked")

    # When Priya asks Tom and Aisha to approve version 2, everyone to approve
    desk.get_by_text("Ask for approval of version 2").click()
    desk.get_by_role("checkbox", name=re.compile(r"^Tom Evans")).check()
    desk.get_by_role("checkbox", name=re.compile(r"^Aisha Okafor")).check()
    desk.get_by_label("Message (optional)").fill("For Thursday's board: please check item 2.")
    started = time.monotonic()
    desk.get_by_role("button", name="Ask for approval").click()
    expect(desk.get_by_text("Approval of version 2 asked for")).to_be_visible()
    first = ApprovalRequest.objects.get()

    # Then the request appears on Aisha's open page without a reload
    card = phone.locator(f"#approval-{first.pk}")
    expect(card).to_contain_text("Approval of version 2", timeout=SOON)
    assert time.monotonic() - started < SOON / 1000
    expect(card.get_by_role("link", name="Approve version 2")).to_be_visible()
    expect(card).to_contain_text("For Thursday's board")
    expect(phone.get_by_text("Nobody has been asked")).to_be_hidden()
    assert page_width(phone) <= PHONE["width"]
    assert violations(phone) == []
    shoot(phone, "request-approver")
    shoot(desk, "request-requester")

    # And her home page lists it under "Awaiting my approval", which leads back to it
    phone.goto("/")
    awaiting = phone.locator("#awaiting-approval")
    expect(awaiting.get_by_role("heading")).to_have_text("Awaiting my approval")
    expect(awaiting).to_contain_text("asked by Priya Shah")
    assert page_width(phone) <= PHONE["width"]
    shoot(phone, "home-awaiting")
    awaiting.get_by_role("link", name=f"{MINUTES_NAME}: version 2").click()
    expect(phone.locator("html")).to_have_attribute("data-live", "open")

    # When Aisha declines with a reason
    card = phone.locator(f"#approval-{first.pk}")
    card.get_by_text("Decline", exact=True).first.click()
    card.get_by_label("Why you decline").fill("Item 2 leaves out the vote.")
    started = time.monotonic()
    card.get_by_role("button", name="Decline").click()
    expect(phone.get_by_text("You declined")).to_be_visible()

    # Then Priya's page shows the decline and its reason as it happens; with everyone to
    # approve, the request has ended
    mine = desk.locator(f"#approval-{first.pk}")
    expect(mine.locator(".cr-approver--declined")).to_contain_text(
        "Item 2 leaves out the vote.", timeout=SOON
    )
    assert time.monotonic() - started < SOON / 1000
    expect(mine).to_contain_text("The rule can no longer be met: Aisha Okafor declined.")
    expect(mine.locator(".cr-approver", has_text="Tom Evans")).to_contain_text("No decision")
    assert violations(desk) == []
    shoot(desk, "request-declined")

    # When Tom signs in (password, then his app's code) and uploads version 3 from the page
    tom_desk = new_page("Tom", viewport=DESKTOP)
    used = _sign_in_with_code(tom_desk, tom.email, secret)
    _live(tom_desk, path)
    third = _third_draft()
    tom_desk.get_by_text("Upload a new version").click()
    with tom_desk.expect_file_chooser() as chooser:
        tom_desk.get_by_role(
            "button", name=re.compile(r"^Choose file for the new version\b")
        ).click()
    chooser.value.set_files({"name": MINUTES_NAME, "mimeType": DOCX, "buffer": third})
    tom_desk.get_by_label("What changed").fill("Added the vote to item 2")
    tom_desk.get_by_role("button", name="Upload new version").click()
    expect(tom_desk.get_by_text("Version 3 uploaded.")).to_be_visible()

    # Then Priya's page says so, and once reloaded lets her ask the same people again, on
    # version 3, in one step
    banner = desk.locator("#cr-live-banner")
    expect(banner).to_contain_text("Tom Evans uploaded version 3", timeout=SOON)
    shoot(desk, "after-new-version")
    banner.get_by_role("button", name="Reload the page").click()
    mine = desk.locator(f"#approval-{first.pk}")
    again = mine.get_by_role("button", name="Ask the same people to approve version 3")
    expect(again).to_be_visible()
    again.click()
    expect(desk.get_by_text("Asked again on the latest version")).to_be_visible()
    second = ApprovalRequest.objects.exclude(pk=first.pk).get()
    assert (second.version.number, second.rule) == (3, "all")
    assert set(second.approvers.values_list("user_id", flat=True)) == {tom.pk, aisha.pk}
    shoot(desk, "request-again")

    # When Tom approves: the approve page says what he approves, and sends him to confirm
    # it is him with his app's code first
    tom_card = tom_desk.locator(f"#approval-{second.pk}")
    expect(tom_card).to_contain_text("Approval of version 3", timeout=SOON)
    tom_card.get_by_role("link", name="Approve version 3").click()
    expect(tom_desk.get_by_role("heading", level=1)).to_have_text(
        f"Approve version 3 of {MINUTES_NAME}"
    )
    expect(tom_desk.locator(".nhsuk-summary-list")).to_contain_text(
        hashlib.sha256(third).hexdigest()
    )
    shoot(tom_desk, "approve-second-factor")
    tom_desk.get_by_role("button", name="Confirm it's me and approve").click()
    tom_desk.wait_for_url(re.compile(r"/accounts/2fa/reauthenticate/"))
    tom_desk.get_by_label(re.compile("code", re.I)).fill(_fresh_code(secret, used))
    shoot(tom_desk, "confirm-its-you")
    tom_desk.get_by_role("button", name=re.compile("confirm", re.I)).click()
    expect(tom_desk.get_by_role("heading", level=1)).to_have_text(
        f"Approve version 3 of {MINUTES_NAME}"
    )
    tom_desk.get_by_role("button", name="Approve version 3").click()
    expect(tom_desk.get_by_text("You approved version 3")).to_be_visible()

    # And Aisha approves from her phone, where no second factor is asked for
    phone.goto("/")
    phone.locator("#awaiting-approval").get_by_role(
        "link", name=f"{MINUTES_NAME}: version 3"
    ).click()
    phone.locator(f"#approval-{second.pk}").get_by_role("link", name="Approve version 3").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text(
        f"Approve version 3 of {MINUTES_NAME}"
    )
    assert page_width(phone) <= PHONE["width"]
    assert violations(phone) == []
    shoot(phone, "approve-no-factor")
    phone.get_by_role("button", name="Approve version 3").click()
    expect(phone.get_by_text("You approved version 3")).to_be_visible()

    # Then version 3 is the final record on both desks, with nothing to upload over it
    for page in (desk, tom_desk):
        record = page.locator("#cr-record")
        expect(record).to_contain_text("Final record", timeout=SOON)
        expect(record).to_contain_text("Version 3 is this document's final record")
        page.reload()
        expect(page.locator("#cr-record")).to_contain_text(hashlib.sha256(third).hexdigest())
        expect(page.locator("form[data-upload]")).to_have_count(0)
    expect(phone.locator("#cr-record")).to_contain_text("Final record")
    assert page_width(phone) <= PHONE["width"]
    assert violations(phone) == []
    shoot(phone, "sealed-approver")
    shoot(desk, "sealed-requester")
    second.refresh_from_db()
    assert second.state == RequestState.APPROVED
    rows = {a.user_id: a for a in second.approvers.all()}
    assert (rows[tom.pk].decision, rows[tom.pk].second_factor) == (Decision.APPROVED, "totp")
    assert (rows[aisha.pk].decision, rows[aisha.pk].second_factor) == (Decision.APPROVED, "")
    assert Document.objects.get(pk=doc.pk).sealed_version.number == 3  # type: ignore[union-attr]

    # And the signed certificate downloads and checks, with version 3's SHA-256 inside
    with desk.expect_download() as downloading:
        desk.get_by_role("link", name="Download the signed certificate of version 3 (PDF)").click()
    pdf = Path(downloading.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    # (checked in a thread of its own, as `commonroom record verify` checks it: the browser's
    # event loop runs in this one, and the checker runs one of its own)
    with ThreadPoolExecutor(max_workers=1) as pool:
        checked = pool.submit(verify, pdf).result()
    assert checked.ok, checked.problems
    assert (checked.document_id, checked.version_number) == (str(doc.pk), 3)
    assert checked.sha256 == hashlib.sha256(third).hexdigest()

    # And no page showed a script error or broke the Content-Security-Policy
    assert page_problems.seen == [], "\n".join(page_problems.seen)
