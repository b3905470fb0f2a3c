"""Reading the audit trail: scoped listings, CSV rows and verification of the chain."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time

from django.db.models import QuerySet
from django.utils import timezone

from commonroom.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from commonroom.audit.services import event_hash


@dataclass(frozen=True)
class AuditFilter:
    actor_email: str = ""
    document_id: uuid.UUID | None = None
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None


def audit_events(
    *, workspace_id: uuid.UUID | None, filters: AuditFilter = AuditFilter()
) -> QuerySet[AuditEvent]:
    """Events of one workspace (or all, for administrators: ``workspace_id=None``), filtered.

    Callers must have asked the workspace abilities (``view_audit``) or be an administrator.
    """
    qs = AuditEvent.objects.all()
    if workspace_id is not None:
        qs = qs.filter(workspace_id=workspace_id)
    if filters.actor_email:
        qs = qs.filter(actor_email__iexact=filters.actor_email.strip())
    if filters.document_id:
        qs = qs.filter(document_id=filters.document_id)
    if filters.action:
        qs = qs.filter(action=filters.action)
    tz = timezone.get_current_timezone()
    if filters.date_from:
        qs = qs.filter(created_at__gte=datetime.combine(filters.date_from, time.min, tzinfo=tz))
    if filters.date_to:
        qs = qs.filter(created_at__lte=datetime.combine(filters.date_to, time.max, tzinfo=tz))
    return qs.order_by("-seq")


CSV_HEADER = [
    "seq",
    "time",
    "action",
    "actor",
    "workspace",
    "document",
    "target_type",
    "target",
    "ip",
    "user_agent",
    "details",
    "hash",
]


def csv_cell(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (names and user agents come
    from anyone)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def audit_csv_rows(events: QuerySet[AuditEvent]) -> Iterator[list[str]]:
    yield CSV_HEADER
    for e in events.iterator(chunk_size=2000):
        yield [csv_cell(cell) for cell in _csv_row(e)]


def _csv_row(e: AuditEvent) -> list[str]:
    return [
        str(e.seq),
        e.created_at.isoformat(),
        e.action,
        e.actor_email,
        str(e.workspace_id or ""),
        str(e.document_id or ""),
        e.target_type,
        e.target_label or e.target_id,
        e.ip,
        e.user_agent,
        ", ".join(f"{k}={v}" for k, v in sorted(e.data.items())),
        e.hash,
    ]


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problems: list[str] = field(default_factory=list)


def audit_verify() -> VerifyResult:
    """Walk the chain from the first row; report the first row altered or removed."""
    head = AuditHead.objects.filter(pk=1).first()
    head_seq = head.seq if head else 0
    head_hash = head.hash if head else GENESIS_HASH
    expected_seq = 1
    prev = GENESIS_HASH
    checked = 0
    # Rows appended while we walk are not ours to judge: stop at the head read first.
    for event in (
        AuditEvent.objects.filter(seq__lte=head_seq).order_by("seq").iterator(chunk_size=2000)
    ):
        if event.seq != expected_seq:
            return VerifyResult(
                False,
                checked,
                head_seq,
                head_hash,
                expected_seq,
                [f"row {expected_seq} is missing: rows {expected_seq}..{event.seq - 1} removed"],
            )
        if event.prev_hash != prev or event_hash(event) != event.hash:
            return VerifyResult(
                False,
                checked,
                head_seq,
                head_hash,
                event.seq,
                [f"row {event.seq} was altered ({event.action} at {event.created_at.isoformat()})"],
            )
        prev = event.hash
        expected_seq += 1
        checked += 1
    last_seq = expected_seq - 1
    if last_seq != head_seq or prev != head_hash:
        return VerifyResult(
            False,
            checked,
            head_seq,
            head_hash,
            last_seq + 1,
            [f"the chain ends at row {last_seq} but row {head_seq} was written: rows removed"],
        )
    return VerifyResult(True, checked, head_seq, head_hash)
