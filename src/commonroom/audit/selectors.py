"""Reading the audit trail: scoped listings, CSV rows and verification of the chain."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from django.conf import settings
from django.db.models import Max, Q, QuerySet, Value
from django.db.models.functions import Upper
from django.utils import timezone

from commonroom.audit import checkpoints
from commonroom.audit.models import (
    GENESIS_HASH,
    SYSTEM_CHAIN,
    Action,
    AuditChainHead,
    AuditEvent,
    chain_key,
)
from commonroom.audit.services import audit_key, event_hash
from commonroom.core.exceptions import ApplicationError


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
    """Events of one workspace (or all, for administrators: ``workspace_id=None``), filtered,
    newest first.

    Callers must have asked the workspace abilities (``view_audit``) or be an administrator.
    Each filter has an index that leads with the workspace (or the document) and ends in the
    order the trail is read in (``AuditEvent.Meta.indexes``), so a page is found without
    reading the trail. A workspace's date window, while its chain's times are in order
    (``AuditChainHead.times_in_order``, asked here), is first turned into the ids where it
    starts and ends (a probe of ``audit_ws_time`` each, asked here) and read as the ids
    between, the dates still compared row by row; a chain whose times are out of order is
    read by time alone, reading back through every newer event (decision 45).
    """
    qs = AuditEvent.objects.all()
    if workspace_id is not None:
        qs = qs.filter(workspace_id=workspace_id)
    if filters.actor_email:
        # Case-insensitive as ``iexact`` is, but written as the expression the person index
        # holds (UPPER on both sides), which SQLite's LIKE (``iexact`` there) could not use.
        qs = qs.alias(actor_upper=Upper("actor_email")).filter(
            actor_upper=Upper(Value(filters.actor_email.strip()))
        )
    if filters.document_id:
        qs = qs.filter(document_id=filters.document_id)
    if filters.action:
        qs = qs.filter(action=filters.action)
    tz = timezone.get_current_timezone()
    by_ids = (filters.date_from or filters.date_to) and _times_in_order(workspace_id)
    if filters.date_from:
        since = datetime.combine(filters.date_from, time.min, tzinfo=tz)
        qs = qs.filter(created_at__gte=since)
        if by_ids:
            qs = _from_id(qs, _window_edge(workspace_id, created_at__gte=since), "id__gte")
    if filters.date_to:
        until = datetime.combine(filters.date_to, time.max, tzinfo=tz)
        qs = qs.filter(created_at__lte=until)
        if by_ids:
            qs = _from_id(qs, _window_edge(workspace_id, created_at__lte=until), "id__lte")
    return qs.order_by("-id")


def _times_in_order(workspace_id: uuid.UUID | None) -> bool:
    """Whether the workspace's chain has every row's time at or after the row before's (a
    chain with no head yet has no rows). The administrators' whole trail is many chains."""
    if workspace_id is None:
        return False
    head = AuditChainHead.objects.filter(pk=chain_key(workspace_id))
    return head.values_list("times_in_order", flat=True).first() is not False


def _window_edge(workspace_id: uuid.UUID | None, **bound: datetime) -> int | None:
    """The id of the workspace's first event at or after a time (``created_at__gte``), or its
    last at or before one (``created_at__lte``): one probe of the ``audit_ws_time`` index."""
    (lookup,) = bound
    order = ("created_at", "id") if lookup.endswith("gte") else ("-created_at", "-id")
    edge = AuditEvent.objects.filter(workspace_id=workspace_id, **bound).order_by(*order)
    return edge.values_list("id", flat=True).first()


def _from_id(qs: QuerySet[AuditEvent], edge: int | None, lookup: str) -> QuerySet[AuditEvent]:
    """``qs`` held within ``edge`` (``None``: no event on that side of the window)."""
    return qs.none() if edge is None else qs.filter(**{lookup: edge})


PAGE_SIZE = 100
# The largest id a cursor may name (a bigint): anything larger is refused before the database
# is asked, where it would overflow.
_MAX_ID = 2**63 - 1


class BadCursor(ApplicationError):
    """A trail page asked for with a cursor this page never gives (edited or cut short)."""

    code = "bad_cursor"

    def __init__(self) -> None:
        super().__init__(
            "This page of the audit trail does not exist: the link to it is not one the trail "
            "gives. Open the trail again to start from its newest events."
        )


def trail_cursor(value: str) -> int | None:
    """A page's cursor from the query (an event's id, as the page's own links give it); None
    when there is none. Anything else is :class:`BadCursor`, never a failure further down."""
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or int(value) > _MAX_ID:
        raise BadCursor()
    return int(value)


@dataclass(frozen=True)
class TrailPage:
    """One page of the trail, newest first, and the cursors of the pages beside it.

    ``older`` (events older than the last one shown) and ``newer`` (events newer than the first
    one shown) are ``None`` when there are none. Pages are found by keyset (``id`` below or
    above a cursor), not by counting and skipping rows, so the thousandth page costs what the
    first does and an event added while someone reads does not shift the pages they open
    next."""

    object_list: list[AuditEvent]
    older: int | None
    newer: int | None

    def __iter__(self) -> Iterator[AuditEvent]:
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)


def audit_trail_page(
    events: QuerySet[AuditEvent],
    *,
    older_than: int | None = None,
    newer_than: int | None = None,
    size: int = PAGE_SIZE,
) -> TrailPage:
    """The page of ``events`` (from :func:`audit_events`) just older than event ``older_than``,
    just newer than ``newer_than``, or the newest page (neither). One query for the newest page,
    two for any other: the rows (one more than a page, to know whether more lie beyond) and
    whether any lie on the other side."""
    if older_than is not None and newer_than is not None:
        raise BadCursor()
    if newer_than is not None:
        rows = list(events.filter(id__gt=newer_than).order_by("id")[: size + 1])
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        edge = rows[-1].id if rows else min(newer_than + 1, _MAX_ID)
        return TrailPage(
            object_list=rows,
            newer=rows[0].id if more_newer else None,
            older=edge if events.filter(id__lt=edge).exists() else None,
        )
    page = events.filter(id__lt=older_than) if older_than is not None else events
    rows = list(page.order_by("-id")[: size + 1])
    more_older = len(rows) > size
    rows = rows[:size]
    newer = None
    if older_than is not None:
        edge = rows[0].id if rows else max(older_than - 1, 0)
        newer = edge if events.filter(id__gt=edge).exists() else None
    return TrailPage(object_list=rows, older=rows[-1].id if more_older else None, newer=newer)


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
class ChainReport:
    """One chain's walk: rows ``first_seq``..``last_seq`` checked, up to the head read first."""

    chain: str
    checked: int = 0
    first_seq: int = 0
    last_seq: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    problems: list[str] = field(default_factory=list)


@dataclass
class VerifyResult:
    chains: list[ChainReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    file: checkpoints.FileState | None = None
    file_chains_matched: int = 0
    trail_chains_matched: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def checked(self) -> int:
        return sum(c.checked for c in self.chains)


def _chain_q(chain: str) -> Q:
    return Q(workspace_id__isnull=True) if chain == SYSTEM_CHAIN else Q(workspace_id=chain)


def _label(chain: str) -> str:
    return "the system chain" if chain == SYSTEM_CHAIN else f"the chain of workspace {chain}"


@dataclass(frozen=True)
class _Named:
    """A checkpoint's record of a chain: the row it names and where it was said."""

    seq: int
    hash: str
    source: str  # "the checkpoint file (line 3, 2026-...)" / "checkpoint row 12 of the trail"


def _walk(
    chain: str, key: bytes, since: datetime | None, collect: bool
) -> tuple[ChainReport, dict[str, _Named]]:
    """Walk one chain up to its head (read first: rows appended meanwhile are not judged), from
    its first row or, with ``since``, from its last row before then. With ``collect`` (the
    system chain), also gather what its checkpoint rows say of each chain."""
    report = ChainReport(chain=chain)
    named: dict[str, _Named] = {}
    head = AuditChainHead.objects.filter(pk=chain).values_list("seq", "hash").first()
    rows = AuditEvent.objects.filter(_chain_q(chain))
    if head is None:
        report.head_seq = rows.aggregate(m=Max("seq"))["m"] or 0
        if report.head_seq:
            report.problems.append(
                f"{_label(chain)} has rows but no head: its head row was removed"
            )
    else:
        report.head_seq, report.head_hash = head
    expected, prev = 1, GENESIS_HASH
    if since is not None:
        anchor = (
            rows.filter(created_at__lt=since, seq__lte=report.head_seq).order_by("-seq").first()
        )
        if anchor is not None:
            if event_hash(anchor, key) != anchor.hash:
                report.problems.append(_altered(chain, anchor))
                return report, named
            expected, prev = anchor.seq + 1, anchor.hash
    report.first_seq = expected
    for event in (
        rows.filter(seq__gte=expected, seq__lte=report.head_seq)
        .order_by("seq")
        .iterator(chunk_size=2000)
    ):
        if event.seq != expected:
            report.problems.append(
                f"{_label(chain)}: row {expected} is missing (rows {expected}..{event.seq - 1} "
                "were removed)"
            )
            return report, named
        if event.prev_hash != prev or event_hash(event, key) != event.hash:
            report.problems.append(_altered(chain, event))
            return report, named
        if collect and event.action == Action.CHAIN_CHECKPOINT:
            for other, pair in (event.data.get("heads") or {}).items():
                named[other] = _Named(int(pair[0]), str(pair[1]), f"checkpoint row {event.seq}")
        prev = event.hash
        expected += 1
        report.checked += 1
    report.last_seq = expected - 1
    if report.last_seq != report.head_seq or prev != report.head_hash:
        report.problems.append(
            f"{_label(chain)} ends at row {report.last_seq} but its head says row "
            f"{report.head_seq} was written: rows were removed, or the head was changed"
        )
        return report, named
    beyond = rows.filter(seq__gt=report.head_seq).aggregate(m=Max("seq"))["m"]
    if beyond is not None:
        # Appended since the head was read, or left behind a head moved back?
        now = AuditChainHead.objects.filter(pk=chain).values_list("seq", flat=True).first() or 0
        if now < beyond:
            report.problems.append(
                f"{_label(chain)}: rows {report.head_seq + 1}..{beyond} lie beyond its head "
                f"(row {report.head_seq}): the head was moved back"
            )
    return report, named


def _altered(chain: str, event: AuditEvent) -> str:
    return (
        f"{_label(chain)}: row {event.seq} was altered ({event.action} at "
        f"{event.created_at.isoformat()}), or written with another audit key"
    )


def _check_named(chain: str, named: _Named, key: bytes) -> str | None:
    """A checkpoint named row ``named.seq`` of ``chain`` with ``named.hash``: is it still so?"""
    row = AuditEvent.objects.filter(_chain_q(chain), seq=named.seq).first()
    if row is None:
        return (
            f"{_label(chain)}: row {named.seq}, named by {named.source}, is gone: the newest "
            "rows were removed (and the head moved back)"
        )
    if row.hash != named.hash or event_hash(row, key) != row.hash:
        return (
            f"{_label(chain)}: row {named.seq} is not the one {named.source} named: the chain "
            "was rewritten"
        )
    return None


def audit_verify(
    *, workspace_id: uuid.UUID | None = None, since: datetime | None = None
) -> VerifyResult:
    """Check the chains: every row's HMAC and link to the one before, no gap, each head; then
    that every row a checkpoint named (the newest record of each chain in the checkpoint file
    outside the database, and in the trail's own checkpoint rows) is still there, unchanged.

    ``workspace_id`` checks that workspace's chain only; ``since`` starts each walk at the last
    row written before then (that row's own HMAC is checked; rows before it are not)."""
    key = audit_key()
    result = VerifyResult()
    path = Path(settings.COMMONROOM_AUDIT_CHECKPOINTS)
    state = checkpoints.read(path, key)
    result.file = state
    result.problems.extend(state.problems)
    result.notes.extend(state.notes)
    if not state.exists:
        result.notes.append(
            f"there is no checkpoint file at {path} yet (none was written on this machine): "
            "heads were checked against the trail's own checkpoints only"
        )
    trail_named: dict[str, _Named] = {}
    if workspace_id is not None:
        chains = [str(workspace_id)]
        latest = (
            AuditEvent.objects.filter(
                workspace_id__isnull=True,
                action=Action.CHAIN_CHECKPOINT,
                data__heads__has_key=chains[0],
            )
            .order_by("-seq")
            .first()
        )
        if latest is not None:
            if event_hash(latest, key) != latest.hash:
                result.problems.append(_altered(SYSTEM_CHAIN, latest))
            else:
                pair = latest.data["heads"][chains[0]]
                trail_named[chains[0]] = _Named(
                    int(pair[0]), str(pair[1]), f"checkpoint row {latest.seq}"
                )
    else:
        system, trail_named = _walk(SYSTEM_CHAIN, key, since, collect=True)
        result.chains.append(system)
        seen = set(AuditChainHead.objects.values_list("chain", flat=True))
        seen.update(
            chain_key(ws)
            for ws in AuditEvent.objects.order_by()
            .values_list("workspace_id", flat=True)
            .distinct()
        )
        seen.update(state.latest)
        seen.update(trail_named)
        seen.discard(SYSTEM_CHAIN)
        chains = sorted(seen)
    for chain in chains:
        report, _ = _walk(chain, key, since, collect=False)
        result.chains.append(report)
    for report in result.chains:
        result.problems.extend(report.problems)
        if report.problems:
            continue  # its first fault is said; what checkpoints named would only repeat it
        record = state.latest.get(report.chain)
        if record is not None:
            where = f"the checkpoint file (line {record.line}, {record.at})"
            problem = _check_named(report.chain, _Named(record.seq, record.hash, where), key)
            if problem:
                result.problems.append(problem)
            else:
                result.file_chains_matched += 1
        named = trail_named.get(report.chain)
        if named is not None:
            problem = _check_named(report.chain, named, key)
            if problem:
                result.problems.append(problem)
            else:
                result.trail_chains_matched += 1
    return result


def last_seen_in_workspaces(
    *, actor_ids: Iterable[int], workspace_ids: Iterable[uuid.UUID]
) -> dict[tuple[int, uuid.UUID], datetime]:
    """The time of each person's newest entry in each workspace's trail, by (person's id,
    workspace's id), for those of ``actor_ids`` in ``workspace_ids`` who have one: when they
    last read or changed anything there (readings are audited once per ten minutes). One
    query."""
    actors, workspaces = list(actor_ids), list(workspace_ids)
    if not actors or not workspaces:
        return {}
    rows = (
        AuditEvent.objects.filter(actor_id__in=actors, workspace_id__in=workspaces)
        .values("actor_id", "workspace_id")
        .annotate(last=Max("created_at"))
        .order_by()
    )
    return {(row["actor_id"], row["workspace_id"]): row["last"] for row in rows}
