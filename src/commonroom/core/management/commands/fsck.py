"""``commonroom fsck``: re-hash every blob; report missing, altered and unreferenced ones."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from commonroom.documents.integrity import blobs_fsck


class Command(BaseCommand):
    help = "Check every stored file against its SHA-256 and the versions that use it."

    def handle(self, *args: Any, **options: Any) -> None:
        r = blobs_fsck()
        self.stdout.write(f"checked {r.blobs_checked} blobs, {r.bytes_checked} bytes")
        for sha in r.missing:
            self.stdout.write(f"MISSING   {sha}")
        for sha in r.altered:
            self.stdout.write(f"ALTERED   {sha}")
        for line in r.broken_versions:
            self.stdout.write(f"BROKEN    {line}")
        for sha in r.unreferenced_rows:
            self.stdout.write(
                f"UNUSED    {sha} (no version refers to it; `commonroom gc` removes it)"
            )
        for path in r.orphan_files:
            self.stdout.write(f"ORPHAN    {path} (a file with no blob record)")
        if not r.ok:
            raise CommandError("problems found")
        self.stdout.write(self.style.SUCCESS("ok"))
