"""``commonroom serve``: uvicorn (ASGI) on 127.0.0.1:8000, with the background-task worker
(``commonroom worker``, which also runs the scheduled jobs: ``core.scheduling``).

Several server processes (``--workers N``), and production, need the shared cache (``REDIS_URL``):
without it serve refuses to start, with a sentence (``core.shared_state``).

A worker that dies is started again after a short back-off (``WorkerSupervisor``); the new one
gives back the dead one's task (``commonroom worker``). However serve ends (Ctrl+C, SIGTERM from
a service manager, an error), it stops the worker too, giving it longer than a preview may take
to finish its task (``COMMONROOM_PREVIEW_TIMEOUT`` + ``WORKER_GRACE_EXTRA``) before a kill, and
a SIGTERM or Ctrl+C stop exits 0. Killed itself (SIGKILL), serve takes its worker and uvicorn's
worker processes with it: each asked the kernel for a signal when serve dies
(``core.process.stop_with_serve``: SIGKILL for the worker, SIGTERM for uvicorn's), and a
converter dies with its worker, so a restart never finds the old ones still running.

Everything the server makes is its owner's alone (the umask set in settings); a data directory
that other accounts may enter or read (made so by hand, or by an older version) is named in a
one-line warning at the start, with its mode: its database holds everyone's sign-in sessions.

uvicorn does not rewrite the client's address from proxy headers: Django decides it, from
``COMMONROOM_TRUSTED_PROXIES``, for every use (``core.request_info``; decision 23).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from importlib import import_module
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from uvicorn.config import LOGGING_CONFIG

from commonroom.core.process import SERVE_PID_ENV
from commonroom.core.shared_state import shared_state_refusal
from commonroom.core.startup import serve_start

log = logging.getLogger(__name__)

# How long the background-task worker has to finish its task when serve stops, before a kill:
# longer than a preview may take, by this much (copying the file in, storing the result).
WORKER_GRACE_EXTRA = 15.0
WORKER_GRACE_SECONDS = 5.0  # stop_process's default, for processes with no task in hand
# A worker that dies is started again after this back-off, doubled each time it dies within
# BACKOFF_RESET seconds of its start, up to BACKOFF_MAX.
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
BACKOFF_RESET = 60.0


def data_dir_warning(path: Path) -> str | None:
    """One line when accounts other than the owner may read or enter the data directory."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    if not mode & 0o077:
        return None
    return (
        f"The data directory {path} is open to other accounts (mode {mode:04o}); it holds the "
        f"database and everyone's sign-in sessions: make it the owner's alone (chmod 700 {path})."
    )


def worker_grace() -> float:
    return float(settings.COMMONROOM_PREVIEW_TIMEOUT) + WORKER_GRACE_EXTRA


class Command(BaseCommand):
    help = (
        "Serve Commonroom with uvicorn and run the background-task worker (and the scheduled "
        "jobs) beside it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
        parser.add_argument(
            "--no-worker", action="store_true", help="do not start the background-task worker"
        )
        # Gone: which proxies are believed is COMMONROOM_TRUSTED_PROXIES, decided in Django for
        # every server and every use (core/request_info.py). Kept only to say so.
        parser.add_argument("--forwarded-allow-ips", help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["forwarded_allow_ips"] is not None:
            raise CommandError(
                "serve no longer takes --forwarded-allow-ips: name your reverse proxies in "
                "COMMONROOM_TRUSTED_PROXIES (addresses or networks, comma-separated)."
            )
        refusal = shared_state_refusal(workers=options["workers"])
        if refusal is not None:
            raise CommandError(refusal)
        if (exposed := data_dir_warning(Path(settings.DATA_DIR))) is not None:
            log.warning(exposed)
        serve_start()  # each app's startup.py: the upload temporaries a crash left, ...
        if settings.PRODUCTION:
            call_command("collectstatic", interactive=False, verbosity=0)
        # uvicorn catches SIGTERM and SIGINT, shuts down, then raises the signal again with the
        # handler it found: with the default one the process would die at once and never stop
        # its worker. Ours turns it into SystemExit(0) (a stop asked for is a clean stop), so
        # the ``finally`` below always runs.
        previous = {sig: signal.signal(sig, _exit_on_signal) for sig in STOP_SIGNALS}
        # The processes started from here on (the worker, uvicorn's workers) stop when serve dies.
        os.environ[SERVE_PID_ENV] = str(os.getpid())
        worker = None
        try:
            if not options["no_worker"]:
                worker = WorkerSupervisor([sys.executable, "-m", "commonroom", "worker"])
                worker.start()
            if options["workers"] == 1:
                # This process serves: load the application now (which settles the collector
                # for many open sockets, core/heap.py) rather than on the first request.
                import_module("commonroom.asgi")
            json_logs = settings.COMMONROOM_LOG_FORMAT == "json"
            if not json_logs:  # with JSON, uvicorn's own line says where, as JSON
                self.stdout.write(f"Commonroom on http://{options['host']}:{options['port']}/")
            uvicorn.run(
                "commonroom.asgi:application",
                host=options["host"],
                port=options["port"],
                workers=options["workers"],
                # The client's address is Django's to decide, from COMMONROOM_TRUSTED_PROXIES
                # (core/request_info.py): uvicorn passes on the connection's own.
                proxy_headers=False,
                # Live frames are a few hundred bytes of JSON: compressing each for each socket
                # cost a fifth of a comment's fan-out and saved little (decision 35).
                ws_per_message_deflate=False,
                lifespan="off",
                log_level="info",
                # With JSON logs, uvicorn's lines go through Django's logging (one JSON object
                # each) and its access log is off: core.asgi_observe writes one access line per
                # request with its id instead. With text logs, uvicorn's own as before.
                log_config=None if json_logs else LOGGING_CONFIG,
                access_log=not json_logs,
            )
        finally:
            for sig in STOP_SIGNALS:  # a second one must not cut this short
                signal.signal(sig, signal.SIG_IGN)
            try:
                if worker is not None:
                    worker.stop()
            finally:
                os.environ.pop(SERVE_PID_ENV, None)
                for sig, handler in previous.items():
                    signal.signal(sig, handler)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


class WorkerSupervisor:
    """Runs ``command`` (the worker) in a thread of its own, starts it again when it dies (after
    a back-off), and stops it on :meth:`stop`. The thread that starts the worker is the one it
    is tied to (the kernel's parent-death signal follows the thread), so this thread starts
    every worker and lives until the last one has stopped."""

    def __init__(self, command: list[str], *, grace: float | None = None) -> None:
        self.command = command
        self.grace = worker_grace() if grace is None else grace
        self.process: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the worker (SIGTERM, ``grace`` seconds to finish its task, then SIGKILL) and
        wait for it."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        backoff = BACKOFF_FIRST
        while not self._stop.is_set():
            started = time.monotonic()
            # Killed with serve: its task goes back to the queue when the next worker starts.
            env = {**os.environ, SERVE_PID_ENV: f"{os.getpid()}:{int(signal.SIGKILL)}"}
            try:
                self.process = subprocess.Popen(self.command, env=env)  # noqa: S603 - ours
            except OSError:
                log.exception("serve: could not start the worker")
            while self.process is not None and self.process.poll() is None:
                if self._stop.wait(0.5):
                    break
            if self._stop.is_set():
                break
            code = self.process.returncode if self.process is not None else None
            if time.monotonic() - started > BACKOFF_RESET:
                backoff = BACKOFF_FIRST
            log.error("serve: the worker ended (exit %s); starting another in %s s", code, backoff)
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, BACKOFF_MAX)
        if self.process is not None:
            stop_process(self.process, grace=self.grace)


def stop_process(process: subprocess.Popen[Any], grace: float = WORKER_GRACE_SECONDS) -> None:
    """Ask ``process`` to stop (SIGTERM), give it ``grace`` seconds to finish what it is doing,
    then kill it."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
