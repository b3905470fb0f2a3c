"""The production topology on one machine (``scripts/topology.sh``), brought up once for this
module and down at its end: nginx in front of two ``commonroom serve --no-worker`` processes,
two workers, PostgreSQL, Redis and moto's S3 server, each part a real process. Everything is
asked through nginx with real HTTP and websockets, or of one app process directly to show what
the processes share: a session, the sign-in rate limit, the live events (Redis) and the files
(the S3 bucket); the workers take the tasks the app queued. One test is a journey of two people
in Chromium (Playwright, as tests/e2e), through nginx from signing in to downloading.

The topology brings its own database (a new one on the PostgreSQL server, dropped at the end;
or a PostgreSQL server of its own, in its folder, when ``TOPOLOGY_PG`` does not answer), so in
``make test`` this module runs in the PostgreSQL run only (the ``own_database`` mark,
conftest.py). nginx or moto missing: the module is skipped with a loud reason, and with
CI=true that is a failure. Faults (an app process or a worker killed, Redis stopped, S3 not
answering, PostgreSQL restarted) are tested in test_topology_faults.py, which brings up a
topology of its own with ``running_topology``.

The backup test takes this module's topology as the one backed up and brings up a second,
fresh one to restore into (its own folder, ports, database, Redis prefix and moto): the
restore is checked through a proxy and app processes that never saw the original. It is the
module's longest test: about a minute on a quiet machine (the second topology's start 21 s,
the restore 5 s, the processes started again 11 s, the downloads and checks 10 s), two
minutes on two busy cores."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from asgiref.sync import async_to_sync

from commonroom.live.tests.servers import free_port

pytestmark = pytest.mark.own_database

ROOT = Path(__file__).resolve().parents[4]
SCRIPT = ROOT / "scripts" / "topology.sh"
PASSWORD = "topology-" + uuid.uuid4().hex
TOO_MANY = "Too many failed sign-ins"


@dataclass
class Topology:
    directory: Path
    url: str  # nginx
    apps: list[str]  # each `commonroom serve` process, directly
    environment: dict[str, str]  # what every Commonroom process of it is given
    launch: dict[str, str] = field(default_factory=dict)  # what scripts/topology.sh is given

    def script(self, action: str, **overrides: str) -> subprocess.CompletedProcess[str]:
        """``scripts/topology.sh <action>`` for this topology (``up`` starts what is not
        running)."""
        return subprocess.run(
            [str(SCRIPT), action],
            env={**self.launch, **overrides},
            capture_output=True,
            text=True,
            timeout=240,
        )

    def pid(self, name: str) -> int:
        """The pid of one of its processes (``web1``, ``worker2``, ``redis``...)."""
        return int((self.directory / "run" / f"{name}.pid").read_text().split()[0])

    def command(self, *args: str, timeout: float = 60) -> str:
        """A ``commonroom`` command run against this topology; its output (a failure says
        both of its outputs)."""
        env = {**os.environ, **self.environment, "COMMONROOM_DATA_DIR": str(self.directory / "cli")}
        done = subprocess.run(
            [sys.executable, "-m", "commonroom", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"commonroom {args[0]} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def rows(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of a query run on the topology's own database (what its processes wrote)."""
        import psycopg

        with psycopg.connect(self.environment["DATABASE_URL"]) as db:
            return list(db.execute(query, params).fetchall())

    def stop(self, *names: str) -> None:
        """Its processes ``names`` (``web1``, ``worker2``...) stopped as ``down`` stops them:
        SIGTERM to each one's session, SIGKILL after 30 s. ``script("up")`` starts them again."""
        pids = {name: self.pid(name) for name in names}
        for pid in pids.values():
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for name, pid in pids.items():
            while _running(pid):
                if time.monotonic() > deadline:
                    os.killpg(pid, signal.SIGKILL)
                time.sleep(0.1)
            (self.directory / "run" / f"{name}.pid").unlink()

    def s3(self) -> Any:
        import boto3

        env = self.environment
        return boto3.client(
            "s3",
            endpoint_url=env["AWS_S3_ENDPOINT_URL"],
            region_name=env["AWS_S3_REGION_NAME"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )


def _missing(what: str) -> None:
    message = f"!!! {what}: the production topology test is SKIPPED !!!"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {what} is a failure. {message}")
    pytest.skip(message)


def _postgres() -> str:
    """host:port of the PostgreSQL server under test (DATABASE_URL's), else the default."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        parts = urlsplit(url)
        return f"{parts.hostname or '127.0.0.1'}:{parts.port or 5432}"
    return "127.0.0.1:5432"


def _read_environment(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {name: value for name, value in pairs if not name.startswith("#")}


def _drop_database(url: str, *, again: bool = False) -> None:
    """The database ``url`` names dropped; ``again``: made again, empty."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if again:
            db.execute(f'CREATE DATABASE "{name}"')


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs (one that ended but is not yet reaped does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(") ", 1)[1].split()[0] != "Z"


def require_topology_tools() -> None:
    """nginx and moto's server, or a loud skip (a failure with CI=true)."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        _missing("nginx is not installed (make nginx)")
    try:
        import moto.server  # noqa: F401
    except ImportError:
        _missing("moto's server is not installed (the test dependencies: moto[server])")


@contextmanager
def running_topology(directory: Path, **settings: str) -> Iterator[Topology]:
    """A topology brought up in ``directory`` on free ports with a new database, and down (its
    database dropped) at the end. ``settings``: more TOPOLOGY_* variables for the script."""
    http, app1, app2, s3 = (free_port() for _ in range(4))
    name = f"topo_{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "TOPOLOGY_DIR": str(directory),
        "TOPOLOGY_PYTHON": sys.executable,
        "TOPOLOGY_HTTP_PORT": str(http),
        "TOPOLOGY_APP_PORTS": f"{app1} {app2}",
        "TOPOLOGY_S3_PORT": str(s3),
        "TOPOLOGY_DATABASE": name,
        "TOPOLOGY_PG": _postgres(),
        "TOPOLOGY_PREFIX": f"test-{name}",
        "COMMONROOM_DEMO_PASSWORD": PASSWORD,
        **settings,
    }
    # The code under test, whichever checkout runs this.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    topology = Topology(
        directory=directory,
        url=f"http://127.0.0.1:{http}",
        apps=[f"http://127.0.0.1:{app1}", f"http://127.0.0.1:{app2}"],
        environment={},
        launch=env,
    )
    started = topology.script("up")
    try:
        assert started.returncode == 0, f"topology up failed:\n{started.stdout}\n{started.stderr}"
        topology.environment = _read_environment(directory / "commonroom.env")
        yield topology
    finally:
        stopped = topology.script("down")
        environment = _read_environment(directory / "commonroom.env")
        # A PostgreSQL of the topology's own has stopped with it: its data is in the folder.
        if not (directory / "postgres" / "PG_VERSION").exists():
            _drop_database(environment["DATABASE_URL"])
    assert stopped.returncode == 0, stopped.stderr
    assert not list((directory / "run").glob("*.pid")), "down left processes behind"


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    require_topology_tools()
    with running_topology(tmp_path_factory.mktemp("topology")) as topology:
        yield topology


def _csrf(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found, "no CSRF token in the form"
    return found.group(1)


def _sign_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    form = client.get("/accounts/login/")
    assert form.status_code == 200
    return client.post(
        "/accounts/login/",
        data={"login": email, "password": password, "csrfmiddlewaretoken": _csrf(form.text)},
        headers={"Referer": f"{client.base_url}accounts/login/"},
    )


def _workspace(topology: Topology, token: str) -> str:
    listed = httpx.get(
        f"{topology.url}/api/v1/workspaces", headers={"Authorization": f"Bearer {token}"}
    )
    assert listed.status_code == 200, listed.text
    return str(listed.json()["items"][0]["id"])


async def _comment_event(socket: Any, comment: str) -> dict[str, Any]:
    """The socket's event for ``comment``, past what else the workspace sends meanwhile (the
    previews the workers finish, their nudges), within 5 s."""
    async with asyncio.timeout(5):
        while True:
            message = json.loads(await socket.recv())
            if message["type"] == "event" and message["data"].get("comment") == comment:
                return dict(message)


def test_the_proxy_serves_static_files_itself_and_denies_the_metrics(topology: Topology) -> None:
    health = httpx.get(f"{topology.url}/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert health.headers["server"].startswith("nginx")
    # nginx names the request (its $request_id), the app answers with that id, and nginx's
    # access line carries it: one id for the request in both logs.
    named = health.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", named)
    access = topology.directory / "nginx" / "logs" / "access.log"
    deadline = time.monotonic() + 5
    while f"request_id={named}" not in access.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert f"request_id={named}" in access.read_text()
    static = next((topology.directory / "public" / "static").rglob("*.css"))
    relative = static.relative_to(topology.directory / "public").as_posix()
    served = httpx.get(f"{topology.url}/{relative}")
    assert served.status_code == 200
    assert served.content == static.read_bytes()
    # From nginx's disk, not the app: no request for it reached either app process.
    logs = "".join((topology.directory / "log" / f"web{i}.log").read_text() for i in (1, 2))
    assert f"/{relative}" not in logs
    assert httpx.get(f"{topology.url}/metrics").status_code == 403
    assert httpx.get(f"{topology.url}/readyz").status_code == 403


def wait_for_both_workers_leased(topology: Topology, *, seconds: float) -> None:
    """Until each worker (by the pid in its pid file) holds a lease in the database renewed
    within the last minute: it runs and polls for tasks (the heartbeat /readyz reads)."""
    pids = {topology.pid(f"worker{i}") for i in (1, 2)}
    deadline = time.monotonic() + seconds
    while True:
        leased = {
            pid
            for (pid,) in topology.rows(
                "SELECT pid FROM core_workerlease WHERE renewed_at > now() - interval '1 minute'"
            )
        }
        if pids <= leased:
            return
        assert time.monotonic() < deadline, f"workers {pids - leased} hold no live lease"
        time.sleep(0.5)


def test_both_workers_run_and_take_the_queued_tasks(topology: Topology) -> None:
    """Both workers are alive and taking work: each holds a lease in the database renewed
    within the last minute (the heartbeat /readyz reads), under its own pid; and the demo's
    uploads' previews, queued in the database, are done."""
    wait_for_both_workers_leased(topology, seconds=30)
    deadline = time.monotonic() + 30
    logs = [topology.directory / "log" / f"worker{i}.log" for i in (1, 2)]
    while not any("state=SUCCESSFUL" in log.read_text() for log in logs):
        assert time.monotonic() < deadline, "no worker finished a task in 30 s"
        time.sleep(0.2)


def test_a_session_signed_in_through_the_proxy_is_valid_on_both_app_processes(
    topology: Topology,
) -> None:
    with httpx.Client(base_url=topology.url) as browser:
        signed_in = _sign_in(browser, "priya@example.org", PASSWORD)
        assert signed_in.status_code == 302, signed_in.text
        assert browser.get("/").status_code == 200
        session = browser.cookies["sessionid"]
    for app in topology.apps:
        home = httpx.get(f"{app}/", cookies={"sessionid": session})
        assert home.status_code == 200, app
        assert "Priya Shah" in home.text
        # Without the cookie, each sends the visitor to sign in.
        assert httpx.get(f"{app}/").status_code == 302


def test_an_upload_through_the_proxy_lands_in_the_bucket_and_downloads_the_same(
    topology: Topology,
) -> None:
    token = topology.command("token", "create", "priya@example.org", "topology", "--scope", "write")
    auth = {"Authorization": f"Bearer {token.strip()}"}
    workspace = _workspace(topology, token.strip())
    content = os.urandom(3 * 1024 * 1024) + b"the end"  # larger than nginx's buffers
    uploaded = httpx.post(
        f"{topology.url}/api/v1/workspaces/{workspace}/documents",
        headers=auth,
        files={"file": ("topology.bin", content, "application/octet-stream")},
        timeout=60,
    )
    assert uploaded.status_code == 201, uploaded.text
    version = uploaded.json()["version"]
    digest = hashlib.sha256(content).hexdigest()
    assert version["sha256"] == digest and version["size"] == len(content)
    stored = topology.s3().head_object(
        Bucket=topology.environment["AWS_STORAGE_BUCKET_NAME"],
        Key=f"blobs/{digest[:2]}/{digest[2:4]}/{digest}",
    )
    assert stored["ContentLength"] == len(content)
    document = uploaded.json()["document"]["id"]
    downloaded = httpx.get(
        f"{topology.url}/api/v1/workspaces/{workspace}/documents/{document}/versions/"
        f"{version['number']}/content",
        headers=auth,
        timeout=60,
    )
    # The app authorises and audits, then sends the browser to the bucket with a short-lived
    # signed URL: the bytes never pass through Python (nor the proxy).
    assert downloaded.status_code == 302, downloaded.text
    assert downloaded.headers["server"].startswith("nginx")
    assert "no-store" in downloaded.headers["cache-control"]
    signed = downloaded.headers["location"]
    assert (
        signed.startswith(topology.environment["AWS_S3_ENDPOINT_URL"])
        and "X-Amz-Signature" in signed
    )
    fetched = httpx.get(signed, timeout=60)
    assert fetched.status_code == 200
    assert hashlib.sha256(fetched.content).hexdigest() == digest


def test_a_comment_through_one_app_process_reaches_sockets_on_the_other_and_the_proxy(
    topology: Topology,
) -> None:
    from websockets.asyncio.client import connect

    writer = topology.command("token", "create", "tom@example.org", "writer", "--scope", "write")
    reader = topology.command("token", "create", "sam@example.org", "reader", "--scope", "read")
    workspace = _workspace(topology, writer.strip())
    documents = httpx.get(
        f"{topology.url}/api/v1/workspaces/{workspace}/documents",
        headers={"Authorization": f"Bearer {writer.strip()}"},
    )
    document = documents.json()["items"][0]["id"]
    headers = {"Authorization": f"Bearer {reader.strip()}"}
    path = f"/ws/w/{workspace}/"

    async def body() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        on_app2 = topology.apps[1].replace("http://", "ws://") + path
        via_nginx = topology.url.replace("http://", "ws://") + path
        async with (
            connect(on_app2, additional_headers=headers) as direct,
            connect(via_nginx, additional_headers=headers) as proxied,
        ):
            for socket in (direct, proxied):
                assert json.loads(await socket.recv())["type"] == "hello"
                # Answered once the socket has joined its groups: the comment comes after.
                await socket.send(json.dumps({"type": "ping"}))
                assert json.loads(await socket.recv())["type"] == "pong"
            async with httpx.AsyncClient() as http:
                posted = await http.post(
                    f"{topology.apps[0]}/api/v1/workspaces/{workspace}/documents/{document}/"
                    "comments",
                    json={"body": "Posted through app process one"},
                    headers={"Authorization": f"Bearer {writer.strip()}"},
                )
            assert posted.status_code == 201, posted.text
            comment = posted.json()
            events = [await _comment_event(socket, comment["id"]) for socket in (direct, proxied)]
            return events, comment

    received, comment = async_to_sync(body)()
    for message in received:
        assert message["kind"] == "comment.created"
        assert message["data"]["comment"] == comment["id"]


def test_a_socket_through_the_proxy_is_known_by_its_clients_address(topology: Topology) -> None:
    """nginx tells the app who opened a live socket as it does for a request: the client's
    address added to X-Forwarded-For, which the app believes from COMMONROOM_TRUSTED_PROXIES
    only. A token used for a socket shows on its owner's tokens page where it was used from:
    neither the proxy's address nor one the client wrote itself.

    The client connects from 127.0.0.2, which is not a trusted proxy (127.0.0.1 is), and sends
    an X-Forwarded-For of its own."""
    from websockets.asyncio.client import connect

    name = f"socket-{uuid.uuid4().hex[:8]}"
    token = topology.command("token", "create", "tom@example.org", name, "--scope", "read")
    headers = {"Authorization": f"Bearer {token.strip()}", "X-Forwarded-For": "203.0.113.9"}

    async def body() -> None:
        url = topology.url.replace("http://", "ws://") + "/ws/me/"
        async with connect(url, additional_headers=headers, local_addr=("127.0.0.2", 0)) as socket:
            assert json.loads(await socket.recv())["type"] == "hello"

    async_to_sync(body)()
    used = topology.command(
        "shell",
        "--no-imports",
        "-c",
        "from commonroom.accounts.models import ApiToken; "
        f"print(ApiToken.objects.get(name={name!r}).last_used_ip)",
    )
    assert used.strip() == "127.0.0.2"


# --- The browser journey: two people in Chromium, through nginx ---------------------------------

E2E = ROOT / "tests" / "e2e"
TRIES = 10  # reopenings of the second page until its socket is on the other app process
# Markdown, so the worker makes a preview and the download is the stored bytes themselves (an
# Office file is sent as its stamped copy, from the app: documents/downloads.py). Windows line
# endings, a pound sign, an accent, an emoji and no newline at the end: what a careless
# pipeline would change.
JOURNEY_NAME = "ward-staffing-review.md"
JOURNEY_WORDS = "Bank and agency shifts on Ward 7 fell by a third"
JOURNEY_FILE = (
    "# Ward staffing review\r\n\r\n"
    f"{JOURNEY_WORDS} in November, to £41,200 — Zoë's rota held. 🙂\r\n\r\n"
    "| Week | Bank | Agency |\r\n|---|---|---|\r\n"
    + "".join(f"| {week} | {30 - week} | {12 - week} |\r\n" for week in range(1, 5))
    + "\r\nNext review: January."
).encode()


def _e2e_support() -> Any:
    """tests/e2e's helpers (signing in, watching a page for errors...), with Playwright's sync
    API: or a loud skip without Playwright or Chromium (a failure with CI=true)."""
    sys.path.insert(0, str(E2E))
    try:
        import e2e_support
        from playwright import sync_api  # noqa: F401
    except ImportError as exc:
        _missing(f"Playwright cannot be imported ({exc})")
    finally:
        sys.path.remove(str(E2E))
    if not Path(e2e_support.CHROMIUM).exists():
        _missing(f"Chromium is not at {e2e_support.CHROMIUM} (make browser)")
    return e2e_support


def _live_sockets(topology: Topology) -> list[int]:
    """Each app process's open live sockets, as its /metrics counts them: read on the process's
    own port (nginx denies /metrics; the app answers a peer on loopback)."""
    counts = []
    for app in topology.apps:
        answer = httpx.get(f"{app}/metrics")
        assert answer.status_code == 200, f"{app}/metrics: {answer.status_code}"
        found = re.search(r"^commonroom_live_sockets ([0-9.e+]+)$", answer.text, re.MULTILINE)
        assert found, f"no commonroom_live_sockets in {app}/metrics"
        counts.append(int(float(found.group(1))))
    return counts


def _sockets_settled(topology: Topology, total: int) -> list[int]:
    """The counts of :func:`_live_sockets` once they add up to ``total``: a page's socket is
    counted from the process's accept, and a page left keeps its socket until the process has
    seen it close. Within 10 s."""
    deadline = time.monotonic() + 10
    while True:
        counts = _live_sockets(topology)
        if sum(counts) == total:
            return counts
        assert time.monotonic() < deadline, f"{counts} live sockets on the apps, not {total}"
        time.sleep(0.1)


@pytest.mark.e2e
def test_a_browser_journey_through_the_proxy_across_both_app_processes(
    topology: Topology,
) -> None:
    """Priya at her desk (1280 px) signs in through the form, uploads through the page and sees
    the preview a worker made; Tom on a phone (360 px) has the document open, his live socket on
    the other app process than hers; her comment shows on his screen without a reload, and what
    he downloads comes from the bucket, byte for byte what she uploaded. No page logs an
    error. The browser is given nginx's address only (and the bucket's, in a redirect)."""
    support = _e2e_support()
    from playwright.sync_api import expect, sync_playwright

    problems = support.PageProblems()
    digest = hashlib.sha256(JOURNEY_FILE).hexdigest()
    with sync_playwright() as playwright:
        browser = support.launch_chromium(playwright)
        try:
            desk, phone = (
                support.open_page(
                    browser, problems, who, base_url=topology.url, viewport=size, timeout_ms=15_000
                )
                for who, size in (("Priya", support.DESKTOP), ("Tom", support.PHONE))
            )

            # Priya signs in and uploads the review with the workspace's upload form.
            support.sign_in(desk, "priya@example.org", PASSWORD)
            desk.get_by_role("link", name="Weekly budget meeting").first.click()
            with desk.expect_file_chooser() as chooser:
                desk.get_by_role("button", name=re.compile(r"^Choose files to upload\b")).click()
            chooser.value.set_files(
                {"name": JOURNEY_NAME, "mimeType": "text/markdown", "buffer": JOURNEY_FILE}
            )
            desk.get_by_role("button", name="Upload", exact=True).click()
            expect(desk.get_by_text(f"Uploaded {JOURNEY_NAME} (version 1).")).to_be_visible()
            desk.get_by_role("link", name=JOURNEY_NAME).click()
            expect(desk.get_by_role("heading", level=1)).to_have_text(JOURNEY_NAME)
            # The app processes run no tasks (--no-worker): a worker made the preview, and the
            # page showed it when told (or, failing that, on asking again).
            expect(desk.locator(".cr-preview__body")).to_contain_text(JOURNEY_WORDS, timeout=60_000)
            expect(desk.locator(".cr-preview__body table")).to_have_count(1)
            expect(desk.locator("html")).to_have_attribute("data-live", "open")
            path = urlsplit(desk.url).path
            placed = _sockets_settled(topology, 1)
            desk_app = placed.index(1)

            # Tom opens the same page on his phone until nginx has put its socket on the other
            # app process (it takes turns, but the page's own requests take turns too).
            support.sign_in(phone, "tom@example.org", PASSWORD)
            for _ in range(TRIES):
                phone.goto(path)
                expect(phone.locator("html")).to_have_attribute("data-live", "open")
                placed = _sockets_settled(topology, 2)
                if placed[desk_app] == 1:
                    break
                # One more request through nginx, so the next socket's turn falls otherwise.
                phone.evaluate("fetch('/healthz').then((r) => r.text())")
                phone.goto("about:blank")
                _sockets_settled(topology, 1)
            else:
                pytest.fail(f"Tom's socket shared Priya's app process on all {TRIES} tries")
            assert placed == [1, 1], placed
            expect(phone.locator(".cr-preview__body")).to_contain_text(JOURNEY_WORDS)
            assert support.page_width(phone) <= support.PHONE["width"]

            # Priya comments; Tom's screen shows it within seconds, the page never reloaded.
            phone.evaluate("window.journeyMark = 'not reloaded'")
            said = "Ward 7: can we keep the November rota through January?"
            box = desk.get_by_label("Add a comment")
            box.fill(said)
            box.press("Enter")
            threads = phone.locator('[data-live-list^="document:"]')
            expect(threads.locator("article.cr-thread", has_text=said)).to_have_count(
                1, timeout=5000
            )
            assert phone.evaluate("window.journeyMark") == "not reloaded"

            # Tom downloads it: the app answers with a redirect to a signed URL of the bucket,
            # which the browser follows to the S3 server.
            with phone.expect_download() as downloading:
                phone.locator(".cr-doc-actions").get_by_role(
                    "link", name=re.compile(r"^Download")
                ).click()
            download = downloading.value
            assert download.url.startswith(topology.environment["AWS_S3_ENDPOINT_URL"] + "/")
            assert download.suggested_filename == "ward-staffing-review (version 1).md"
            fetched = Path(download.path()).read_bytes()
            assert hashlib.sha256(fetched).hexdigest() == digest
            assert fetched == JOURNEY_FILE
            stored = topology.s3().get_object(
                Bucket=topology.environment["AWS_STORAGE_BUCKET_NAME"],
                Key=f"blobs/{digest[:2]}/{digest[2:4]}/{digest}",
            )
            assert stored["Body"].read() == JOURNEY_FILE

            support.shoot(desk, "journey-desk")
            support.shoot(phone, "journey-phone")
        finally:
            browser.close()
    assert problems.seen == [], "\n".join(problems.seen)


# A name as hostile as a browser may send: a path, quotes, a semicolon and a second "filename",
# accents, guillemets, an emoji, markup and a right-to-left override.
HOSTILE_NAME = (
    '../ward/Rapport "final"; filename=evil.exe '
    "\u00e9t\u00e9 \u00abrota\u00bb \U0001f600 <b>\u202e.txt"
)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class Fetched:
    """A version's bytes as a client gets them through the proxy: their SHA-256, the name the
    download gives them, and where they came from (the bucket's endpoint, or the app)."""

    sha256: str
    disposition: str
    origin: str


def _fetched(url: str, token: str, workspace: str, document: str, number: int) -> Fetched:
    answer = httpx.get(
        f"{url}/api/v1/workspaces/{workspace}/documents/{document}/versions/{number}/content",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    if answer.status_code == 302:  # the stored bytes: a signed URL on the bucket's endpoint
        location = urlsplit(answer.headers["location"])
        answer = httpx.get(answer.headers["location"], timeout=60)
        origin = f"{location.scheme}://{location.netloc}"
    else:  # an Office file's stamped copy streams through the app
        origin = url
    assert answer.status_code == 200, f"{document} version {number}: {answer.status_code}"
    return Fetched(
        hashlib.sha256(answer.content).hexdigest(),
        answer.headers["content-disposition"],
        origin,
    )


def _every_version(topology: Topology) -> list[tuple[str, str, str, int, str]]:
    """(workspace, document, name, number, sha256) of every version of every live document,
    from the topology's database."""
    return [
        (str(workspace), str(document), name, number, sha)
        for workspace, document, name, number, sha in topology.rows(
            "SELECT d.workspace_id, d.id, d.name, v.number, v.blob_id FROM documents_document d "
            "JOIN documents_version v ON v.document_id = d.id WHERE d.deleted_at IS NULL "
            "ORDER BY d.id, v.number"
        )
    ]


def _threads(url: str, token: str, workspace: str, document: str) -> list[tuple[str, str]]:
    listed = httpx.get(
        f"{url}/api/v1/workspaces/{workspace}/documents/{document}/comments",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert listed.status_code == 200, listed.text
    return [(thread["id"], thread["body"]) for thread in listed.json()["items"]]


def test_the_backup_restores_into_a_fresh_topology_every_version_byte_for_byte(
    topology: Topology, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Documents put in through nginx (versions, the same bytes in two documents, an Office
    file, a hostile name) and commented on; ``commonroom backup`` against the running topology;
    a fresh topology (its own folder, ports, database, Redis prefix and moto) given the
    backup with ``commonroom restore`` while its app processes and workers are stopped, then
    started again. Through its nginx, every version of every document downloads with the
    original's SHA-256 and name, from its own bucket; the comments are there, and the audit
    trail verifies before and after the downloads it records."""
    from commonroom.documents.tests.office_files import docx_bytes

    token = topology.command("token", "create", "priya@example.org", "backup", "--scope", "write")
    auth = {"Authorization": f"Bearer {token.strip()}"}
    workspace = _workspace(topology, token.strip())
    documents = f"{topology.url}/api/v1/workspaces/{workspace}/documents"
    shared = os.urandom(512 * 1024)  # version 2 of one document, version 1 of another
    sent = {
        "restore-one.bin": [os.urandom(700 * 1024), shared, b"Third and last.\n"],
        "restore-two.bin": [shared, os.urandom(64 * 1024)],
        HOSTILE_NAME: ["Ward 7 rota, \u00e9t\u00e9\n".encode(), b"Ward 7 rota, amended\n"],
        "restore-minutes.docx": [docx_bytes("Met on Tuesday."), docx_bytes("Met on Friday.")],
    }
    mine: dict[str, str] = {}  # document id: its name as stored
    for name, contents in sent.items():
        kind = DOCX if name.endswith(".docx") else "application/octet-stream"
        created = httpx.post(
            documents, headers=auth, files={"file": (name, contents[0], kind)}, timeout=60
        )
        assert created.status_code == 201, created.text
        document = created.json()["document"]
        for content in contents[1:]:
            added = httpx.post(
                f"{documents}/{document['id']}/versions",
                headers=auth,
                files={"file": (name, content, kind)},
                timeout=60,
            )
            assert added.status_code == 201, added.text
        for i in range(2):
            comment = httpx.post(
                f"{documents}/{document['id']}/comments",
                headers=auth,
                json={"body": f"Comment {i} on {document['name']}"},
            )
            assert comment.status_code == 201, comment.text
        mine[document["id"]] = document["name"]
    assert any("\u00e9t\u00e9 \u00abrota\u00bb" in name for name in mine.values()), mine

    versions = _every_version(topology)
    assert {document for _, document, *_ in versions} >= set(mine)
    # One manager of each workspace reads it (managers may always download), through a token
    # made before the backup: the restored topology knows it too.
    managers = dict(
        topology.rows(
            "SELECT DISTINCT ON (m.workspace_id) m.workspace_id::text, u.email "
            "FROM workspaces_membership m JOIN accounts_user u ON u.id = m.user_id "
            "WHERE m.role = 'manager' ORDER BY m.workspace_id, u.email"
        )
    )
    assert {ws for ws, *_ in versions} <= set(managers), "a workspace without a manager"
    tokens = {
        ws: topology.command("token", "create", email, "restored", "--scope", "read").strip()
        for ws, email in managers.items()
    }
    before = {
        (document, number): _fetched(topology.url, tokens[ws], ws, document, number)
        for ws, document, _, number, _ in versions
    }
    for _, document, name, number, sha in versions:
        if not name.endswith((".docx", ".xlsx", ".pptx")):  # Office files download stamped
            assert before[(document, number)].sha256 == sha
    threads = {
        document: _threads(topology.url, token.strip(), workspace, document) for document in mine
    }
    comments = topology.rows("SELECT count(*) FROM comments_comment")[0][0]

    started = time.monotonic()
    backup = tmp_path_factory.mktemp("backup") / "commonroom"
    said = topology.command("backup", str(backup), timeout=240)
    assert f"backup written to {backup}" in said, said

    directory = tmp_path_factory.mktemp("restored")
    # Its secrets are in the environment, so not in the backup (backup.json says to keep them
    # apart): the fresh topology is given the same, as an operator restoring would.
    shutil.copy(topology.directory / "secrets.env", directory / "secrets.env")
    with running_topology(directory, TOPOLOGY_DEMO="0") as fresh:
        for setting in ("DATABASE_URL", "AWS_S3_ENDPOINT_URL", "COMMONROOM_CHANNEL_PREFIX"):
            assert fresh.environment[setting] != topology.environment[setting]
        # A restore goes into an empty database only: its processes stop while the database
        # is made again, empty, and the backup put in it and its bucket.
        fresh.stop("web1", "web2", "worker1", "worker2")
        _drop_database(fresh.environment["DATABASE_URL"], again=True)
        restored = fresh.command("restore", str(backup), timeout=240)
        assert "restore complete: fsck, audit and search all ok" in restored, restored
        again = fresh.script("up")
        assert again.returncode == 0, f"{again.stdout}\n{again.stderr}"

        assert _every_version(fresh) == versions
        bucket = fresh.environment["AWS_S3_ENDPOINT_URL"]
        for ws, document, _, number, _ in versions:
            after = _fetched(fresh.url, tokens[ws], ws, document, number)
            assert after.sha256 == before[(document, number)].sha256, (document, number)
            assert after.disposition == before[(document, number)].disposition
            # The stored bytes from the fresh bucket; a stamped copy from the fresh app.
            assert after.origin == (
                fresh.url if before[(document, number)].origin == topology.url else bucket
            )
        for document, name in mine.items():
            detail = httpx.get(
                f"{fresh.url}/api/v1/workspaces/{workspace}/documents/{document}", headers=auth
            )
            assert detail.status_code == 200 and detail.json()["name"] == name
            assert _threads(fresh.url, token.strip(), workspace, document) == threads[document]
        assert fresh.rows("SELECT count(*) FROM comments_comment")[0][0] == comments
        # The bytes of two documents are one object in the fresh bucket, at their address.
        digest = hashlib.sha256(shared).hexdigest()
        assert len({document for _, document, _, _, sha in versions if sha == digest}) == 2
        fresh.s3().head_object(
            Bucket=fresh.environment["AWS_STORAGE_BUCKET_NAME"],
            Key=f"blobs/{digest[:2]}/{digest[2:4]}/{digest}",
        )
        # The restored chains, and the download rows written on top of them since.
        assert "ok:" in fresh.command("audit", "verify", "--files")
    print(f"backup, fresh topology, restore and checks: {time.monotonic() - started:.1f} s")


def test_failed_sign_ins_over_both_app_processes_count_against_one_limit(
    topology: Topology,
) -> None:
    """Last in the module: past the limit, this client may not sign in for a minute. Five
    failures (the limit per account and client, 5/5m/key) alternate between the processes, three
    on one and two on the other; the sixth is refused, which neither process would do alone."""
    answers = []
    for attempt in range(6):
        with httpx.Client(base_url=topology.apps[attempt % 2]) as browser:
            answers.append(_sign_in(browser, "sam@example.org", "not the password"))
    for refused in answers[:5]:
        assert refused.status_code == 200 and TOO_MANY not in refused.text
    assert TOO_MANY in answers[5].text
    # Through the proxy too, even with the right password.
    with httpx.Client(base_url=topology.url) as browser:
        assert TOO_MANY in _sign_in(browser, "sam@example.org", PASSWORD).text
