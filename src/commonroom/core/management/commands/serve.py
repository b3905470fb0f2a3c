"""``commonroom serve``: uvicorn (ASGI) on 127.0.0.1:8000, with the background-task worker and
the daily trigger of the notification digest."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from commonroom.notifications.schedule import start_digest_schedule


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
        worker = None
        schedule = None
        if not options["no_worker"]:
            worker = subprocess.Popen([sys.executable, "-m", "commonroom", "db_worker"])
            schedule = start_digest_schedule(settings.COMMONROOM_DIGEST_HOUR)
        self.stdout.write(f"Commonroom on http://{options['host']}:{options['port']}/")
        try:
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
            if schedule is not None:
                schedule.set()
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=10)
