"""A document uploaded and opened at once shows its preview as soon as the worker has made it,
even when the page never hears the live ``preview.ready`` event: the pending preview asks the
server again on its own (static/commonroom/preview-wait.js).

The default installation as real processes on the test database: a server (in-memory channel
layer, tasks queued in the database) and, started once the page is open, a worker that makes
the preview. The browser keeps every ``preview.ready`` message of the socket from the page, so
only asking again can show the preview."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from typing import Any

import httpx
from django.conf import settings
from e2e_support import sign_in
from playwright.sync_api import expect

from commonroom.accounts.services import token_create
from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.live.tests import servers
from commonroom.workspaces.tests.factories import make_workspace

WORDS = "Minutes of the ward managers' meeting: bank staff rota agreed."


def _run_worker() -> None:
    """The queued tasks (here, making the preview) run by a worker process, which exits when
    the queue is empty."""
    env = {
        **os.environ,
        "DATABASE_URL": servers.test_database_url(),
        "COMMONROOM_DATA_DIR": str(settings.DATA_DIR),
        "DJANGO_SETTINGS_MODULE": "commonroom.settings",
    }
    command = [sys.executable, "-m", "commonroom", "db_worker", "--batch", "--no-startup-delay"]
    subprocess.run(command, env=env, check=True, timeout=60)


def test_a_preview_made_while_its_page_is_open_appears_without_the_live_event(
    new_page: Any, page_problems: Any
) -> None:
    aisha = UserFactory(email="aisha@example.org", full_name="Aisha Khan")
    ws = make_workspace(manager=aisha)
    token = token_create(actor=aisha, name="upload", scope="write").secret
    with servers.uvicorn_process() as server:
        answer = httpx.post(
            f"{server}/api/v1/workspaces/{ws.pk}/documents",
            files={"file": ("minutes.txt", WORDS.encode(), "text/plain")},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        path = f"/w/{ws.pk}/d/{answer.json()['document']['id']}/"

        page = new_page(aisha.full_name, base_url=server)
        kept_from_page: list[str] = []

        def route(socket: Any) -> None:
            upstream = socket.connect_to_server()

            def from_server(message: str | bytes) -> None:
                if "preview.ready" in str(message):
                    kept_from_page.append(str(message))
                else:
                    socket.send(message)

            upstream.on_message(from_server)

        page.route_web_socket(re.compile(r"/ws/"), route)
        sign_in(page, aisha.email, PASSWORD)
        page.goto(path)
        expect(page.locator("html")).to_have_attribute("data-live", "open")
        expect(page.get_by_role("status").filter(has_text="being prepared")).to_be_visible()

        _run_worker()
        # The page asks again 1, 3, 6, 11, 19, 32, 52 s after it opened, then every 30 s.
        expect(page.locator(".cr-preview__body")).to_contain_text("bank staff rota", timeout=35_000)
        expect(page.locator(".cr-preview__pending")).to_have_count(0)
        # The event was sent and kept from the page: the preview came by asking again.
        deadline = time.monotonic() + 5
        while not kept_from_page and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert kept_from_page, "the server never sent preview.ready: nothing was kept back"
    assert page_problems.seen == []
