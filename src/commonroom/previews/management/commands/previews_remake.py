"""``commonroom previews_remake [--format pdf ...]``: make finished previews again, after an
upgrade that improved a converter or added one (the background worker does the work)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from commonroom.previews.convert import CONVERTERS
from commonroom.previews.services import previews_remake


class Command(BaseCommand):
    help = "Make previews again with today's converters; each stays until its new one is ready."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format",
            action="append",
            choices=sorted(CONVERTERS),
            dest="formats",
            help="only previews of this format (repeatable); all when left out",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count = previews_remake(formats=options.get("formats"))
        self.stdout.write(
            f"{count} previews queued to be made again; the background worker makes them."
        )
