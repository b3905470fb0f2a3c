"""``python -m bench.topology_load`` (run by ``make bench``): the production topology under the
load of a meeting day, beside the same load on the single-process embedded default (issue 17).

Two targets, in the same run:

1. *the topology*: ``scripts/topology.sh up`` in a throw-away folder, on free ports, with a
   throw-away PostgreSQL database on the machine's server (``loadbench_...``) and a Redis key
   prefix of its own: nginx in front of two ``commonroom serve --no-worker``, two workers,
   moto's S3 (:mod:`bench.topology`, shared with :mod:`bench.topology_throughput`); the load
   goes through nginx;
2. *the reference*: one ``commonroom serve`` (embedded worker) on SQLite and local files, the
   shape ``make run`` serves.

Each is seeded the same way (a child process with the target's environment): ``BENCH_LOAD_USERS``
people (default 500) in teams of ``BENCH_LOAD_GROUP`` (default 12: a board, a committee, as a
trust's workspaces are), each team a workspace of its own with 5 short text documents, its chair
the manager and the others editors, each person with a write API token. Then Locust (as a
library, headless, in a child process of its own so that gevent's patching stays there) starts
one simulated person per member, everyone within about a minute. Each signs in once through the
real sign-in form (session cookie; those whom the limit on sign-ins from one address turns away
with a 429 carry a session made at seeding instead, and the run says how many), opens their
workspace's live socket (with their token; a greenlet reads it for the whole run) and then, with
``BENCH_LOAD_WAIT`` seconds between actions (default 5-15: reading a page, writing a comment),
does what a meeting day does, by weight, on a document of their workspace: the workspace page
30, a document page 25, a preview fragment 15, a search 10, a comment through the JSON API 8, an
upload of a small file through the JSON API 1. The load runs for ``BENCH_LOAD_SECONDS`` (default
300) after every person has started. ``BENCH_LOAD_GROUP=500 BENCH_LOAD_WAIT=1-5`` is the harsher
shape of the first runs (everyone in one workspace, an action every 3 s on average).

Figures per request type: p50, p95, p99, errors, requests per second; and each process's peak
resident memory (``VmHWM``, read from /proc through the pid files in ``<dir>/run`` before the
topology is stopped; nginx's workers beside its master). The machine's PostgreSQL and Redis
serve others as well and are not counted. Everything started is stopped and the database
dropped at the end, also on error. ``BENCH_OUTPUT`` as for the other modules (``-``: print
only). Nothing here fails on timing.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from http.cookiejar import Cookie
from pathlib import Path
from typing import Any

from bench.config import DEFAULT_PG, REPO, Config
from bench.machine import load_average, machine
from bench.report import TIMES, publish
from bench.server import Server, commonroom, server_environment
from bench.topology import children_of, command_of, peaks, status_kib, topology, unavailable

USERS = max(1, int(os.environ.get("BENCH_LOAD_USERS", "") or 500))
SECONDS = max(1.0, float(os.environ.get("BENCH_LOAD_SECONDS", "") or 300))
# People come in teams or meetings of GROUP (``BENCH_LOAD_GROUP``, default 12: a board, a
# committee), each in a workspace of its own with DOCUMENTS documents; between two actions a
# person waits WAIT seconds (``BENCH_LOAD_WAIT``, "low-high", default 5-15: reading a page,
# writing a comment), drawn evenly.
GROUP = max(1, int(os.environ.get("BENCH_LOAD_GROUP", "") or 12))
DOCUMENTS = 5
WAIT = tuple(float(x) for x in (os.environ.get("BENCH_LOAD_WAIT", "") or "5-15").split("-", 1))
# Which targets run (``BENCH_LOAD_TARGETS``, default both) and whether their folders (logs,
# the embedded server's database) are kept for reading afterwards (``BENCH_LOAD_KEEP=1``).
TARGETS = {
    t.strip() for t in (os.environ.get("BENCH_LOAD_TARGETS", "") or "topology,embedded").split(",")
}
KEEP = os.environ.get("BENCH_LOAD_KEEP", "") == "1"
# What a person does on a meeting day, by weight (the Locust tasks below use the same).
WEIGHTS = {
    "workspace page": 30,
    "document page": 25,
    "preview fragment": 15,
    "search": 10,
    "comment (API)": 8,
    "upload (API)": 1,
}
ONCE = ("sign in (form)", "sign in (post)", "live socket (open)")


def session_cookie(name: str, value: str) -> Cookie:
    """A session cookie for the loopback server, as a browser would hold it."""
    return Cookie(
        version=0,
        name=name,
        value=value,
        port=None,
        port_specified=False,
        domain="127.0.0.1",
        domain_specified=False,
        domain_initial_dot=False,
        path="/",
        path_specified=True,
        secure=False,
        expires=None,
        discard=False,
        comment=None,
        comment_url=None,
        rest={},
    )


def problem(html: str) -> str:
    """The words of a form's error summary ("There is a problem"), or nothing."""
    body = html.partition("nhsuk-error-summary__body")[2][:2000]
    words = re.sub(r"<[^>]+>", " ", body.partition("</div></div>")[0]).split()
    return " ".join(w for w in words if w not in (">", '">'))[:160]


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, round(p / 100 * len(ordered)))) - 1]


def step(message: str) -> None:
    print(f"[topology-load] {message}", flush=True)


# --- Seeding (a child process with the target's environment) ----------------------------------


def seed(out: Path) -> None:
    """People, one workspace, its documents; the world the load needs, as JSON in ``out``."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from commonroom.accounts.models import TokenScope, User
    from commonroom.accounts.services import token_create
    from commonroom.documents.services import document_upload
    from commonroom.workspaces.models import Membership, Role
    from commonroom.workspaces.selectors import workspace_access
    from commonroom.workspaces.services import workspace_create

    password = secrets.token_urlsafe(12)
    hashed = make_password(password)  # one hash for everyone: seeding 500 people stays quick
    people: list[dict[str, Any]] = []
    for first in range(0, USERS, GROUP):
        # A team or a meeting: its chair (the manager) and the others, editors.
        n = first // GROUP
        chair = User.objects.create(email=f"chair{n:03d}@example.org", password=hashed)
        ws = workspace_create(actor=chair, name=f"Meeting {n:03d}")
        members = [chair]
        for i in range(first + 1, min(first + GROUP, USERS)):
            person = User.objects.create(email=f"member{i:04d}@example.org", password=hashed)
            Membership.objects.create(workspace=ws, user=person, role=Role.EDITOR)
            members.append(person)
        access = workspace_access(user=chair, workspace_id=ws.pk)
        documents = []
        for d in range(DOCUMENTS):
            body = f"Minutes of meeting {n}.{d}\n\nItems: budget, rota, minutes.\n".encode()
            version = document_upload(
                actor=chair,
                access=access,
                uploaded=SimpleUploadedFile(f"minutes-{d:02d}.txt", body, "text/plain"),
            )
            documents.append(str(version.document_id))
        for person in members:
            # A session made as Django's test client signs someone in: used by those whom the
            # sign-in form turns away with a 429 (the limit on sign-ins from one address).
            browser = Client()
            browser.force_login(person)
            people.append(
                {
                    "email": person.email,
                    "token": token_create(actor=person, name="load", scope=TokenScope.WRITE).secret,
                    "session": browser.cookies[settings.SESSION_COOKIE_NAME].value,
                    "workspace": str(ws.pk),
                    "documents": documents,
                }
            )
    out.write_text(
        json.dumps(
            {
                "password": password,
                "session_cookie": settings.SESSION_COOKIE_NAME,
                "people": people,
            }
        )
    )


# --- The load (a child process: Locust patches the standard library for gevent) --------------


def load(url: str, world_path: Path, out: Path) -> None:
    import gevent
    import gevent.event
    import websocket
    from locust import FastHttpUser, between, task
    from locust.env import Environment

    world = json.loads(world_path.read_text())
    people = list(world["people"])
    sockets = {"opened": 0, "failed": 0, "events": 0, "closed early": 0, "sign-ins limited": 0}
    done = gevent.event.Event()
    # Signing in and opening the socket happen once, mostly while people are still arriving:
    # kept apart from the steady load's figures (which start once everyone has), over the run.
    once: dict[str, list[float]] = {name: [] for name in ONCE}
    once_failed: dict[str, int] = dict.fromkeys(ONCE, 0)
    # Why each of those failed, kept over the run (Locust's own errors start again with the
    # steady load's figures).
    once_reasons: dict[tuple[str, str], int] = {}

    def note(name: str, response_time: float, exception: Any = None, **_: Any) -> None:
        if name in once:
            once[name].append(response_time)
            if exception is not None:
                once_failed[name] += 1
                reason = (name, str(exception)[:200])
                once_reasons[reason] = once_reasons.get(reason, 0) + 1

    class Member(FastHttpUser):  # type: ignore[misc]
        host = url
        wait_time = between(*WAIT)

        def on_start(self) -> None:
            self.person = people.pop()
            self.ws = self.person["workspace"]
            self.number = 0
            page = self.client.get("/accounts/login/", name="sign in (form)")
            token = page.text.split('name="csrfmiddlewaretoken" value="', 1)[-1].split('"', 1)[0]
            with self.client.post(
                "/accounts/login/",
                data={
                    "login": self.person["email"],
                    "password": world["password"],
                    "csrfmiddlewaretoken": token,
                },
                headers={"Referer": url + "/accounts/login/"},
                name="sign in (post)",
                allow_redirects=False,
                catch_response=True,
            ) as answer:
                if answer.status_code == 429:
                    # Turned away by the limit on sign-ins from one address: not an error of
                    # the load; this person carries the session made at seeding instead.
                    answer.success()
                    sockets["sign-ins limited"] += 1
                    self.client.cookiejar.set_cookie(
                        session_cookie(world["session_cookie"], self.person["session"])
                    )
                elif answer.status_code not in (302, 303):
                    answer.failure(f"sign-in answered {answer.status_code}: {problem(answer.text)}")
            self.socket_greenlet = gevent.spawn(self.live)

        def live(self) -> None:
            started = time.perf_counter()
            target = url.replace("http://", "ws://") + f"/ws/w/{self.ws}/"
            try:
                sock = websocket.create_connection(
                    target, header=[f"Authorization: Bearer {self.person['token']}"], timeout=30
                )
                sock.recv()  # hello
                failure: Exception | None = None
            except Exception as exc:
                failure = exc
            sockets["failed" if failure else "opened"] += 1
            self.environment.events.request.fire(
                request_type="WS",
                name="live socket (open)",
                response_time=(time.perf_counter() - started) * 1000,
                response_length=0,
                exception=failure,
            )
            if failure:
                return
            sock.settimeout(None)
            try:
                while not done.is_set():
                    if sock.recv():
                        sockets["events"] += 1
            except Exception:
                if not done.is_set():
                    sockets["closed early"] += 1
            finally:
                with contextlib.suppress(Exception):
                    sock.close()

        def page(self, path: str, name: str) -> None:
            """A page for someone signed in: a 200, not a way round to the sign-in form."""
            with self.client.get(
                path, name=name, allow_redirects=False, catch_response=True
            ) as answer:
                if answer.status_code != 200:
                    answer.failure(f"answered {answer.status_code}")

        def document(self) -> str:
            return str(random.choice(self.person["documents"]))

        @task(WEIGHTS["workspace page"])
        def workspace_page(self) -> None:
            self.page(f"/w/{self.ws}/", "workspace page")

        @task(WEIGHTS["document page"])
        def document_page(self) -> None:
            self.page(f"/w/{self.ws}/d/{self.document()}/", "document page")

        @task(WEIGHTS["preview fragment"])
        def preview(self) -> None:
            self.page(f"/w/{self.ws}/d/{self.document()}/v/1/preview/", "preview fragment")

        @task(WEIGHTS["search"])
        def search(self) -> None:
            self.page("/search/?q=minutes", "search")

        @task(WEIGHTS["comment (API)"])
        def comment(self) -> None:
            self.number += 1
            self.client.post(
                f"/api/v1/workspaces/{self.ws}/documents/{self.document()}/comments",
                json={"body": f"Point {self.number} from {self.person['email']}"},
                headers={"Authorization": f"Bearer {self.person['token']}"},
                name="comment (API)",
            )

        @task(WEIGHTS["upload (API)"])
        def upload(self) -> None:
            self.number += 1
            boundary = secrets.token_hex(8)
            name = f"note-{secrets.token_hex(4)}.txt"
            body = (
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                    f'filename="{name}"\r\nContent-Type: text/plain\r\n\r\n'
                ).encode()
                + secrets.token_bytes(2048).hex().encode()
                + f"\r\n--{boundary}--\r\n".encode()
            )
            self.client.post(
                f"/api/v1/workspaces/{self.ws}/documents",
                data=body,
                headers={
                    "Authorization": f"Bearer {self.person['token']}",
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                },
                name="upload (API)",
            )

    env = Environment(user_classes=[Member], host=url)
    env.events.request.add_listener(note)
    runner = env.create_local_runner()
    spawn_rate = max(1.0, USERS / 60)  # everyone started within about a minute
    runner.start(USERS, spawn_rate=spawn_rate)
    while runner.user_count < USERS and runner.state != "stopped":
        gevent.sleep(0.5)
    env.stats.reset_all()  # the figures are for the steady load, sign-ins and ramp-up aside
    started = time.monotonic()
    gevent.sleep(SECONDS)
    elapsed = time.monotonic() - started
    rows = []
    for entry in sorted(env.stats.entries.values(), key=lambda e: e.name):
        if entry.name in once:
            continue
        rows.append(
            {
                "name": entry.name,
                "requests": entry.num_requests,
                "failures": entry.num_failures,
                "per_second": entry.num_requests / elapsed,
                "p50": entry.get_response_time_percentile(0.5),
                "p95": entry.get_response_time_percentile(0.95),
                "p99": entry.get_response_time_percentile(0.99),
            }
        )
    errors = sorted(
        (
            {"name": e.name, "error": str(e.error)[:200], "count": e.occurrences}
            for e in env.stats.errors.values()
            if e.name not in once
        ),
        key=lambda e: -int(e["count"]),
    )
    errors += sorted(
        (
            {"name": name, "error": reason, "count": count}
            for (name, reason), count in once_reasons.items()
        ),
        key=lambda e: -int(e["count"]),
    )
    total = env.stats.total
    done.set()
    runner.quit()
    setup = [
        {
            "name": name,
            "requests": len(times),
            "failures": once_failed[name],
            "p50": percentile(times, 50),
            "p95": percentile(times, 95),
            "p99": percentile(times, 99),
        }
        for name, times in once.items()
    ]
    out.write_text(
        json.dumps(
            {
                "rows": rows,
                "once": setup,
                "errors": errors[:10] + [e for e in errors[10:] if e["name"] in once],
                "total": {
                    "requests": total.num_requests,
                    "failures": total.num_failures,
                    "per_second": total.num_requests / elapsed,
                },
                "seconds": elapsed,
                "sockets": sockets,
            }
        )
    )


# --- The parent: targets up, seeded, loaded, measured, down ----------------------------------


def child(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "bench.topology_load", *args], env=env, cwd=REPO, check=True
    )


def run_load(env: dict[str, str], url: str, world: Path, out: Path) -> dict[str, Any]:
    child(env, "--load", url, str(world), str(out))
    return dict(json.loads(out.read_text()))


@contextlib.contextmanager
def embedded(base: Path, config: Config) -> Iterator[tuple[str, dict[str, str], int]]:
    data_dir = base / "embedded"
    data_dir.mkdir()
    env = server_environment(config, data_dir, "")
    commonroom(env, "migrate", "--noinput", "-v", "0")
    with Server(env, data_dir / "serve.log", worker=True) as server:
        yield server.url, env, server.pid


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def render(results: list[dict[str, Any]], notes: list[str]) -> str:
    info = machine()
    weights = ", ".join(f"{name} {w}" for name, w in WEIGHTS.items())
    lines = [
        "## The topology under load: a meeting day through nginx",
        "",
        f"{info.date}, {info.cpus} CPUs ({info.cpu_model}); load average at the end "
        f"{load_average()}. {USERS:,} simulated people (Locust, headless, on the same "
        f"machine), in teams of {GROUP} each with a workspace of {DOCUMENTS} documents, each "
        f"person signed in once through the sign-in form and holding their workspace's live "
        f"socket, for {SECONDS:g} s after all had started; {WAIT[0]:g} to {WAIT[1]:g} s "
        f"between actions, weighted {weights}. The topology is "
        "`scripts/topology.sh` (nginx, two app processes, two workers, moto's S3, the machine's "
        "PostgreSQL and Redis); the reference is one `commonroom serve` on SQLite, the default, "
        "under the same load in the same run. Reproduce: `make bench` (or "
        "`python -m bench.topology_load`; `BENCH_LOAD_USERS`, `BENCH_LOAD_SECONDS`, "
        "`BENCH_LOAD_GROUP`, `BENCH_LOAD_WAIT`).",
        "",
    ]
    for r in results:
        t = r["total"]
        s = r["sockets"]
        lines += [
            f"### {r['label']}",
            "",
            f"{t['requests']:,} requests in {r['seconds']:,.0f} s, **{t['per_second']:,.1f}/s**, "
            f"**{t['failures']:,} error{'' if t['failures'] == 1 else 's'}**. "
            f"Live sockets: {s['opened']:,} opened, "
            f"{s['failed']:,} refused, {s['closed early']:,} closed early, {s['events']:,} "
            f"events received. Sign-ins turned away by the limit on one address (429, counted "
            f"in the sign-in figures; those people used a session made at seeding): "
            f"{s['sign-ins limited']:,}.",
            "",
            "| Request | Requests | Requests/s | p50 | p95 | p99 | Errors |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for row in r["rows"]:
            lines.append(
                f"| {row['name']} | {row['requests']:,} | {row['per_second']:,.1f} "
                f"| {fmt(row['p50'])} | {fmt(row['p95'])} | {fmt(row['p99'])} "
                f"| {row['failures']:,} |"
            )
        lines += [
            "",
            "| Once per person, over the whole run | Count | p50 | p95 | p99 | Errors |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for row in r["once"]:
            lines.append(
                f"| {row['name']} | {row['requests']:,} | {fmt(row['p50'])} "
                f"| {fmt(row['p95'])} | {fmt(row['p99'])} | {row['failures']:,} |"
            )
        lines += ["", "| Process | Peak resident memory |", "|---|---:|"]
        for name, kib in r["peaks"]:
            lines.append(f"| {name} | {kib / 1024:,.0f} MiB |")
        lines.append("")
        for e in r["errors"]:
            lines.append(f"- {e['count']:,}{TIMES} {e['name']}: {e['error']}")
        if r["errors"]:
            lines.append("")
    lines += [*notes, ""] if notes else []
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--seed":
        seed(Path(sys.argv[2]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--load":
        load(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
        return
    config = Config.from_env()
    config.base_dir.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="topology-load-", dir=config.base_dir))
    results: list[dict[str, Any]] = []
    notes: list[str] = []
    pg_url = config.postgres_url or DEFAULT_PG
    try:
        why_not = unavailable(pg_url)
        if "topology" not in TARGETS:
            notes.append("The topology was not asked for (`BENCH_LOAD_TARGETS`).")
        elif why_not:
            notes.append(why_not)
        else:
            step("topology up")
            with topology(base, pg_url, "loadbench") as up:
                step(f"seeding {USERS} people (database {up.database})")
                child(up.env, "--seed", str(base / "topology-world.json"))
                step(f"load through nginx: {USERS} people, {SECONDS:g} s")
                figures = run_load(
                    up.env, up.url, base / "topology-world.json", base / "topology.json"
                )
                figures["peaks"] = peaks(up.run_dir)
                figures["label"] = "Topology: nginx, 2 app processes, 2 workers, PostgreSQL"
                results.append(figures)
        if "embedded" not in TARGETS:
            notes.append("The embedded reference was not asked for (`BENCH_LOAD_TARGETS`).")
        else:
            step("embedded reference: one `commonroom serve` on SQLite")
            with embedded(base, config) as (url, env, pid):
                child(env, "--seed", str(base / "embedded-world.json"))
                step(f"load: {USERS} people, {SECONDS:g} s")
                figures = run_load(env, url, base / "embedded-world.json", base / "embedded.json")
                peak = [("commonroom serve", status_kib(pid, "VmHWM"))]
                peak += [
                    (f"child `{command_of(k)}`", status_kib(k, "VmHWM")) for k in children_of(pid)
                ]
                figures["peaks"] = peak
                figures["label"] = "Reference: one `commonroom serve`, SQLite (the default)"
                results.append(figures)
    finally:
        if KEEP:
            step(f"kept for reading: {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    finish(results, notes, config)


def finish(results: list[dict[str, Any]], notes: list[str], config: Config) -> None:
    text = render(results, notes)
    publish(text, "topology_load", config.output, step)


if __name__ == "__main__":
    main()
