"""``commonroom backup DIR``: a consistent online backup, database then files (core/backup.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from commonroom.core.backup import BackupRefused, backup_create


class Command(BaseCommand):
    help = "Back up the database and every file it refers to into DIR, while the server runs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path, help="a new or empty directory")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            r = backup_create(directory=options["directory"])
        except BackupRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"database ({r.engine}) copied")
        counted = ", ".join(f"{n} {r.labels[key]}" for key, n in r.counts.items())
        self.stdout.write(f"{counted or 'no files'} ({r.bytes} bytes) copied from {r.storage}")
        for sentence in r.vanished:
            self.stdout.write(sentence)
        self.stdout.write(r.secret_key)
        self.stdout.write(r.audit_key)
        self.stdout.write(r.records_signing)
        self.stdout.write(r.audit_checkpoints)
        for problem in r.problems:
            self.stdout.write(self.style.ERROR(problem))
        if r.problems:
            raise CommandError(f"backup written to {r.directory}, but it is incomplete")
        self.stdout.write(self.style.SUCCESS(f"backup written to {r.directory}"))
