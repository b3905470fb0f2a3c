"""``commonroom audit verify [--workspace ID] [--since DATE] [--files]``: check the audit chains
(every row's HMAC and link, no gap, each head, every row a checkpoint named) and report the
first fault of each; then, when all is well, write a checkpoint. With ``--files``, also check
that the files the rows of other apps name are in storage (documents: every version's file;
each app adds its check to ``audit.files``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from commonroom.audit.files import audit_files_verify
from commonroom.audit.models import AuditChainHead, AuditEvent
from commonroom.audit.selectors import VerifyResult, audit_verify
from commonroom.audit.services import audit_checkpoint


def _workspace(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CommandError(f"--workspace takes a workspace id (a UUID), not {value!r}.") from None


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since takes a date as YYYY-MM-DD, not {value!r}.") from None
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


class Command(BaseCommand):
    help = (
        "Audit trail tools. `audit verify` checks the chains (every workspace's and the one of "
        "events outside workspaces) and, when they are intact, writes a checkpoint; `--files` "
        "also checks that every version's file is present with its recorded size (`fsck` "
        "re-hashes the bytes)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify"])
        parser.add_argument("--workspace", metavar="ID", help="check only this workspace's chain")
        parser.add_argument(
            "--since",
            metavar="YYYY-MM-DD",
            help="check only the rows written from this day on (each chain from its last row "
            "before it)",
        )
        parser.add_argument(
            "--files",
            action="store_true",
            help="also check that every version's file is in storage, with its recorded size",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        workspace_id = _workspace(options["workspace"])
        since = _since(options["since"])
        if workspace_id is not None and not (
            AuditChainHead.objects.filter(pk=str(workspace_id)).exists()
            or AuditEvent.objects.filter(workspace_id=workspace_id).exists()
        ):
            raise CommandError(
                f"There is no audit chain for workspace {workspace_id}: no event was ever "
                "recorded in it (is the id right?)."
            )
        result = audit_verify(workspace_id=workspace_id, since=since)
        files = audit_files_verify() if options["files"] else None
        if not result.ok:
            for note in result.notes:
                self.stdout.write(f"note: {note}")
        for problem in result.problems:
            self.stdout.write(self.style.ERROR(problem))
        for check in files or []:
            for problem in check.problems:
                self.stdout.write(self.style.ERROR(problem))
        if not result.ok:
            raise CommandError(f"audit trail broken: {result.problems[0]}")
        failed = [check.failed for check in files or [] if not check.ok]
        if failed:
            raise CommandError("; ".join(failed))
        self.stdout.write(self.style.SUCCESS(self._summary(result, workspace_id, since)))
        for note in result.notes:
            self.stdout.write(f"note: {note}")
        try:
            checkpoint = audit_checkpoint()
        except OSError as exc:
            raise CommandError(
                "The trail verifies, but its checkpoint could not be written to "
                f"{settings.COMMONROOM_AUDIT_CHECKPOINTS}: {exc.strerror or exc}."
            ) from exc
        for sentence in checkpoint.refused:
            self.stdout.write(self.style.ERROR(sentence))
        if checkpoint.refused:
            raise CommandError(f"checkpoint refused: {checkpoint.refused[0]}")
        self.stdout.write(
            f"checkpoint: {len(checkpoint.recorded)} chain head(s) recorded"
            if checkpoint.recorded
            else "checkpoint: no head moved since the last one"
        )
        for check in files or []:
            self.stdout.write(self.style.SUCCESS(f"ok: {check.passed}"))

    def _summary(
        self, result: VerifyResult, workspace_id: uuid.UUID | None, since: datetime | None
    ) -> str:
        scope = f" from {since.date().isoformat()} on" if since else ""
        if workspace_id is not None:
            chain = result.chains[0]
            rows = f"rows {chain.first_seq}..{chain.last_seq}" if chain.checked else "no rows"
            text = (
                f"ok: {chain.checked} events{scope} in the chain of workspace {workspace_id} "
                f"({rows}), head #{chain.head_seq} {chain.head_hash}"
            )
        else:
            workspaces = len(result.chains) - 1
            text = (
                f"ok: {result.checked} events{scope} in {len(result.chains)} chains "
                f"({workspaces} workspace(s) and the system chain)"
            )
        state = result.file
        if state is not None and state.exists:
            text += (
                f"; {result.file_chains_matched} chain(s) match the checkpoint file "
                f"({state.lines} checkpoints, the newest {state.last_at or 'none'})"
            )
        text += f"; {result.trail_chains_matched} match the trail's own checkpoints"
        return text
