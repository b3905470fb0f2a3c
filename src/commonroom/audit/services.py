"""Writing to the audit trail: the only code that inserts :class:`AuditEvent` rows, and the
checkpoints that tie the chains' heads together (in the system chain and in the file outside
the database, :mod:`commonroom.audit.checkpoints`).

Callers write their audit row LAST in their transaction: from :func:`audit_record` to the commit
the chain's head row is locked, and nothing else should happen while it is.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import BigIntegerField, CharField, DateTimeField, Q, QuerySet
from django.utils import timezone

from commonroom.audit import checkpoints
from commonroom.audit.models import (
    SYSTEM_CHAIN,
    Action,
    AuditChainHead,
    AuditEvent,
    ReadingAudited,
    chain_key,
)
from commonroom.core.prepared import Prepared, columns_of, insert, instance_from, update
from commonroom.core.request_info import SYSTEM, RequestInfo
from commonroom.core.text import plain_text

if TYPE_CHECKING:
    from commonroom.accounts.models import User

log = logging.getLogger("commonroom.audit")

HASHED_FIELDS = (
    "seq",
    "created_at",
    "action",
    "actor_id",
    "actor_email",
    "workspace_id",
    "document_id",
    "target_type",
    "target_id",
    "target_label",
    "ip",
    "user_agent",
    "data",
    "prev_hash",
)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def audit_key() -> bytes:
    return bytes(settings.COMMONROOM_AUDIT_KEY)


def key_id(key: bytes | None = None) -> str:
    """A name for the audit key that reveals nothing of it: which key a chain was written with."""
    return _key_id(key or audit_key())


@functools.lru_cache(maxsize=4)
def _key_id(key: bytes) -> str:
    # A function of the key alone, asked on every audited write: worked out once per key.
    return hmac.new(key, b"commonroom audit key id", hashlib.sha256).hexdigest()[:16]


def event_hash(event: AuditEvent, key: bytes | None = None) -> str:
    """HMAC-SHA-256, keyed with the audit key, over the row's recorded fields in a fixed
    canonical JSON form (``prev_hash`` among them, so each row seals the chain before it)."""
    payload = {name: _canonical(getattr(event, name)) for name in HASHED_FIELDS}
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key or audit_key(), encoded.encode("utf-8"), hashlib.sha256).hexdigest()


def _scrub(value: Any) -> Any:
    """Recorded text holds no control characters (PostgreSQL refuses NUL, even inside JSON)."""
    if isinstance(value, str):
        return plain_text(value)
    if isinstance(value, dict):
        return {plain_text(str(k)): _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


class AuditKeyMismatch(RuntimeError):
    """This process's audit key is not the one the trail was written with."""


_installation_key_checked = False


def _check_installation_key() -> None:
    """Before this process starts a new chain: the system chain (made by the migration) was
    written with our key. Checked once per process."""
    global _installation_key_checked
    if _installation_key_checked:
        return
    system = AuditChainHead.objects.filter(pk=SYSTEM_CHAIN).values_list("key_id", flat=True)
    found = system.first()
    if found is not None and found != key_id():
        raise AuditKeyMismatch(_mismatch_sentence(SYSTEM_CHAIN))
    _installation_key_checked = True


def _mismatch_sentence(chain: str) -> str:
    return (
        f"This server's audit key is not the one audit chain {chain} was written with: nothing "
        "was recorded. Give every server of the installation the same key "
        "(COMMONROOM_AUDIT_KEY, or the data directory's audit_key file)."
    )


def _head_for_update(*, chain: str) -> QuerySet[AuditChainHead, Any]:
    """The chain's head row, locked until the transaction ends (one row at most)."""
    return (
        AuditChainHead.objects.select_for_update()
        .filter(pk=chain)
        .order_by("pk")
        .values_list(*columns_of(AuditChainHead))
    )


# Read on every audited write: :func:`_head_for_update`, its SQL built once per process.
_HEAD_FOR_UPDATE = Prepared("audit.head_for_update", _head_for_update, chain=CharField())


def _head(chain: str) -> AuditChainHead | None:
    found = _HEAD_FOR_UPDATE.window(limit=1, offset=0, chain=chain)
    return instance_from(AuditChainHead, found[0]) if found else None


def _locked_head(chain: str) -> AuditChainHead:
    """The chain's head, locked until the transaction ends; made on the chain's first event."""
    head = _head(chain)
    if head is None:
        _check_installation_key()
        # Two first events at once: one inserts, the other's insert waits for it and does
        # nothing; both then lock the one row.
        AuditChainHead.objects.bulk_create(
            [AuditChainHead(chain=chain, key_id=key_id())], ignore_conflicts=True
        )
        head = AuditChainHead.objects.select_for_update().get(pk=chain)
    if head.key_id != key_id():
        raise AuditKeyMismatch(_mismatch_sentence(chain))
    return head


def audit_record(
    *,
    action: str,
    actor: User | None = None,
    actor_email: str = "",
    info: RequestInfo = SYSTEM,
    workspace_id: uuid.UUID | None = None,
    document_id: uuid.UUID | None = None,
    target_type: str = "",
    target_id: str = "",
    target_label: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent | None:
    """Append one event to its chain (the workspace's, or the system chain), in the caller's
    transaction (or its own). Call it as the transaction's last write: the chain's head stays
    locked until the commit. Returns the row written; ``None`` inside an
    :func:`audit_rows_last` block, where it is not written yet (the block gives the rows it
    wrote when it ends)."""
    actor_pk = getattr(actor, "pk", None) if actor is not None else None
    event = AuditEvent(
        action=str(action),
        actor_id=actor_pk,
        actor_email=plain_text(getattr(actor, "email", "") or actor_email)[:254],
        workspace_id=workspace_id,
        document_id=document_id,
        target_type=target_type,
        target_id=str(target_id)[:64],
        target_label=plain_text(target_label)[:300],
        ip=plain_text(info.ip)[:64],
        user_agent=plain_text(info.user_agent)[:500],
        data=_scrub(json.loads(json.dumps(data or {}, default=str))),
    )
    block = _held.get()
    if block is not None:
        block.held.append(event)  # written when the outermost audit_rows_last block ends
        return None
    return _write(event)


def _write(event: AuditEvent) -> AuditEvent:
    chain = chain_key(event.workspace_id)
    if connection.in_atomic_block:
        # Part of the caller's transaction, without a savepoint of its own: a refusal (another
        # audit key) comes before anything is written; a failure after it fails the caller's
        # change with it, which is never left without its row.
        return _append(event, chain)
    with transaction.atomic():
        return _append(event, chain)


def _append(event: AuditEvent, chain: str) -> AuditEvent:
    head = _locked_head(chain)
    event.seq = head.seq + 1
    moved: dict[str, Any] = {}
    event.created_at = _chain_time(head, timezone.now(), moved)
    event.prev_hash = head.hash
    event.hash = event_hash(event)
    insert(event)
    head.seq, head.hash = event.seq, event.hash
    for name, value in moved.items():
        setattr(head, name, value)
    update(head, ["seq", "hash", *moved])
    return event


# How far behind the chain's latest time a row's clock may be and still be recorded at that
# time: two servers' clocks a moment apart (each kept by NTP) write one chain. Further back is
# recorded as the clock says, and the chain's times are no longer in order (decision 45).
CLOCK_SKEW = timedelta(seconds=2)


def _chain_time(head: AuditChainHead, now: datetime, moved: dict[str, Any]) -> datetime:
    """The time a new row of ``head``'s chain is recorded at; what the head's update must
    change is put in ``moved`` (its latest time, and whether its times are still in order)."""
    last = head.last_at
    if last is None or now >= last:
        moved["last_at"] = now
        return now
    if last - now <= CLOCK_SKEW:
        return last  # no earlier than the row before: the chain stays in order
    if head.times_in_order:
        moved["times_in_order"] = False
        log.warning(
            "The clock is %s behind the latest time recorded in audit chain %s: the row is "
            "recorded at the clock's time, and this trail's date windows are now read by time "
            "alone (slower on a long trail).",
            last - now,
            head.chain,
        )
    return now


READING_WINDOW = timedelta(minutes=10)


def _audited_since(
    *, actor_id: int, action: str, subject: str, since: datetime
) -> QuerySet[ReadingAudited]:
    """The reading's row if it was audited after ``since``."""
    return ReadingAudited.objects.filter(
        actor_id=actor_id, action=action, subject=subject, audited_at__gt=since
    )


# Asked by every page that reads a document (:func:`audit_record_reading`): its SQL built once
# per process (one row at most: the reading's row is unique by actor, action and subject).
_AUDITED_SINCE = Prepared(
    "audit.audited_since",
    _audited_since,
    actor_id=BigIntegerField(),
    action=CharField(),
    subject=CharField(),
    since=DateTimeField(),
)


def audit_record_reading(
    *,
    action: str,
    actor: User,
    subject: str,
    info: RequestInfo = SYSTEM,
    workspace_id: uuid.UUID | None = None,
    document_id: uuid.UUID | None = None,
    target_type: str = "",
    target_id: str = "",
    target_label: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent | None:
    """A reading (of a document's version, a preview, two versions compared: ``subject`` names
    what was read) audited once per person, action, subject and :data:`READING_WINDOW`: the
    first reading writes its row, readings within the window after it write none, so fetching a
    preview fifty times cannot flood the trail. Decided in the database (a
    :class:`ReadingAudited` row claimed by a conditional UPDATE, or inserted under a unique
    constraint), so every server process sees the same decision and two at once write one row.
    Returns the row written, or ``None`` when the reading was already audited."""
    now = timezone.now()
    key = {"actor_id": actor.pk, "action": str(action), "subject": subject[:120]}
    # Already audited within the window (the common case: a page read again): a read says so,
    # and no write transaction is opened for nothing. Otherwise the claim below decides.
    if _AUDITED_SINCE.count(
        actor_id=actor.pk, action=key["action"], subject=key["subject"], since=now - READING_WINDOW
    ):
        return None
    with transaction.atomic():
        claimed = ReadingAudited.objects.filter(**key, audited_at__lte=now - READING_WINDOW).update(
            audited_at=now
        )
        if not claimed:
            try:
                with transaction.atomic():
                    ReadingAudited.objects.create(**key, audited_at=now)
            except IntegrityError:  # audited within the window (or by a reader at this moment)
                return None
        return audit_record(
            action=action,
            actor=actor,
            info=info,
            workspace_id=workspace_id,
            document_id=document_id,
            target_type=target_type,
            target_id=target_id,
            target_label=target_label,
            data=data,
        )


def readings_audited_prune(*, now: datetime | None = None) -> int:
    """Forget the readings audited longer ago than the window (a later reading is audited
    whether its row is there or not). Returns how many were removed."""
    cutoff = (now or timezone.now()) - READING_WINDOW
    removed, _ = ReadingAudited.objects.filter(audited_at__lt=cutoff).delete()
    return removed


@dataclass
class _Block:
    """One audit_rows_last block: the events recorded in it, not written yet; the list it
    yielded, filled with them once written; and, for the outermost block, the inner blocks
    that ended in it, whose lists are filled at the same time."""

    held: list[AuditEvent] = field(default_factory=list)
    written: list[AuditEvent] = field(default_factory=list)
    inner: list[_Block] = field(default_factory=list)


# The innermost audit_rows_last block open in this context (None: outside any).
_held: ContextVar[_Block | None] = ContextVar("audit_held", default=None)


@contextmanager
def audit_rows_last() -> Iterator[list[AuditEvent]]:
    """Inside a transaction that runs several audited services one after another (each writing
    its audit rows as its last writes): their rows are held back and written, in the order they
    were recorded, when the outermost block ends, so they stay the transaction's last writes
    and the chain's head is locked only from then to the commit. A block that raises drops the
    rows recorded in it (its writes roll back with it: put it inside the savepoint it guards).

    It yields a list that is empty inside the block (nothing is written yet; ``audit_record``
    returns ``None`` there) and holds the rows recorded in it, saved, in order, once they are
    written: when the block ends, or for a block inside another, when the outermost one ends.
    A block that raised leaves it empty."""
    outer = _held.get()
    block = _Block()
    token = _held.set(block)
    try:
        yield block.written
    finally:
        _held.reset(token)
    if outer is not None:
        outer.held.extend(block.held)
        outer.inner += [block, *block.inner]
        return
    for event in block.held:
        _write(event)
    for done in (block, *block.inner):
        done.written.extend(done.held)


# --- Checkpoints -----------------------------------------------------------------------------


@dataclass
class CheckpointResult:
    recorded: dict[str, list[Any]] = field(default_factory=dict)  # chain: [seq, hash]
    refused: list[str] = field(default_factory=list)  # sentences: chains not recorded, and why
    line: str = ""


def _chain_q(chain: str) -> Q:
    return Q(workspace_id__isnull=True) if chain == SYSTEM_CHAIN else Q(workspace_id=chain)


def _departed(records: dict[str, checkpoints.Record]) -> dict[str, str]:
    """Of the chains recorded in the file, those whose recorded row is gone or has another
    hash now: chain -> sentence."""
    found: dict[tuple[str, int], str] = {}
    items = list(records.items())
    for i in range(0, len(items), 200):
        batch = items[i : i + 200]
        q = Q()
        for chain, record in batch:
            q |= _chain_q(chain) & Q(seq=record.seq)
        for ws, seq, digest in AuditEvent.objects.filter(q).values_list(
            "workspace_id", "seq", "hash"
        ):
            found[(chain_key(ws), seq)] = digest
    departed = {}
    for chain, record in items:
        now = found.get((chain, record.seq))
        if now != record.hash:
            what = "is gone" if now is None else "has another hash"
            departed[chain] = (
                f"audit chain {chain}: row {record.seq}, recorded in the checkpoint file at "
                f"{record.at}, {what}: rows were removed or rewritten. Its head was not "
                "recorded again; run `commonroom audit verify`."
            )
    return departed


def audit_checkpoint() -> CheckpointResult:
    """Tie the chains' heads together: an ``audit.checkpoint`` row in the system chain names
    every workspace chain whose head moved since this machine's checkpoint file last recorded
    it, and the file gets a line with those heads and the system chain's.

    A chain whose row the file recorded earlier is gone or changed is not recorded again (that
    would bless the damage): it is logged and returned in ``refused``. Safe to run in several
    processes at once (the file's lock orders them); cheap when nothing moved (one query)."""
    result = CheckpointResult()
    key = audit_key()
    path = Path(settings.COMMONROOM_AUDIT_CHECKPOINTS)
    with checkpoints.appending(path) as fd:
        state = checkpoints.read_cached(path, key)
        moved = {
            chain: [seq, digest]
            for chain, seq, digest in AuditChainHead.objects.filter(seq__gt=0).values_list(
                "chain", "seq", "hash"
            )
            if (r := state.latest.get(chain)) is None or (r.seq, r.hash) != (seq, digest)
        }
        departed = _departed({c: state.latest[c] for c in moved if c in state.latest})
        for chain, sentence in departed.items():
            log.error("%s", sentence)
            result.refused.append(sentence)
            moved.pop(chain)
        workspaces = {c: v for c, v in moved.items() if c != SYSTEM_CHAIN}
        if workspaces:
            audit_record(
                action=Action.CHAIN_CHECKPOINT,
                target_type="audit",
                target_label=f"{len(workspaces)} chain(s)",
                data={"heads": workspaces},
            )
        result.recorded = dict(workspaces)
        if SYSTEM_CHAIN not in departed and (workspaces or SYSTEM_CHAIN in moved):
            system = AuditChainHead.objects.get(pk=SYSTEM_CHAIN)
            result.recorded[SYSTEM_CHAIN] = [system.seq, system.hash]
        if result.recorded:
            result.line = checkpoints.append(fd, key, state, result.recorded)
    if result.line and settings.COMMONROOM_AUDIT_SYSLOG:
        checkpoints.to_syslog(settings.COMMONROOM_AUDIT_SYSLOG, result.line)
    return result
