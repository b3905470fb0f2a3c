"""Per-workspace audit chains, step 2 of 3: move the rows of the single global chain into one
chain per workspace (and the system chain for events outside workspaces).

1. The old chain is verified first, as the old code did (SHA-256, the single head). If it does
   not verify, nothing is moved and the migration stops with a sentence saying where it broke:
   re-chaining a damaged trail would hide the damage behind valid new hashes. To move it all
   the same (after investigating), set ``COMMONROOM_AUDIT_MIGRATE_BROKEN=1``: what was found is
   then written into the trail itself.
2. Each row, in the old order, gets its place in its chain (``seq``), the previous row of that
   chain (``prev_hash``) and an HMAC keyed with the audit key (``hash``). Nothing else changes.
3. An ``audit.rechained`` row in the system chain records the old chain's last seq and hash
   (for anyone who kept them elsewhere) and what was moved; each chain gets its head.
4. The new chains are verified; the migration fails if they do not.

The hashing and the walks are copied here, not imported, so that later changes to the app
cannot change what this migration did.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import migrations
from django.utils import timezone

GENESIS = "0" * 64
SYSTEM = "system"
BATCH = 2000
FIELDS = (
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


class AuditTrailBroken(RuntimeError):
    pass


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _payload(row: Any) -> bytes:
    fields = {name: _canonical(getattr(row, name)) for name in FIELDS}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _old_hash(row: Any) -> str:
    return hashlib.sha256(_payload(row)).hexdigest()


def _new_hash(row: Any, key: bytes) -> str:
    return hmac.new(key, _payload(row), hashlib.sha256).hexdigest()


def _chain(row: Any) -> str:
    return SYSTEM if row.workspace_id is None else str(row.workspace_id)


def _old_problem(AuditEvent: Any, head_seq: int, head_hash: str) -> str | None:
    """Walk the old chain as ``audit verify`` did; the first fault, or None."""
    expected, prev, last = 1, GENESIS, 0
    while True:
        rows = list(
            AuditEvent.objects.filter(seq__gt=last, seq__lte=head_seq).order_by("seq")[:BATCH]
        )
        if not rows:
            break
        for row in rows:
            if row.seq != expected:
                return f"row {expected} is missing (rows {expected}..{row.seq - 1} were removed)"
            if row.prev_hash != prev or _old_hash(row) != row.hash:
                return f"row {row.seq} was altered ({row.action} at {row.created_at.isoformat()})"
            prev = row.hash
            expected += 1
        last = rows[-1].seq
    if expected - 1 != head_seq or prev != head_hash:
        return f"the chain ends at row {expected - 1} but row {head_seq} was written: rows removed"
    beyond = AuditEvent.objects.filter(seq__gt=head_seq).count()
    if beyond:
        return f"{beyond} row(s) after the head (row {head_seq}) were added outside the app"
    return None


def _new_problem(AuditEvent: Any, AuditChainHead: Any, key: bytes) -> str | None:
    for head in AuditChainHead.objects.all():
        rows_of = (
            AuditEvent.objects.filter(workspace_id__isnull=True)
            if head.chain == SYSTEM
            else AuditEvent.objects.filter(workspace_id=head.chain)
        )
        expected, prev, last = 1, GENESIS, 0
        while True:
            rows = list(rows_of.filter(seq__gt=last).order_by("seq")[:BATCH])
            if not rows:
                break
            for row in rows:
                if row.seq != expected or row.prev_hash != prev or _new_hash(row, key) != row.hash:
                    return f"chain {head.chain}: row {row.seq} does not verify after the move"
                prev = row.hash
                expected += 1
            last = rows[-1].seq
        if expected - 1 != head.seq or prev != head.hash:
            return f"chain {head.chain}: its head does not match its last row after the move"
    return None


def rechain(apps: Any, schema_editor: Any) -> None:
    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditHead = apps.get_model("audit", "AuditHead")
    AuditChainHead = apps.get_model("audit", "AuditChainHead")
    key = bytes(settings.COMMONROOM_AUDIT_KEY)
    key_id = hmac.new(key, b"commonroom audit key id", hashlib.sha256).hexdigest()[:16]

    old = AuditHead.objects.filter(pk=1).first()
    head_seq, head_hash = (old.seq, old.hash) if old else (0, GENESIS)
    problem = _old_problem(AuditEvent, head_seq, head_hash)
    if problem and os.environ.get("COMMONROOM_AUDIT_MIGRATE_BROKEN") != "1":
        raise AuditTrailBroken(
            f"The audit trail does not verify ({problem}), so it was not moved to "
            "per-workspace chains: that would hide the damage behind new, valid hashes. "
            "Nothing was changed. Find out what happened (the old `commonroom audit verify` "
            "names the same row); to move it all the same, run the migration again with "
            "COMMONROOM_AUDIT_MIGRATE_BROKEN=1, which writes what was found into the trail."
        )

    heads: dict[str, tuple[int, str]] = {}
    moved = 0
    last_old = 0
    while True:
        # A row's place in its chain is never above its old place in the one chain, so rows
        # already moved never come back into this page (old seq > last_old).
        rows = list(AuditEvent.objects.filter(seq__gt=last_old).order_by("seq")[:BATCH])
        if not rows:
            break
        last_old = rows[-1].seq
        for row in rows:
            chain = _chain(row)
            seq, prev = heads.get(chain, (0, GENESIS))
            row.seq = seq + 1
            row.prev_hash = prev
            row.hash = _new_hash(row, key)
            heads[chain] = (row.seq, row.hash)
        AuditEvent.objects.bulk_update(rows, ["seq", "prev_hash", "hash"])
        moved += len(rows)

    if moved:
        seq, prev = heads.get(SYSTEM, (0, GENESIS))
        data: dict[str, Any] = {
            "rows": moved,
            "chains": len(heads),
            "old_head_seq": head_seq,
            "old_head_hash": head_hash,
            "old_chain": problem or "verified",
        }
        event = AuditEvent(
            seq=seq + 1,
            created_at=timezone.now(),
            action="audit.rechained",
            actor_id=None,
            actor_email="",
            workspace_id=None,
            document_id=None,
            target_type="audit",
            target_id="",
            target_label=f"{moved} events into {len(heads)} chain(s)",
            ip="",
            user_agent="",
            data=json.loads(json.dumps(data)),
            prev_hash=prev,
        )
        event.hash = _new_hash(event, key)
        event.save(force_insert=True)
        heads[SYSTEM] = (event.seq, event.hash)
    heads.setdefault(SYSTEM, (0, GENESIS))
    AuditChainHead.objects.bulk_create(
        [AuditChainHead(chain=c, seq=s, hash=h, key_id=key_id) for c, (s, h) in heads.items()]
    )
    after = _new_problem(AuditEvent, AuditChainHead, key)
    if after:
        raise AuditTrailBroken(f"Moving the audit trail went wrong ({after}); nothing was changed.")
    if moved:
        print(  # noqa: T201 (the operator running migrate sees what happened to the trail)
            f"\n  Audit trail: {moved} events moved into {len(heads)} chain(s) and verified; "
            f"the old chain ended at row {head_seq} {head_hash}."
        )


def unchain(apps: Any, schema_editor: Any) -> None:
    """Back to the single chain: only an empty trail (the chains cannot be merged back into
    one chain the old code would verify)."""
    if apps.get_model("audit", "AuditEvent").objects.exists():
        raise AuditTrailBroken(
            "The audit trail is in per-workspace chains, which cannot be turned back into the "
            "single chain of the previous version: restore a backup taken before the upgrade "
            "to go back. Nothing was changed."
        )
    apps.get_model("audit", "AuditChainHead").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_per_workspace_chains_schema")]

    operations = [migrations.RunPython(rechain, unchain)]
