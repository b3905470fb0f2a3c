"""``commonroom gc``: remove blobs that no version refers to any more, and the files crashes left
behind (upload temporaries, partial copies, files with no blob record)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from commonroom.documents.services import blobs_collect_garbage, storage_sweep


class Command(BaseCommand):
    help = (
        "Delete stored files that no version uses, and files left by uploads or copies that did "
        "not finish (after a grace period; never one still being written)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--grace-minutes", type=int, default=60)

    def handle(self, *args: Any, **options: Any) -> None:
        grace = timedelta(minutes=options["grace_minutes"])
        n = blobs_collect_garbage(grace=grace)
        self.stdout.write(f"removed {n} unreferenced blob(s)")
        swept = storage_sweep(grace=grace)
        self.stdout.write(
            f"removed {swept.temporaries} upload temporary file(s), {swept.partials} partial "
            f"file(s) and {swept.unreferenced_files} file(s) with no blob record "
            f"({swept.bytes} bytes)"
        )
