"""Screenshots of every main page at phone (360 px) and desktop (1280 px) width, for UI review.

    .venv/bin/python tests/e2e/screenshots.py OUTDIR [PAGE ...]

Seeds a throw-away database (the demo, plus a crossed amendment, a folder, a pending invitation,
an API token, an item in the trash, people with each second factor, and the minutes open in Word
by Tom over WebDAV) in a temporary data folder, serves it with ``commonroom serve`` (uvicorn) on a
free loopback port and photographs each page, signed in as the person who would see it. Prints,
per page, any console error (Content-Security-Policy violations included) and whether the page
scrolls sideways. Exits non-zero if any page had a problem. Naming pages (``document tokens``)
photographs only those.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PASSWORD = "screenshot-demo-passphrase"
WIDTHS = {"360": {"width": 360, "height": 740}, "1280": {"width": 1280, "height": 900}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed() -> dict[str, str]:
    """The demo, plus what the review needs to see. Returns the paths of the seeded pages."""
    import django
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    django.setup()
    from commonroom.accounts.models import User
    from commonroom.accounts.services import token_create
    from commonroom.demo.seed import MINUTES_NAME, minutes_docx, seed_demo
    from commonroom.documents.models import Document
    from commonroom.documents.selectors import document_access
    from commonroom.documents.services import (
        document_delete,
        document_upload,
        folder_create,
        version_upload,
    )
    from commonroom.workspaces.selectors import workspace_access
    from commonroom.workspaces.services import invitation_create

    call_command("migrate", interactive=False, verbosity=0)
    ws = seed_demo(password=PASSWORD).workspace
    priya = User.objects.get(email="priya@example.org")
    access = workspace_access(user=priya, workspace_id=ws.pk)
    doc = Document.objects.get(workspace=ws, name=MINUTES_NAME)
    doc_access = document_access(user=priya, workspace_id=ws.pk, document_id=doc.pk)
    # Priya amends version 1 after Tom's version 2: version 3 is a crossed amendment.
    version_upload(
        actor=priya,
        doc_access=doc_access,
        uploaded=SimpleUploadedFile(MINUTES_NAME, minutes_docx(amended=False) + b"\0"),
        based_on_number=1,
        note="Added the apologies received after the meeting",
    )
    folder_create(actor=priya, access=access, name="Board papers", parent=None)
    document_upload(
        actor=priya,
        access=access,
        uploaded=SimpleUploadedFile("budget-summary-month-7.csv", b"division,plan,actual\n"),
        folder=None,
    )
    old = document_upload(
        actor=priya,
        access=access,
        uploaded=SimpleUploadedFile("agenda-draft.txt", b"1. Apologies\n2. Minutes\n"),
        folder=None,
    )
    document_delete(
        actor=priya,
        doc_access=document_access(user=priya, workspace_id=ws.pk, document_id=old.document_id),
    )
    issued = invitation_create(
        actor=priya, access=access, email="nina.external@example.org", role="viewer"
    )
    token_create(actor=priya, name="minutes export script", scope="read")
    _second_factor_people()
    _open_in_word(ws, doc, User.objects.get(email="tom@example.org"))
    formats = {f"format-{k}": v for k, v in _format_gallery(priya, access).items()}
    from commonroom.conversations.models import Conversation

    topic = Conversation.objects.filter(workspace=ws).first()
    # Previews made now, so the pages show them (and the comparison) rather than "being prepared".
    from commonroom.previews.models import Preview
    from commonroom.previews.services import preview_make

    for sha in Preview.objects.filter(status="pending").values_list("blob_id", flat=True):
        preview_make(sha=sha)
    w = f"/w/{ws.pk}/"
    return {
        "conversations": f"{w}c/",
        "conversation": f"{w}c/{topic.pk}/" if topic else f"{w}c/",
        "workspace": w,
        "document": f"{w}d/{doc.pk}/",
        "compare": f"{w}d/{doc.pk}/compare/?a=1&b=2",
        "compare-side": f"{w}d/{doc.pk}/compare/?a=1&b=2&view=side",
        "members": f"{w}members/",
        "audit": f"{w}audit/",
        "trash": f"{w}trash/",
        "settings": f"{w}settings/",
        "invitation": issued.url.split("://", 1)[1].split("/", 1)[1],
        **{key: f"{w}d/{doc_id}/" for key, doc_id in formats.items()},
        **{
            f"compare-{key[len('format-') :]}": f"{w}d/{formats[key]}/compare/?a=1&b=2"
            for key in ("format-xlsx", "format-pptx", "format-csv")
        },
    }


# The authenticator app's key of the person with every second factor (ravi), for the pages his
# sign-in leads to.
SECOND_FACTOR_PEOPLE: dict[str, str] = {}


def _second_factor_people() -> None:
    """Lee, whose second factor is a code by email; Ravi, with an authenticator app (and its
    recovery codes) and a code by email."""
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    from commonroom.accounts.models import EmailCodeFactor, User

    lee = User.objects.create_user("lee@example.org", PASSWORD, full_name="Lee Chen", kind="guest")
    EmailCodeFactor.objects.create(user=lee)
    ravi = User.objects.create_user("ravi@example.org", PASSWORD, full_name="Ravi Patel")
    EmailCodeFactor.objects.create(user=ravi)
    secret = generate_totp_secret()
    TOTP.activate(ravi, secret)
    RecoveryCodes.activate(ravi)
    SECOND_FACTOR_PEOPLE["ravi"] = secret


def _open_in_word(ws: Any, doc: Any, person: Any) -> None:
    """``person`` has ``doc`` open in Word: its WebDAV lock, as the endpoint keeps it."""
    from datetime import timedelta

    from django.utils import timezone

    from commonroom.webdav.models import DavLock
    from commonroom.webdav.names import lock_key

    DavLock.objects.create(
        token="opaquelocktoken:screenshots",
        root=lock_key(ws.pk, [doc.name]),
        user=person,
        workspace=ws,
        scope="exclusive",
        depth="0",
        owner=f"<D:href xmlns:D='DAV:'>{person.email}</D:href>",
        client="Word",
        timeout=3600,
        expire_at=timezone.now() + timedelta(hours=1),
    )


def _format_gallery(actor: Any, access: Any) -> dict[str, Any]:
    """One document of each previewed kind, made as a reader would meet them (a wide workbook,
    a long unbroken word, a PDF, a picture, slides with notes), a damaged one and one with no
    preview. Returns document ids by kind."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from openpyxl import Workbook
    from pptx import Presentation
    from pptx.util import Inches

    from commonroom.documents.services import document_upload
    from commonroom.previews.tests import files
    from commonroom.previews.tests.test_formats_pdf import text_pdf

    work = Path(tempfile.mkdtemp(prefix="commonroom-gallery-"))
    book = Workbook()
    sheet = book.active
    sheet.title = "Month 7"
    sheet.append(["Division", *[f"Cost centre {n}" for n in range(1, 19)]])
    for row in range(1, 40):
        sheet.append([f"Division {row}", *[row * n * 1000 for n in range(1, 19)]])
    book.create_sheet("Notes").append(["Figures are provisional until the audit."])
    book.save(work / "budget.xlsx")
    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Winter pressures"
    slide.placeholders[1].text = "Beds open: 24\nAgency spend down 12%\nDischarges before noon"
    slide.notes_slide.notes_text_frame.text = "Say the ward figures are from Monday."
    deck.slides.add_slide(deck.slide_layouts[5]).shapes.title.text = "Next steps"
    deck.slides[1].shapes.add_textbox(
        Inches(1), Inches(2), Inches(6), Inches(1)
    ).text = "Agree the escalation plan by Friday"
    deck.save(str(work / "pressures.pptx"))
    text_pdf(
        work / "report.pdf", [f"Quality report page {n}. Falls fell again." for n in (1, 2, 3)]
    )
    picture = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (1600, 900), (0, 94, 184)).save(picture, format="JPEG")
    made = {
        "docx": files.rich_docx(work / "board-minutes.docx").read_bytes(),
        "xlsx": (work / "budget.xlsx").read_bytes(),
        "pptx": (work / "pressures.pptx").read_bytes(),
        "pdf": (work / "report.pdf").read_bytes(),
        "image": picture.getvalue(),
        "md": (
            b"# Action log\n\n- **Tom**: send the *revised* figures\n- Priya: book the room\n\n"
            b"> Agreed unanimously.\n\n`code`\n\nhttps://www.england.nhs.uk/long/address/"
            b"that/goes/on/and/on/and/on/without/a/break/anywhere/at/all\n\n"
            b"<script>alert(1)</script>\n"
        ),
        "csv": b"ward,beds,open,closed,agency,bank,vacancies,sickness\n"
        + b"".join(
            f"Ward {n},{n * 3},{n * 2},{n},{n * 7},{n * 5},{n},{n}%\n".encode() for n in range(30)
        ),
        "txt": b"Apologies: " + b"x" * 300 + b"\n\nSecond paragraph of the note.\n",
        "broken": b"PK\x03\x04 this is not really a Word document",
        "none": b"PK\x05\x06" + bytes(18),
    }
    names = {
        "docx": "board-minutes.docx",
        "xlsx": "budget-month-7.xlsx",
        "pptx": "winter-pressures.pptx",
        "pdf": "quality-report.pdf",
        "image": "ward-photo.jpg",
        "md": "action-log.md",
        "csv": "staffing.csv",
        "txt": "apologies.txt",
        "broken": "damaged-minutes.docx",
        "none": "archive.zip",
    }
    # Second versions, for the comparisons: a row inserted near the top and a figure changed;
    # a slide edited and one added; a CSV row inserted and a cell changed.
    sheet.insert_rows(3)
    sheet["A3"] = "Division 1a"
    sheet["C10"] = 99_000
    book.save(work / "budget-2.xlsx")
    slide.placeholders[1].text = "Beds open: 26\nAgency spend down 15%\nDischarges before noon"
    deck.slides.add_slide(deck.slide_layouts[1]).shapes.title.text = "Risks"
    deck.save(str(work / "pressures-2.pptx"))
    csv_lines = made["csv"].decode().splitlines()
    csv_lines[5] = csv_lines[5].replace(",12,", ",13,")
    csv_lines.insert(2, "Ward 0a,1,1,0,0,0,0,0%")
    second = {
        "xlsx": (work / "budget-2.xlsx").read_bytes(),
        "pptx": (work / "pressures-2.pptx").read_bytes(),
        "csv": ("\n".join(csv_lines) + "\n").encode(),
    }
    from commonroom.documents.selectors import document_access
    from commonroom.documents.services import version_upload

    ids = {}
    for kind, content in made.items():
        version = document_upload(
            actor=actor,
            access=access,
            uploaded=SimpleUploadedFile(names[kind], content),
            folder=None,
        )
        ids[kind] = version.document_id
        if kind in second:
            version_upload(
                actor=actor,
                doc_access=document_access(
                    user=actor, workspace_id=access.workspace.pk, document_id=version.document_id
                ),
                uploaded=SimpleUploadedFile(names[kind], second[kind]),
                based_on_number=1,
            )
    return ids


# (file name, who, path key or path)
PAGES = [
    ("login", None, "/accounts/login/"),
    ("invitation", None, "invitation"),
    ("home", "priya", "/"),
    ("create-workspace", "priya", "/w/new/"),
    ("workspace", "priya", "workspace"),
    ("document", "priya", "document"),
    ("document-new-version", "tom", "document"),
    ("document-open-with-webdav", "sam", "document"),
    ("document-break-lock", "priya", "document"),
    ("document-as-commenter", "aisha", "document"),
    ("compare", "priya", "compare"),
    ("compare-side", "priya", "compare-side"),
    ("conversations", "tom", "conversations"),
    ("conversation", "sam", "conversation"),
    ("notifications", "aisha", "/notifications/"),
    ("search", "priya", "/search/?q=budget"),
    ("notification-settings", "aisha", "/account/notifications/"),
    ("home-as-guest", "aisha", "/"),
    ("members", "priya", "members"),
    ("audit", "priya", "audit"),
    ("trash", "priya", "trash"),
    ("settings", "priya", "settings"),
    ("security", "priya", "/account/security/"),
    ("tokens", "priya", "/account/tokens/"),
    ("mfa-index", "priya", "/accounts/2fa/"),
    ("totp-activate", "priya", "/accounts/2fa/totp/activate/"),
    ("passkey-add", "priya", "/accounts/2fa/webauthn/add/"),
    ("password-change", "priya", "/accounts/password/change/"),
    ("global-audit", "dev", "/audit/"),
    *[
        (f"format-{kind}", "nina", f"format-{kind}")
        for kind in ("docx", "xlsx", "pptx", "pdf", "image", "md", "csv", "txt", "broken", "none")
    ],
    *[(f"compare-{kind}", "nina", f"compare-{kind}") for kind in ("xlsx", "pptx", "csv")],
    ("not-found", "priya", "/w/00000000-0000-0000-0000-000000000000/"),
    ("second-factor", "priya", "/accounts/second-factor/"),
    ("email-code-setup", "priya", "/accounts/second-factor/email/"),
    ("email-code-setup-sent", "priya", "/accounts/second-factor/email/"),
    # The steps after the password, for people with a second factor (signed in by the action)
    ("email-code-sign-in", None, "/accounts/login/"),
    ("mfa-authenticate", None, "/accounts/login/"),
    ("recovery-codes", None, "/accounts/login/"),
]


def open_new_version_form(page: Any) -> None:
    """The version upload form opened, with a file chosen but not yet sent."""
    page.get_by_text("Upload a new version").click()
    page.locator('input[type="file"][name="file"]').set_input_files(
        {"name": "minutes-2026-11-24.docx", "mimeType": "application/octet-stream", "buffer": b"x"}
    )
    page.get_by_label("What changed").fill("Tom's corrections to item 2")


def password_given(page: Any, who: str) -> None:
    """``who`` gives their password on the sign-in page, afresh (the anonymous pages' browser
    is signed out first), and is at the step after it."""
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(f"{who}@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state("networkidle")


def recovery_codes(page: Any) -> None:
    """Ravi signs in with his authenticator app's code and opens his recovery codes."""
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    password_given(page, "ravi")
    if 30 - time.time() % 30 < 2:
        time.sleep(2)
    code = hotp_value(SECOND_FACTOR_PEOPLE["ravi"], int(time.time()) // 30)
    page.get_by_label("Code").fill(format_hotp_value(code))
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state("networkidle")
    page.goto("/accounts/2fa/recovery-codes/")
    page.wait_for_load_state("networkidle")


def open_with_webdav(page: Any) -> None:
    page.get_by_text("Open with WebDAV").click()


def open_break_lock(page: Any) -> None:
    page.locator("#edit-lock summary").click()


ACTIONS = {
    "document-new-version": open_new_version_form,
    "email-code-setup-sent": lambda page: (
        page.get_by_role("button", name="Send me a code").click(),
        page.wait_for_load_state("networkidle"),
    ),
    "email-code-sign-in": lambda page: password_given(page, "lee"),
    "mfa-authenticate": lambda page: password_given(page, "ravi"),
    "recovery-codes": recovery_codes,
    "document-open-with-webdav": open_with_webdav,
    "document-break-lock": open_break_lock,
}


def shoot(base_url: str, paths: dict[str, str], outdir: Path, only: set[str]) -> int:
    from e2e_support import PageProblems, launch_chromium, page_width, sign_in
    from playwright.sync_api import sync_playwright

    failures = 0
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        for label, viewport in WIDTHS.items():
            contexts: dict[str | None, Any] = {}
            for name, who, where in PAGES:
                if only and name not in only:
                    continue
                if who not in contexts:
                    contexts[who] = browser.new_context(
                        base_url=base_url, viewport=viewport, locale="en-GB"
                    )
                    if who:
                        sign_in(contexts[who].new_page(), f"{who}@example.org", PASSWORD)
                page = contexts[who].new_page()
                problems = PageProblems()
                problems.watch(page, who or "anonymous")
                page.goto(paths.get(where, where))
                if "/accounts/reauthenticate/" in page.url:
                    # Second-factor settings ask for the password again first: photograph both.
                    page.wait_for_load_state("networkidle")
                    page.screenshot(
                        path=str(outdir / f"reauthenticate-{label}.png"), full_page=True
                    )
                    page.get_by_label("Password").fill(PASSWORD)
                    page.get_by_role("button", name="Confirm").click()
                    page.wait_for_url("**" + paths.get(where, where))
                page.wait_for_load_state("networkidle")
                if name in ACTIONS:
                    ACTIONS[name](page)
                shot = outdir / f"{name}-{label}.png"
                page.screenshot(path=str(shot), full_page=True)
                width = page_width(page)
                notes = list(problems.seen)
                if name == "not-found":  # the 404 itself is logged as a console error
                    notes = [n for n in notes if "404" not in n]
                if width > viewport["width"]:
                    notes.append(f"scrolls sideways: {width} px wide in {viewport['width']} px")
                status = "ok" if not notes else "PROBLEM"
                failures += bool(notes)
                print(f"{status:8} {shot.name}")
                for note in notes:
                    print(f"           {note}")
                page.close()
            for context in contexts.values():
                context.close()
        browser.close()
    return failures


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    outdir = Path(sys.argv[1]).resolve()
    only = set(sys.argv[2:])
    outdir.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(HERE))
    with tempfile.TemporaryDirectory(prefix="commonroom-shots-") as data_dir:
        port = free_port()
        os.environ.pop("DATABASE_URL", None)
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "commonroom.settings",
                "COMMONROOM_DATA_DIR": data_dir,
                "COMMONROOM_SITE_URL": f"http://127.0.0.1:{port}",
                "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
                "COMMONROOM_MFA_REQUIRED": "none",
            }
        )
        paths = seed()
        server = subprocess.Popen(
            [sys.executable, "-m", "commonroom", "serve", "--no-worker", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(base_url + "/healthz", timeout=2):  # noqa: S310
                        break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("the server did not start") from None
                    time.sleep(0.2)
            return 1 if shoot(base_url, paths, outdir, only) else 0
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
