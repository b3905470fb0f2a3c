"""Helpers shared by the browser tests and the screenshot script (tests/e2e/screenshots.py).

Playwright drives Debian's Chromium (``COMMONROOM_CHROMIUM``, default ``/usr/bin/chromium``); no
browser is ever downloaded.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

CHROMIUM = os.environ.get("COMMONROOM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}


def launch_chromium(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


@dataclass
class PageProblems:
    """Console errors (a Content-Security-Policy violation is one) and uncaught script errors."""

    seen: list[str] = field(default_factory=list)

    def watch(self, page: Any, who: str) -> None:
        def on_console(msg: Any) -> None:
            if msg.type == "error":
                self.seen.append(f"{who}: console error on {page.url}: {msg.text}")

        def on_page_error(exc: Any) -> None:
            self.seen.append(f"{who}: script error on {page.url}: {exc}")

        page.on("console", on_console)
        page.on("pageerror", on_page_error)


def sign_in(page: Any, email: str, password: str) -> None:
    """Through the real sign-in form, as a person would."""
    page.goto("/accounts/login/")
    page.get_by_label(re.compile("email", re.I)).fill(email)
    page.get_by_label(re.compile("password", re.I)).fill(password)
    page.get_by_role("button", name=re.compile(r"^sign in$", re.I)).click()
    page.wait_for_url(re.compile(r"^[^?]*/$"))


def page_width(page: Any) -> int:
    """The page's full width in CSS pixels: wider than the window means sideways scrolling."""
    return int(page.evaluate("document.documentElement.scrollWidth"))
