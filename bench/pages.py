"""Page benchmark: SQL queries per page (in this process, Django's test client) and requests/s
with p50/p99 latency under a loopback load generator against the real server, signed in with a
session cookie obtained through the real sign-in form.

Every page is fetched once before and once after the load and must answer 200 with the expected
content, so a redirect to the sign-in page can never pass for a fast page.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class QueryCount:
    queries: int
    sql_ms: float
    by_table: dict[str, int]


@dataclass(frozen=True)
class LoadResult:
    generator: str
    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?([a-z0-9_]+)"?', re.IGNORECASE)


def count_queries(*, email: str | None, path: str, must_contain: str) -> QueryCount:
    """Queries of one GET of ``path`` by ``email`` (None: someone not signed in), after one
    warm-up GET (call after setup)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    if email is not None:
        client.force_login(get_user_model().objects.get(email=email))
    client.get(path)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    body = response.content.decode()
    if response.status_code != 200 or must_contain not in body:
        raise SystemExit(f"{path} answered {response.status_code} without {must_contain!r}")
    tables: Counter[str] = Counter()
    for q in ctx.captured_queries:
        match = _TABLE.search(q["sql"])
        tables[match.group(1) if match else q["sql"].split()[0].upper()] += 1
    return QueryCount(
        queries=len(ctx.captured_queries),
        sql_ms=sum(float(q["time"]) for q in ctx.captured_queries) * 1000,
        by_table=dict(tables.most_common()),
    )


def sign_in(base_url: str, email: str, password: str) -> dict[str, str]:
    """Post the sign-in form as a browser would; the session and CSRF cookies."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        page = client.get("/accounts/login/")
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if match is None:
            raise SystemExit("no CSRF token on the sign-in page")
        answer = client.post(
            "/accounts/login/",
            data={"login": email, "password": password, "csrfmiddlewaretoken": match.group(1)},
            headers={"Referer": base_url + "/accounts/login/"},
        )
        if answer.status_code != 302 or "sessionid" not in client.cookies:
            raise SystemExit(f"sign-in failed: {answer.status_code}")
        return {name: value for name, value in client.cookies.items() if value}


def fetch(url: str, cookies: dict[str, str], must_contain: str) -> int:
    """GET ``url`` signed in; its size in bytes. Anything but 200 with the content stops the run."""
    response = httpx.get(url, cookies=cookies, timeout=60, follow_redirects=False)
    if response.status_code != 200 or must_contain not in response.text:
        raise SystemExit(f"{url} answered {response.status_code} without {must_contain!r}")
    return len(response.content)


@dataclass(frozen=True)
class Sequential:
    requests: int
    cpu_ms: float
    wall_ms: float


def sequential(
    cpu_seconds: Callable[[], float],
    url: str,
    cookies: dict[str, str],
    must_contain: str,
    *,
    at_least: int = 5,
    seconds: float = 3.0,
) -> Sequential:
    """Requests one after the other (none in flight when the clock stops): the server's CPU and
    the wall time per request. CPU moves far less than latency when other work shares the
    machine."""
    count = 0
    before = cpu_seconds()
    started = time.perf_counter()
    while count < at_least or (time.perf_counter() - started < seconds and count < 50):
        fetch(url, cookies, must_contain)
        count += 1
    wall = time.perf_counter() - started
    return Sequential(count, (cpu_seconds() - before) * 1000 / count, wall * 1000 / count)


def _percentile(sorted_ms: list[float], p: float) -> float:
    if not sorted_ms:
        return 0.0
    rank = max(1, round(p / 100 * len(sorted_ms)))
    return sorted_ms[min(rank, len(sorted_ms)) - 1]


# --- wrk -------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk_version() -> str:
    if shutil.which("wrk") is None:
        return ""
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    first = (out.stdout + out.stderr).splitlines()[:1]
    match = re.search(r"wrk\s+(\S+)", first[0]) if first else None
    return f"wrk {match.group(1)}" if match else "wrk"


def run_wrk(url: str, cookies: dict[str, str], connections: int, seconds: float) -> LoadResult:
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    header = ["-H", f"Cookie: {cookie}"] if cookie else []
    cmd = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "60s",
        "--latency",
        *header,
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    if total is None or p50 is None or p99 is None:
        raise SystemExit(f"could not read wrk's output:\n{out}")
    errors = 0
    if bad := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(bad.group(1))
    socket_errors = r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
    if sock := re.search(socket_errors, out):
        errors += sum(int(n) for n in sock.groups())
    return LoadResult(
        generator="wrk",
        connections=connections,
        requests=int(total.group(1)),
        seconds=_ms(total.group(2) + total.group(3)) / 1000,
        p50_ms=_ms(p50.group(1)),
        p99_ms=_ms(p99.group(1)),
        errors=errors,
    )


# --- Python (asyncio + httpx), when wrk is not installed --------------------------------------


async def _python_load(
    url: str, cookies: dict[str, str], connections: int, seconds: float
) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(cookies=cookies, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    response = await client.get(url)
                    await response.aread()
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append((time.perf_counter() - t0) * 1000)
                if response.status_code != 200:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return LoadResult(
        generator="python",
        connections=connections,
        requests=len(latencies),
        seconds=elapsed,
        p50_ms=_percentile(latencies, 50),
        p99_ms=_percentile(latencies, 99),
        errors=errors,
    )


def run_python(url: str, cookies: dict[str, str], connections: int, seconds: float) -> LoadResult:
    return asyncio.run(_python_load(url, cookies, connections, seconds))


def load(
    generator: str, url: str, cookies: dict[str, str], connections: int, seconds: float
) -> LoadResult:
    if generator == "wrk":
        return run_wrk(url, cookies, connections, seconds)
    return run_python(url, cookies, connections, seconds)
