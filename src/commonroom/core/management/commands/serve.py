"""``commonroom serve``: uvicorn (ASGI) on 127.0.0.1:8000, with the background-task worker and
the daily trigger of the notification digest. However serve ends (Ctrl+C, SIGTERM from a
service manager, an error), it stops the worker too."""

from __future__ import annotations

import signal
import subprocess
import sys
from types import FrameType
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from commonroom.notifications.schedule import start_digest_schedule

# How long the background-task worker has to finish its task when serve stops, before a kill.
WORKER_GRACE_SECONDS = 5.0


class Command(BaseCommand):
    help = "Serve Commonroom with uvicorn and run the background-task worker beside it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
        parser.add_argument("--no-worker", action="store_true", help="do not start db_worker")
        parser.add_argument(
            "--forwarded-allow-ips",
            default="127.0.0.1",
            help="proxies whose X-Forwarded-For/Proto headers are trusted",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            call_command("collectstatic", interactive=False, verbosity=0)
        # uvicorn catches SIGTERM, shuts down, then raises it again with the handler it found:
        # with the default one the process would die at once and never stop its worker. Ours
        # turns it into SystemExit, so the ``finally`` below always runs.
        previous = signal.signal(signal.SIGTERM, _exit_on_signal)
        worker = None
        schedule = None
        try:
            if not options["no_worker"]:
                worker = subprocess.Popen([sys.executable, "-m", "commonroom", "db_worker"])
                schedule = start_digest_schedule(settings.COMMONROOM_DIGEST_HOUR)
            self.stdout.write(f"Commonroom on http://{options['host']}:{options['port']}/")
            uvicorn.run(
                "commonroom.asgi:application",
                host=options["host"],
                port=options["port"],
                workers=options["workers"],
                proxy_headers=True,
                forwarded_allow_ips=options["forwarded_allow_ips"],
                lifespan="off",
                log_level="info",
            )
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut this short
            try:
                if schedule is not None:
                    schedule.set()
                if worker is not None:
                    stop_process(worker)
            finally:
                signal.signal(signal.SIGTERM, previous)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


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
