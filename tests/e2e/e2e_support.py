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
    """Console errors (a Content-Security-Policy violation is one) and uncaught script errors.

    htmx reports a request it cancelled itself as an error: a search box's ``hx-sync="...:replace"``
    cancels the answer to the letters typed before the last one, by design, and htmx logs
    ``htmx:sendAbort`` with the ``htmx:afterRequest`` that goes with it. Those two are not
    problems. (``htmx:afterRequest`` is logged as an error only beside ``htmx:sendAbort``,
    ``htmx:sendError`` or ``htmx:timeout``, so a failed request is still seen by the latter two.)
    """

    seen: list[str] = field(default_factory=list)

    CANCELLED_BY_HTMX = ("htmx:sendAbort", "htmx:afterRequest")

    def watch(self, page: Any, who: str) -> None:
        def on_console(msg: Any) -> None:
            if msg.type == "error" and not msg.text.startswith(self.CANCELLED_BY_HTMX):
                self.seen.append(f"{who}: console error on {page.url}: {msg.text}")

        def on_page_error(exc: Any) -> None:
            self.seen.append(f"{who}: script error on {page.url}: {exc}")

        page.on("console", on_console)
        page.on("pageerror", on_page_error)


def open_page(
    browser: Any,
    problems: PageProblems,
    who: str,
    *,
    base_url: str,
    viewport: dict[str, int] = DESKTOP,
    timeout_ms: int = 10_000,
) -> Any:
    """A page in a fresh browser context, with its own cookies: one person each, in British
    English and London's time, downloads kept. Its console and script errors go to
    ``problems``. Close it with ``page.context.close()``."""
    context = browser.new_context(
        base_url=base_url,
        viewport=viewport,
        accept_downloads=True,
        locale="en-GB",
        timezone_id="Europe/London",
    )
    context.set_default_timeout(timeout_ms)
    page = context.new_page()
    problems.watch(page, who)
    return page


def sign_in(page: Any, email: str, password: str) -> None:
    """Through the real sign-in form, as a person would."""
    page.goto("/accounts/login/")
    page.get_by_label(re.compile("email", re.I)).fill(email)
    page.get_by_label(re.compile("password", re.I)).fill(password)
    page.get_by_role("button", name=re.compile(r"^sign in$", re.I)).click()
    page.wait_for_url(re.compile(r"^[^?]*/$"))


def shoot(page: Any, name: str) -> None:
    """With ``COMMONROOM_SHOTS=<folder>``, the page as it is, full length, at 360 and at 1280 px
    wide (then back to its own width): ``<name>-360.png`` and ``<name>-1280.png``, for a person
    to look at. Nothing without it."""
    folder = os.environ.get("COMMONROOM_SHOTS", "")
    if not folder:
        return
    own = page.viewport_size
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        page.screenshot(path=f"{folder}/{name}-{size['width']}.png", full_page=True)
    page.set_viewport_size(own)


def page_width(page: Any) -> int:
    """The page's full width in CSS pixels: wider than the window means sideways scrolling."""
    return int(page.evaluate("document.documentElement.scrollWidth"))
