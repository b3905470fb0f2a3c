"""``commonroom record verify FILE``: check a final record's certificate PDF.

Two checks, one sentence each: the installation's signature (``certificates.signing.verify``:
intact, this installation's, covering the whole file) and the SHA-256 the signed file names
against the stored version's (``selectors.version_by_number``). Exits 0 when all hold, 1
otherwise. ``record`` takes subcommands, so more can come.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from commonroom.certificates.signing import verify
from commonroom.documents.selectors import version_by_number


class Command(BaseCommand):
    help = "Final records: `record verify FILE` checks a certificate PDF's signature and checksum."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        check = commands.add_parser(
            "verify",
            help="check a certificate PDF: its signature, and its SHA-256 against the stored "
            "version",
        )
        check.add_argument("file", type=Path, help="the certificate PDF")
        check.add_argument(
            "--trust",
            type=Path,
            default=None,
            help="trust this certificate (PEM or DER) instead of the installation's",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "verify":
            ok = self.verify(options["file"], options["trust"])
            sys.stdout.flush()
            if not ok:
                raise SystemExit(1)
            return
        raise CommandError(f"Unknown action {options['action']!r}.")  # pragma: no cover

    def verify(self, path: Path, trust: Path | None) -> bool:
        try:
            data = path.read_bytes()
        except OSError as exc:
            self.stdout.write(f"FAIL  The file could not be read: {exc.strerror or exc}.")
            return False
        result = verify(data, trust_root=trust)
        if result.ok:
            self.stdout.write(
                f"OK    The signature is intact, covers the whole file and is this "
                f"installation's ({result.signer}, signed {result.signed_at:%Y-%m-%d %H:%M:%S %Z})."
            )
        else:
            for problem in result.problems:
                self.stdout.write(f"FAIL  {problem}")
        if not result.document_id or result.version_number is None:
            self.stdout.write("FAIL  The file names no stored version to compare its SHA-256 with.")
            return False
        version = version_by_number(result.document_id, result.version_number)
        if version is None:
            self.stdout.write(
                f"FAIL  No version {result.version_number} of document {result.document_id} "
                f"is stored here."
            )
            return False
        if version.blob.sha256 != result.sha256:
            self.stdout.write(
                f"FAIL  The SHA-256 in the file ({result.sha256}) is not that of version "
                f"{version.number} of {version.document.name} ({version.blob.sha256})."
            )
            return False
        self.stdout.write(
            f"OK    The SHA-256 is that of version {version.number} of {version.document.name} "
            f"as stored ({version.blob.sha256})."
        )
        return result.ok
