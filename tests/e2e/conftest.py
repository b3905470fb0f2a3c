"""Browser-test fixtures: Debian's Chromium, driven by Playwright, against the live server.

A missing browser fails the tests rather than skipping them.

Playwright's sync API keeps an asyncio event loop registered as running in the main thread while
the browser is open, and Django refuses ORM calls from a thread with a running loop. Django's own
escape hatch, ``DJANGO_ALLOW_ASYNC_UNSAFE``, is set only while a browser is open (one per test
module), so other tests keep the check.

Every page a test opens is watched: ``page_problems.seen`` lists its console errors (a
Content-Security-Policy violation is one) and uncaught script errors, and tests assert it is empty.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import CHROMIUM, DESKTOP, PageProblems, launch_chromium, open_page

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e is a browser test, whether or not it says so."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make browser` (Debian's chromium).")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            chromium = launch_chromium(pw)
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page_problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def new_page(
    browser: Any, asgi_server: Any, page_problems: PageProblems
) -> Iterator[Callable[..., Any]]:
    """Open a page in a fresh browser context, with its own cookies: one person each.

    ``new_page("Aisha", viewport=PHONE)``. Every page is watched for console and script errors.
    ``base_url`` points a page at another server (``asgi_server``, for websockets).
    """
    contexts: list[Any] = []

    def open_for(
        who: str, *, viewport: dict[str, int] = DESKTOP, base_url: str | None = None
    ) -> Any:
        page = open_page(
            browser, page_problems, who, base_url=base_url or asgi_server.url, viewport=viewport
        )
        contexts.append(page.context)
        return page

    yield open_for
    for context in contexts:
        context.close()


@pytest.fixture
def asgi_server(transactional_db: Any) -> Iterator[Any]:
    """The ASGI application (websockets included) on a loopback port, in a thread of this
    process: the same test database and in-memory channel layer, served as ``commonroom serve``
    serves it. (pytest-django's ``live_server`` speaks WSGI only: pages could not open their live
    socket.)"""
    from commonroom.live.tests.servers import AsgiTestServer

    server = AsgiTestServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
