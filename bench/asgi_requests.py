"""``python -m bench.asgi_requests``: what a request costs the server outside its view, measured
in one process through the ASGI application uvicorn serves (``commonroom.asgi.application``:
the guards, Django's handler, the middleware chain), without uvicorn or the network.

It migrates a throw-away data directory (``COMMONROOM_DATA_DIR`` must name an empty or absent
one), seeds ``bench.small_uploads.seed()`` (a person with a write API token), then asks, one
request after another on one event loop:

- ``GET /api/v1/me`` with the bearer token: the least an API request does;
- ``GET /accounts/login/``, not signed in: the sign-in page, the pages' reference.

Each is asked ``BENCH_ASGI_WARM`` (default 50) times unmeasured, then in ``BENCH_ASGI_BLOCKS``
(default 8) blocks of ``BENCH_ASGI_REQUESTS`` (default 200); every answer is checked (200). It
prints, per request, the process's CPU (``time.process_time``: every thread of the process, so
the threads a request hops through count) of the lowest and the median block, and the Python
calls of one more block counted with ``sys.setprofile`` in every thread (``threading.setprofile``
too). ``BENCH_ASGI_PROFILE=1`` prints a pyinstrument profile of a block of each instead (of
the event loop's thread only: py-spy sees the others); ``BENCH_ASGI_ONLY=/me`` (or ``login``)
asks only the request whose label has it, for a profiler attached to the process.

Nothing is written into docs/benchmarks.md: the hand-written sections cite its output. Compare
two trees by running it in each (``PYTHONPATH`` naming the tree's ``src``), alternating.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

WARM = int(os.environ.get("BENCH_ASGI_WARM", "") or 50)
BLOCKS = int(os.environ.get("BENCH_ASGI_BLOCKS", "") or 8)
REQUESTS = int(os.environ.get("BENCH_ASGI_REQUESTS", "") or 200)


def scope_of(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def ask(application: Any, scope: dict[str, Any]) -> int:
    """One request through the application, as uvicorn hands it over: its status."""
    sent: list[dict[str, Any]] = []
    body_given = False
    forever: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def receive() -> dict[str, Any]:
        nonlocal body_given
        if not body_given:
            body_given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await forever  # the client stays: uvicorn's receive waits until it goes
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await application(dict(scope), receive, send)
    forever.cancel()
    return int(sent[0]["status"])


class Calls:
    """Python calls counted in every thread while entered."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def _profile(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            with self._lock:
                self.count += 1

    def __enter__(self) -> Calls:
        threading.setprofile(self._profile)
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonroom.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    from bench.small_uploads import seed

    token = seed()["token"]
    from commonroom.asgi import application, django_application

    threads = getattr(django_application, "threads", None)

    pages: dict[str, dict[str, Any]] = {
        "GET /api/v1/me (bearer token)": scope_of(
            "/api/v1/me", [(b"authorization", f"Bearer {token}".encode())]
        ),
        "GET /accounts/login/ (sign-in page)": scope_of("/accounts/login/", []),
    }
    if only := os.environ.get("BENCH_ASGI_ONLY", ""):
        pages = {label: scope for label, scope in pages.items() if only in label}
    profile = os.environ.get("BENCH_ASGI_PROFILE") == "1"

    async def run() -> None:
        for label, scope in pages.items():

            async def block(n: int, scope: dict[str, Any] = scope, label: str = label) -> None:
                for _ in range(n):
                    status = await ask(application, scope)
                    if status != 200:
                        raise SystemExit(f"{label}: answered {status}")

            await block(WARM)
            if profile:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.0005, async_mode="disabled")
                profiler.start()
                await block(REQUESTS)
                profiler.stop()
                print(profiler.output_text(unicode=False, color=False, show_all=False))
                continue
            per_request: list[float] = []
            for _ in range(BLOCKS):
                started = time.process_time()
                await block(REQUESTS)
                per_request.append((time.process_time() - started) / REQUESTS * 1000)
                if os.environ.get("BENCH_ASGI_EACH"):
                    print(f"  block {per_request[-1]:.3f} ms", flush=True)
            # Threads kept between requests: those started before the counting would escape
            # it, those started during it would go on counting.
            if threads is not None:
                threads.drop_idle()
            with Calls() as calls:
                await block(REQUESTS)
            if threads is not None:
                threads.drop_idle()
            report: Callable[[float], str] = lambda v: f"{v:.3f}"  # noqa: E731
            print(
                f"{label}: CPU per request lowest {report(min(per_request))} ms, "
                f"median {report(statistics.median(per_request))} ms "
                f"({BLOCKS} blocks of {REQUESTS}); "
                f"Python calls per request {calls.count / REQUESTS:,.0f}",
                flush=True,
            )

    asyncio.run(run())


if __name__ == "__main__":
    main()
