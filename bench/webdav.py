"""``python -m bench.webdav`` (run by ``make bench``): the WebDAV endpoint (issue 14) beside
other WebDAV servers, in one run, on loopback, written to docs/benchmarks.md and printed.

The servers, each with HTTP Basic asked on every request and its files on the disk being
measured (under ``BENCH_DIR``):

- **Commonroom** ``/dav/``: ``commonroom serve --no-worker`` on the embedded SQLite (or
  ``BENCH_POSTGRES_URL``), signed in with an email and an API token;
- **WsgiDAV**'s plain filesystem provider, served as ours is (uvicorn, a2wsgi's threads, the same
  block size: ``bench.webdav_reference``), so the difference is what our provider does (the
  database, hashing, the blob store, versions, audit);
- **Apache httpd**'s ``mod_dav_fs``, where Debian's ``apache2`` is installed: started by this
  run on a loopback port with a configuration of its own, as ``nobody`` when the run is root
  (never privileged); when it is missing or will not start, the table says why.

What each is asked, the same requests in the same order (a client with keep-alive, as Word and
rclone keep their connection):

1. ``PUT`` of a ``BENCH_WEBDAV_MB`` MiB file (default 200), ``BENCH_WEBDAV_RUNS`` times (3), each
   time other bytes (its first 16 differ) under a new name, then ``GET`` of it back (its SHA-256
   checked): MB/s, the median;
2. ``BENCH_WEBDAV_PUTS`` (1,000) ``PUT`` s of 4 KiB, one after another, each a new file in a new
   folder: operations per second;
3. ``PROPFIND Depth: 1`` (all properties) of a folder of ``BENCH_WEBDAV_LISTED`` (5,000)
   documents (seeded beforehand: rows for Commonroom, files for the others), ``RUNS`` times
   after one unmeasured: seconds, the median; the answer must list every one.

The ratio (Commonroom ÷ the other) is the figure that travels: below 1 for MB/s and ops/s, or
above 1 for seconds, Commonroom is slower. Nothing here fails on timing; the run stops only when
a server answers wrongly.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import pwd
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.config import MIB, REPO, Config
from bench.machine import filesystem_of, load_average, machine, same_filesystem
from bench.report import TIMES, write_section
from bench.server import Server, commonroom, free_port, server_environment
from bench.upload import MB

BIG_MIB = max(1, int(os.environ.get("BENCH_WEBDAV_MB", "") or 200))
RUNS = max(1, int(os.environ.get("BENCH_WEBDAV_RUNS", "") or 3))
SMALL_PUTS = max(1, int(os.environ.get("BENCH_WEBDAV_PUTS", "") or 1000))
SMALL_BYTES = 4096
LISTED = max(1, int(os.environ.get("BENCH_WEBDAV_LISTED", "") or 5000))
CHUNK = MIB
USER = "bench@example.org"
APACHE = "/usr/sbin/apache2"
APACHE_MODULES = Path("/usr/lib/apache2/modules")


def step(message: str) -> None:
    print(f"[webdav] {message}", flush=True)


@dataclass
class Target:
    """One server as the workloads ask it: where files go, and who signs in."""

    name: str
    detail: str
    collection: str  # absolute URL of a collection the run may fill, ending in "/"
    listed: str  # absolute URL of the folder of LISTED documents, ending in "/"
    auth: tuple[str, str]


@dataclass
class Figures:
    put_mb_s: list[float] = field(default_factory=list)
    get_mb_s: list[float] = field(default_factory=list)
    small_seconds: float = 0.0
    small_cpu_seconds: float | None = None  # the server process's CPU time over the small PUTs
    propfind_seconds: list[float] = field(default_factory=list)

    @property
    def put(self) -> float:
        return statistics.median(self.put_mb_s)

    @property
    def get(self) -> float:
        return statistics.median(self.get_mb_s)

    @property
    def small_ops(self) -> float:
        return SMALL_PUTS / self.small_seconds

    @property
    def propfind(self) -> float:
        return statistics.median(self.propfind_seconds)


class WrongAnswer(SystemExit):
    pass


def expect(response: httpx.Response, *statuses: int) -> httpx.Response:
    if response.status_code not in statuses:
        raise WrongAnswer(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code}, not {statuses}: {response.text[:300]}"
        )
    return response


# --- The workloads ---------------------------------------------------------------------------


def big_file(work: Path) -> Path:
    path = work / "big.bin"
    with path.open("wb") as f:
        for _ in range(BIG_MIB):
            f.write(os.urandom(MIB))
    return path


def body(path: Path, header: bytes) -> Iterator[bytes]:
    """The file's bytes with its first 16 replaced by ``header``: other bytes, same size."""
    with path.open("rb") as f:
        first = f.read(CHUNK)
        yield header.ljust(16)[:16] + first[16:]
        while chunk := f.read(CHUNK):
            yield chunk


def digest_of(path: Path, header: bytes) -> str:
    h = hashlib.sha256()
    for chunk in body(path, header):
        h.update(chunk)
    return h.hexdigest()


def measure(target: Target, big: Path, cpu: Callable[[], float] | None = None) -> Figures:
    """The workloads against ``target``; ``cpu``: the server's CPU seconds so far, if known."""
    figures = Figures()
    size = big.stat().st_size
    with httpx.Client(auth=target.auth, timeout=600) as client:
        # Warm-up: a connection, a small PUT, a listing.
        expect(client.put(target.collection + "warm-up.txt", content=b"warm"), 201, 204)
        expect(client.request("PROPFIND", target.collection, headers={"Depth": "1"}), 207)

        for run in range(1, RUNS + 1):
            header = f"{target.name[:8]}-{run}".encode()
            url = target.collection + f"big-{run}.bin"
            started = time.perf_counter()
            expect(
                client.put(url, content=body(big, header), headers={"Content-Length": str(size)}),
                201,
                204,
            )
            figures.put_mb_s.append(size / MB / (time.perf_counter() - started))
            h = hashlib.sha256()
            received = 0
            started = time.perf_counter()
            with client.stream("GET", url) as response:
                expect(response, 200)
                for chunk in response.iter_bytes(CHUNK):
                    h.update(chunk)
                    received += len(chunk)
            figures.get_mb_s.append(size / MB / (time.perf_counter() - started))
            if received != size or h.hexdigest() != digest_of(big, header):
                raise WrongAnswer(f"{target.name}: {url} came back altered")
            step(
                f"  {target.name}: PUT {figures.put_mb_s[-1]:,.0f} MB/s, "
                f"GET {figures.get_mb_s[-1]:,.0f} MB/s"
            )

        small = target.collection + "small/"
        expect(client.request("MKCOL", small), 201)
        rng = random.Random(14)
        contents = [rng.randbytes(SMALL_BYTES) for _ in range(SMALL_PUTS)]
        cpu_before = cpu() if cpu is not None else 0.0
        started = time.perf_counter()
        for n, content in enumerate(contents, 1):
            expect(client.put(f"{small}note-{n:04d}.txt", content=content), 201, 204)
        figures.small_seconds = time.perf_counter() - started
        if cpu is not None:
            figures.small_cpu_seconds = cpu() - cpu_before
        step(f"  {target.name}: {SMALL_PUTS:,} PUTs of 4 KiB, {figures.small_ops:,.0f} ops/s")

        for run in range(RUNS + 1):
            started = time.perf_counter()
            response = expect(
                client.request("PROPFIND", target.listed, headers={"Depth": "1"}), 207
            )
            seconds = time.perf_counter() - started
            found = len(re.findall(rb"<(?:[A-Za-z0-9]+:)?response[\s>]", response.content))
            if found != LISTED + 1:
                raise WrongAnswer(f"{target.name}: the listing had {found - 1}, not {LISTED}")
            if run:
                figures.propfind_seconds.append(seconds)
        step(f"  {target.name}: PROPFIND Depth 1 of {LISTED:,}, {figures.propfind:,.2f} s")
    return figures


# --- The servers -----------------------------------------------------------------------------


def seed_commonroom(env: dict[str, str]) -> tuple[str, str]:
    """In this process, with the server's settings: a person with a write API token, their
    workspace, and in it a folder of LISTED documents (rows made in bulk, as ``bench.seed``
    does, all of one stored 4 KiB blob). Returns (token, workspace name)."""
    for name in list(os.environ):
        if name not in env:
            del os.environ[name]
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connections, transaction

    from commonroom.accounts.models import TokenScope
    from commonroom.accounts.services import token_create
    from commonroom.documents.models import Document, Version
    from commonroom.documents.services import blob_store, folder_create
    from commonroom.workspaces.selectors import workspace_access
    from commonroom.workspaces.services import workspace_create

    person = get_user_model().objects.create_user(
        email=USER, password=secrets.token_urlsafe(16), full_name="Bench Mark"
    )
    secret = token_create(actor=person, name="benchmark", scope=TokenScope.WRITE).secret
    ws = workspace_create(actor=person, name="WebDAV benchmark")
    access = workspace_access(user=person, workspace_id=ws.pk)
    folder = folder_create(actor=person, access=access, name="listed")
    blob = blob_store(uploaded=SimpleUploadedFile("note.txt", random.randbytes(SMALL_BYTES)))
    with transaction.atomic():
        docs = [
            Document(
                workspace=ws,
                folder=folder,
                name=f"doc-{n:04d}.txt",
                created_by=person,
                current_version_number=1,
            )
            for n in range(1, LISTED + 1)
        ]
        Document.objects.bulk_create(docs, batch_size=500)
        Version.objects.bulk_create(
            [
                Version(
                    document=doc,
                    number=1,
                    blob=blob,
                    filename=doc.name,
                    content_type="text/plain",
                    size=blob.size,
                    author=person,
                )
                for doc in docs
            ],
            batch_size=500,
        )
    connections.close_all()
    return secret, ws.name


def seed_files(root: Path) -> None:
    listed = root / "listed"
    listed.mkdir(parents=True)
    rng = random.Random(5)
    for n in range(1, LISTED + 1):
        (listed / f"doc-{n:04d}.txt").write_bytes(rng.randbytes(SMALL_BYTES))


def wait_up(url: str, auth: tuple[str, str], process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"it exited at start: {log.read_text(errors='replace')[-500:]}")
        with contextlib.suppress(httpx.HTTPError):
            answer = httpx.request("PROPFIND", url, headers={"Depth": "0"}, auth=auth, timeout=2)
            if answer.status_code == 207:
                return
        time.sleep(0.2)
    raise RuntimeError(f"it did not answer within 30 s: {log.read_text(errors='replace')[-500:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@contextlib.contextmanager
def wsgidav_server(work: Path) -> Iterator[Target]:
    import wsgidav

    root = work / "wsgidav-root"
    seed_files(root)
    password = secrets.token_urlsafe(16)
    port = free_port()
    log = work / "wsgidav.log"
    env = {
        **os.environ,
        "BENCH_DAV_ROOT": str(root),
        "BENCH_DAV_USER": USER,
        "BENCH_DAV_PASSWORD": password,
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.webdav_reference:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--lifespan",
                "off",
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/dav/"
    try:
        wait_up(url, (USER, password), process, log)
        yield Target(
            "WsgiDAV",
            f"WsgiDAV {wsgidav.__version__}, its FilesystemProvider, under uvicorn through a2wsgi",
            url,
            url + "listed/",
            (USER, password),
        )
    finally:
        stop(process)


APACHE_CONF = """\
ServerRoot "/usr/lib/apache2"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {run}/httpd.pid
DefaultRuntimeDir {run}
Mutex file:{run}
ErrorLog {logs}/error.log
LogLevel warn
LoadModule mpm_event_module modules/mod_mpm_event.so
LoadModule alias_module modules/mod_alias.so
LoadModule mime_module modules/mod_mime.so
LoadModule authn_core_module modules/mod_authn_core.so
LoadModule authn_file_module modules/mod_authn_file.so
LoadModule authz_core_module modules/mod_authz_core.so
LoadModule authz_user_module modules/mod_authz_user.so
LoadModule auth_basic_module modules/mod_auth_basic.so
LoadModule dav_module modules/mod_dav.so
LoadModule dav_fs_module modules/mod_dav_fs.so
TypesConfig /etc/mime.types
DavLockDB {run}/davlock
KeepAliveTimeout 30
Alias /dav/ "{root}/"
<Directory "{root}/">
  Dav On
  AuthType Basic
  AuthName "bench"
  AuthBasicProvider file
  AuthUserFile {htpasswd}
  Require valid-user
</Directory>
"""


def apache_missing() -> str:
    """Why Apache's mod_dav cannot be measured here, or "" when it can."""
    if not Path(APACHE).exists():
        return "Debian's `apache2` is not installed (`apt-get install apache2` adds it)"
    if not (APACHE_MODULES / "mod_dav_fs.so").exists():
        return f"`mod_dav_fs` is not in {APACHE_MODULES}"
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        return "the run is root and `setpriv` is missing, so Apache could not run unprivileged"
    return ""


def traversable_by_all(path: Path) -> bool:
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents])


@contextlib.contextmanager
def apache_server(config: Config) -> Iterator[Target]:
    """Apache on a loopback port with a configuration of its own, unprivileged: as ``nobody``
    when this run is root (so its files sit in a folder ``nobody`` can reach, on the same disk
    as the others'), else as whoever runs this."""
    base = config.base_dir.resolve()
    as_root = os.geteuid() == 0
    parent = base
    if as_root and not traversable_by_all(base):
        parent = Path(tempfile.gettempdir())
        if not traversable_by_all(parent) or not same_filesystem(parent, base):
            raise RuntimeError(
                f"running as root, Apache runs as nobody, who cannot reach {base}, and no "
                "other folder on its disk was found"
            )
    work = Path(tempfile.mkdtemp(prefix="webdav-apache-", dir=parent))
    try:
        root, run, logs = work / "root", work / "run", work / "logs"
        for folder in (root, run, logs):
            folder.mkdir()
        seed_files(root)
        password = secrets.token_urlsafe(16)
        sha = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()  # noqa: S324
        htpasswd = work / "htpasswd"
        htpasswd.write_text(f"{USER}:{{SHA}}{sha}\n")
        port = free_port()
        conf = work / "httpd.conf"
        conf.write_text(
            APACHE_CONF.format(port=port, run=run, logs=logs, root=root, htpasswd=htpasswd)
        )
        command = [APACHE, "-f", str(conf), "-DFOREGROUND"]
        if as_root:
            nobody = pwd.getpwnam("nobody")
            for dirpath, _dirs, files in os.walk(work):
                os.chown(dirpath, nobody.pw_uid, nobody.pw_gid)
                for name in files:
                    os.chown(os.path.join(dirpath, name), nobody.pw_uid, nobody.pw_gid)
            command = [
                "setpriv",
                f"--reuid={nobody.pw_uid}",
                f"--regid={nobody.pw_gid}",
                "--clear-groups",
                *command,
            ]
        log = work / "stdout.log"
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        version = subprocess.run([APACHE, "-v"], capture_output=True, text=True, check=False)
        found = re.search(r"Apache/[\d.]+", version.stdout)
        url = f"http://127.0.0.1:{port}/dav/"
        try:
            wait_up(url, (USER, password), process, logs / "error.log")
            yield Target(
                "Apache",
                f"{found[0] if found else 'Apache httpd'} (Debian), mod_dav_fs, event MPM"
                + (", as nobody" if as_root else ""),
                url,
                url + "listed/",
                (USER, password),
            )
        finally:
            stop(process)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- The run ---------------------------------------------------------------------------------


def main() -> None:
    config = Config.from_env()
    info = machine()
    config.base_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="webdav-", dir=config.base_dir))
    step(f"working in {work} on {filesystem_of(work)}")
    results: dict[str, Figures] = {}
    targets: dict[str, Target] = {}
    apache_note = apache_missing()
    database = "SQLite (embedded)"
    try:
        big = big_file(work)
        step(f"a {BIG_MIB} MiB file made")

        data_dir = work / "commonroom"
        data_dir.mkdir()
        with contextlib.ExitStack() as stack:
            database_url = ""
            if config.postgres_url:
                from bench.run import postgres_database

                database_url = stack.enter_context(postgres_database(config.postgres_url))
                database = "PostgreSQL"
            env = server_environment(config, data_dir, database_url)
            commonroom(env, "migrate", "--noinput", "-v", "0")
            step(f"seeding Commonroom: a folder of {LISTED:,} documents")
            secret, workspace = seed_commonroom(env)
            with Server(env, work / "commonroom.log") as server:
                collection = f"{server.url}/dav/{workspace.replace(' ', '%20')}/"
                target = Target(
                    "Commonroom",
                    f"`commonroom serve` (one process, {database}), `/dav/`",
                    collection,
                    collection + "listed/",
                    (USER, secret),
                )
                step("measuring Commonroom")
                targets["commonroom"] = target
                results["commonroom"] = measure(target, big, server.cpu_seconds)
        step("seeding and measuring WsgiDAV's filesystem provider")
        with wsgidav_server(work) as target:
            targets["wsgidav"], results["wsgidav"] = target, measure(target, big)
        if not apache_note:
            step("seeding and measuring Apache's mod_dav")
            try:
                with apache_server(config) as target:
                    targets["apache"], results["apache"] = target, measure(target, big)
            except RuntimeError as exc:
                apache_note = f"Apache would not start: {exc}"
        if apache_note:
            step(f"Apache's mod_dav is not measured: {apache_note}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = render(config, info, targets, results, apache_note)
    print()
    print(text)
    if config.output is not None:
        write_section(config.output, "webdav", text)
        step("figures written to docs/benchmarks.md")


def ratio(ours: float, theirs: float | None) -> str:
    if theirs is None or theirs <= 0:
        return "-"
    return f"**{ours / theirs:,.2f}{TIMES}**"


def render(
    config: Config,
    info: Any,
    targets: dict[str, Target],
    results: dict[str, Figures],
    apache_note: str,
) -> str:
    ours = results["commonroom"]
    others = [results.get("wsgidav"), results.get("apache")]
    measures = [
        (f"PUT of a {BIG_MIB} MiB file (MB/s, median of {RUNS})", "put", "{:,.0f}"),
        (f"GET of it back (MB/s, median of {RUNS})", "get", "{:,.0f}"),
        (f"{SMALL_PUTS:,} sequential PUTs of 4 KiB, new files (ops/s)", "small_ops", "{:,.0f}"),
        (
            f"PROPFIND Depth 1 of a folder of {LISTED:,} documents (s, median of {RUNS})",
            "propfind",
            "{:,.2f}",
        ),
    ]
    rows = []
    for label, attr, shape in measures:
        mine = getattr(ours, attr)
        theirs = [getattr(f, attr) if f is not None else None for f in others]
        rows.append(
            [
                label,
                shape.format(mine),
                *(shape.format(t) if t is not None else "-" for t in theirs),
                *(ratio(mine, t) for t in theirs),
            ]
        )
    cpu_note = ""
    if ours.small_cpu_seconds is not None:
        per_put = ours.small_cpu_seconds / SMALL_PUTS * 1000
        wall = ours.small_seconds / SMALL_PUTS * 1000
        cpu_note = (
            f" Over the small PUTs Commonroom's server process used {per_put:,.1f} ms of CPU "
            f"per PUT of the {wall:,.1f} ms each took: a small PUT is bound by the work of a "
            "whole upload in Python (41 SQL statements, pinned by "
            "`webdav/tests/test_put_queries.py`: the locks along its path, the blob's claim, "
            "the document, its version, the live event, following, the preview's rows, the "
            "search entry, the audit chain and the preview's task), not by the disk; where its "
            "time went before and after it was made cheaper is under the table."
        )
    servers = "; ".join(f"**{t.name}**: {t.detail}" for t in targets.values())
    lines = [
        "## WebDAV (issue 14): Commonroom's /dav/ beside WsgiDAV's filesystem provider and "
        "Apache's mod_dav",
        "",
        f"{info.date}, {info.describe()}, Python {info.python}; commit `{info.commit}`; load "
        f"average at the start {info.load_start}, at the end {load_average()}. Data on "
        f"{filesystem_of(config.base_dir)}. Reproduce: `make bench` (or `python -m "
        "bench.webdav`).",
        "",
        f"Servers, each on loopback with HTTP Basic checked on every request: {servers}."
        + (f" Apache's mod_dav is not measured: {apache_note}." if apache_note else ""),
        "",
        "One client with keep-alive asks each the same requests in the same order: each big "
        "file other bytes under a new name, then read back and its SHA-256 checked; the small "
        "PUTs each a new file in a new folder; the listing after one unmeasured, every document "
        "in it checked to be there. Commonroom's PUT is a whole upload (streamed to a scratch "
        "file and hashed, stored in the blob store, a document and its version and audit row "
        "written, a preview task queued), its listing reads the rows and the locks of the "
        "folder; the others write and list files. The ratio is Commonroom ÷ the other: below "
        f"1{TIMES} for MB/s and ops/s, above 1{TIMES} for seconds, Commonroom is slower. "
        "Nothing fails on timing." + cpu_note,
        "",
        "| What | Commonroom | WsgiDAV | Apache | Commonroom ÷ WsgiDAV | Commonroom ÷ Apache |",
        "|---|---:|---:|---:|---:|---:|",
        *(f"| {' | '.join(row)} |" for row in rows),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
