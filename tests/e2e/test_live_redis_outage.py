"""Redis goes away under a server process while a document page is open in the browser, and
comes back: the page's socket is told to try again later (1013, no failed handshake in the
console), keeps trying with short jittered waits, and shows what it missed and what follows
within 5 seconds of Redis returning."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from e2e_support import sign_in
from playwright.sync_api import expect

from commonroom.accounts.services import sessions_end_all, token_create
from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.live.tests.private_redis import PrivateRedis, private_redis_started
from commonroom.live.tests.servers import uvicorn_process
from commonroom.workspaces.models import Membership
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.services import membership_remove
from commonroom.workspaces.tests.factories import add_member, make_workspace, upload_document

# A page's socket riding out Redis (the browser tests' run): the database is not the subject.
pytestmark = pytest.mark.one_run("sqlite")


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = private_redis_started("Redis outage test")
    yield server
    server.kill()


def test_an_open_page_resumes_within_5_s_of_redis_returning(
    new_page: Any, page_problems: Any, private_redis: PrivateRedis
) -> None:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    sam = UserFactory(email="sam@example.org", full_name="Sam Okafor")
    ws = make_workspace(manager=priya)
    add_member(ws, sam, "commenter")
    doc = upload_document(ws, priya, name="minutes.txt")
    secret = token_create(actor=priya, name="desk", scope="write").secret

    def comment(base: str, body: str) -> None:
        """Priya comments through the server (which announces it through Redis)."""
        posted = httpx.post(
            f"{base}/api/v1/workspaces/{ws.pk}/documents/{doc.pk}/comments",
            json={"body": body},
            headers={"Authorization": f"Bearer {secret}"},
            timeout=30,
        )
        assert posted.status_code == 201, posted.text

    env = {"REDIS_URL": private_redis.url, "COMMONROOM_CHANNEL_PREFIX": f"t-{uuid.uuid4().hex}"}
    with uvicorn_process(**env) as url:
        page = new_page(sam.full_name, base_url=url)
        sign_in(page, sam.email, PASSWORD)
        page.goto(f"/w/{ws.pk}/d/{doc.pk}/")
        html = page.locator("html")
        expect(html).to_have_attribute("data-live", "open")
        threads = page.locator('[data-live-list^="document:"]')

        private_redis.kill()
        expect(html).to_have_attribute("data-live", "closed")
        missed = "Posted while Redis was down."
        comment(url, missed)
        time.sleep(2)  # the page keeps knocking meanwhile, and is told to try again later
        expect(threads).not_to_contain_text(missed)

        private_redis.start()
        back = time.monotonic()
        expect(threads).to_contain_text(missed, timeout=5000)
        after = "Posted once Redis was back."
        comment(url, after)
        expect(threads).to_contain_text(after, timeout=5000)
        elapsed = time.monotonic() - back
    assert elapsed < 5, f"the page showed the new comment {elapsed:.1f} s after Redis returned"
    # A socket closed with 1013 is not a failed connection: the console stayed clean.
    assert page_problems.seen == []


def test_a_page_knocks_again_within_3_s_however_long_the_server_is_away(
    asgi_server: Any, new_page: Any
) -> None:
    """The waits between reconnection attempts are random (full jitter) up to a ceiling that
    stops at 3 s, so a page is back within seconds of the server, not 15 s later."""
    sam = UserFactory(email="sam@example.org", full_name="Sam Okafor")
    ws = make_workspace(manager=sam)
    page = new_page(sam.full_name)
    sign_in(page, sam.email, PASSWORD)
    page.goto(f"/w/{ws.pk}/")
    html = page.locator("html")
    expect(html).to_have_attribute("data-live", "open")
    attempts: list[float] = []
    page.on("websocket", lambda socket: attempts.append(time.monotonic()))
    asgi_server.stop()
    expect(html).to_have_attribute("data-live", "closed")
    gone = time.monotonic()
    page.wait_for_timeout(9000)
    asgi_server.start()
    expect(html).to_have_attribute("data-live", "open", timeout=5000)
    gaps = [b - a for a, b in zip([gone, *attempts], attempts, strict=False)]
    assert len(attempts) >= 4, gaps
    assert max(gaps) < 3.5, gaps


def test_a_page_told_4403_stops_for_good(asgi_server: Any, new_page: Any) -> None:
    """No access any more (removed from the workspace): the page says so and never knocks
    again, unlike after 1013 or a dropped connection."""
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    sam = UserFactory(email="sam@example.org", full_name="Sam Okafor")
    ws = make_workspace(manager=priya)
    add_member(ws, sam, "viewer")
    page = new_page(sam.full_name)
    sign_in(page, sam.email, PASSWORD)
    page.goto(f"/w/{ws.pk}/")
    expect(page.locator("html")).to_have_attribute("data-live", "open")
    attempts: list[float] = []
    page.on("websocket", lambda socket: attempts.append(time.monotonic()))
    membership_remove(
        actor=priya,
        access=workspace_access(user=priya, workspace_id=ws.pk),
        membership_id=Membership.objects.get(workspace=ws, user=sam).pk,
    )
    expect(page.get_by_text("You no longer have access to this workspace")).to_be_visible()
    page.wait_for_timeout(4000)  # longer than the longest wait between attempts (3 s)
    assert attempts == []


def test_a_page_whose_browser_is_signed_out_elsewhere_says_so_and_stops(
    asgi_server: Any, new_page: Any
) -> None:
    """Signed out everywhere from another device: the page's socket is closed at once (4401),
    and the page says why and never knocks again (it would be refused)."""
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    ws = make_workspace(manager=priya)
    page = new_page(priya.full_name)
    sign_in(page, priya.email, PASSWORD)
    page.goto(f"/w/{ws.pk}/")
    expect(page.locator("html")).to_have_attribute("data-live", "open")
    attempts: list[float] = []
    page.on("websocket", lambda socket: attempts.append(time.monotonic()))
    sessions_end_all(actor=priya)
    expect(page.get_by_text("You were signed out, so this page stopped")).to_be_visible(
        timeout=2000
    )
    expect(page.locator("html")).to_have_attribute("data-live", "closed")
    page.wait_for_timeout(4000)  # longer than the longest wait between attempts (3 s)
    assert attempts == []
