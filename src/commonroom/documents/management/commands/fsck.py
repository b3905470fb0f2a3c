"""``commonroom fsck``: re-hash every blob; report missing, altered and unreferenced ones, and the
files crashes left behind (upload temporaries, partial copies, files with no blob record)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from commonroom.documents.integrity import Leftover, blob_name_sha256, blobs_fsck

GC_NOTE = "`commonroom gc` removes it"


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
            why = "its file was never written and " if sha in r.never_written else ""
            self.stdout.write(f"UNUSED    {sha} ({why}no version refers to it; {GC_NOTE})")
        for path in r.orphan_files:
            why = GC_NOTE if blob_name_sha256(path) else "not a blob's name: look at it by hand"
            self.stdout.write(f"ORPHAN    {path} (a file with no blob record; {why})")
        now = time.time()
        for item in r.temporaries:
            self.stdout.write(f"TEMPORARY {item.path} ({_leftover(item, now, 'an upload')})")
        for item in r.partials:
            self.stdout.write(f"PARTIAL   {item.path} ({_leftover(item, now, 'a blob copy')})")
        if not r.ok:
            raise CommandError("problems found")
        self.stdout.write(self.style.SUCCESS("ok"))


def _leftover(item: Leftover, now: float, what: str) -> str:
    size = f"{item.size} bytes, {item.age_minutes(now)} min old"
    if item.in_use:
        return f"{size}; {what} in progress is writing it"
    return f"{size}; left by {what} that did not finish; {GC_NOTE}"
