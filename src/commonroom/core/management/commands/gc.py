"""``commonroom gc``: remove blobs that no version refers to any more."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from commonroom.documents.services import blobs_collect_garbage


class Command(BaseCommand):
    help = "Delete stored files that no version uses (after a grace period)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--grace-minutes", type=int, default=60)

    def handle(self, *args: Any, **options: Any) -> None:
        n = blobs_collect_garbage(grace=timedelta(minutes=options["grace_minutes"]))
        self.stdout.write(f"removed {n} unreferenced blob(s)")
