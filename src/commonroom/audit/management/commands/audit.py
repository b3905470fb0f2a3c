"""``commonroom audit verify``: walk the hash chain and report the first altered or removed row."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from commonroom.audit.selectors import audit_verify


class Command(BaseCommand):
    help = "Audit trail tools. `audit verify` checks the hash chain."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify"])

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit_verify()
        if not result.ok:
            for problem in result.problems:
                self.stdout.write(self.style.ERROR(problem))
            raise CommandError(f"audit trail broken at row {result.first_bad_seq}")
        self.stdout.write(
            self.style.SUCCESS(
                f"ok: {result.checked} events, chain head #{result.head_seq} {result.head_hash}"
            )
        )
