"""``commonroom restore DIR``: restore a backup into an empty installation, then check it."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from commonroom.core.backup import BackupRefused, restore_from


class Command(BaseCommand):
    help = (
        "Restore a backup made by `commonroom backup` into an empty data directory or database; "
        "then run fsck, audit verify --files and search_reindex."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path, help="the backup's directory")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            r = restore_from(directory=options["directory"])
        except BackupRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"manifest checked; {r.files} files ({r.bytes} bytes) restored to {r.storage}, "
            "each read back and checked against its SHA-256"
        )
        self.stdout.write(f"database ({r.engine}) restored; {r.migrated}")
        for sentence in r.put_right:
            self.stdout.write(sentence)
        self.stdout.write(r.secret_key)
        self.stdout.write(r.audit_key)
        self.stdout.write(r.records_signing)
        self.stdout.write(r.audit_checkpoints)
        failed = [
            name
            for name, command, args in (
                ("fsck", "fsck", []),
                ("audit verify --files", "audit", ["verify", "--files"]),
                ("search_reindex", "search_reindex", []),
            )
            if not self._step(name, command, args)
        ]
        if failed:
            raise CommandError(f"restored, but these checks failed: {', '.join(failed)}")
        self.stdout.write(self.style.SUCCESS("restore complete: fsck, audit and search all ok"))

    def _step(self, name: str, command: str, args: list[str]) -> bool:
        out = StringIO()
        try:
            call_command(command, *args, stdout=out)
        except CommandError as exc:
            self.stdout.write(out.getvalue().rstrip())
            self.stdout.write(self.style.ERROR(f"{name}: FAILED ({exc})"))
            return False
        said = "; ".join(line.strip() for line in out.getvalue().strip().splitlines())
        self.stdout.write(f"{name}: {said or 'done'}")
        return True
