"""Every main page passes axe-core's WCAG 2.0/2.1/2.2 A and AA rules, on a phone and a desktop.

axe-core is pinned by package-lock.json (a development dependency) and its one script file is
kept in tests/e2e/vendor/, so the check runs offline; the browser driver evaluates it in the page
under test: it is never served by the app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from e2e_support import DESKTOP, PHONE, sign_in

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.documents.tests.factories import new_version, upload
from commonroom.workspaces.tests.factories import add_member, make_workspace

pytestmark = pytest.mark.e2e

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# NHS.UK frontend's own file-upload button (v10) is named by its label plus its text; axe's
# experimental label-in-name rule reads its run-together spans as a mismatch. The test below
# checks what that rule is for: the button's accessible name holds its visible words.
UPSTREAM_FILE_BUTTONS = {"#files", "#version-file"}


def violations(page: Any) -> list[str]:
    # Evaluated through the driver, which the page's Content-Security-Policy does not govern.
    page.evaluate(AXE + "\n;undefined")
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if not (
            v["id"] == "label-content-name-mismatch"
            and all(n["target"][0] in UPSTREAM_FILE_BUTTONS for n in v["nodes"])
        )
    ]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_main_pages_have_no_wcag_violations(new_page, viewport, transactional_db):
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    ws = make_workspace(manager=priya)
    add_member(ws, UserFactory(email="tom@example.org", full_name="Tom Evans"), "editor")
    v1 = upload(priya, ws, "minutes-2026-11-24.docx", b"draft")
    new_version(priya, v1.document, b"amended", based_on_number=1)
    pages = {
        "sign in": "/accounts/login/",
        "home": "/",
        "workspace": f"/w/{ws.pk}/",
        "document": f"/w/{ws.pk}/d/{v1.document_id}/",
        "people": f"/w/{ws.pk}/members/",
        "audit trail": f"/w/{ws.pk}/audit/",
        "trash": f"/w/{ws.pk}/trash/",
        "settings": f"/w/{ws.pk}/settings/",
        "security": "/account/security/",
        "API tokens": "/account/tokens/",
    }
    page = new_page("Priya", viewport=viewport)
    found: dict[str, list[str]] = {}
    page.goto(pages.pop("sign in"))
    found["sign in"] = violations(page)
    sign_in(page, priya.email, PASSWORD)
    for name, path in pages.items():
        page.goto(path)
        found[name] = violations(page)
    # The new-version form, opened.
    page.goto(pages["document"])
    page.get_by_text("Upload a new version").click()
    found["document, new version form open"] = violations(page)
    assert {name: v for name, v in found.items() if v} == {}
    # Label in name, for the file-upload buttons: spoken name includes the visible words.
    name = page.get_by_role("button", name="Choose file for the new version").evaluate(
        "b => b.innerText"
    )
    assert "Choose file" in name
