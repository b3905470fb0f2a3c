"""Migration 0007 moves the single global chain (SHA-256, one head) into per-workspace chains:
it verifies the old chain first and refuses, with a sentence and changing nothing, when it does
not verify; the chains it makes verify; the old head is kept in the trail."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from commonroom.audit.models import SYSTEM_CHAIN, Action, AuditChainHead, AuditEvent
from commonroom.audit.selectors import audit_verify

BEFORE = [("audit", "0005_preview_viewed_action")]
AFTER = [("audit", "0008_per_workspace_chains_constraints")]
WS_A = uuid.UUID("aaaaaaaa-0000-4000-8000-0000000000aa")
WS_B = uuid.UUID("bbbbbbbb-0000-4000-8000-0000000000bb")
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


def old_hash(row: Any) -> str:
    """The chain's function before this change: SHA-256 of the canonical fields."""

    def canonical(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if isinstance(value, uuid.UUID):
            return str(value)
        return value

    payload = {name: canonical(getattr(row, name)) for name in FIELDS}
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


def latest() -> list[tuple[str, str]]:
    """The audit app's newest migration: where the other tests' schema is (not 0008 above,
    which later migrations build on)."""
    return MigrationExecutor(connection).loader.graph.leaf_nodes("audit")


def migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


@pytest.fixture
def old_trail(transactional_db):
    """Migrated back to 0005: nine rows in the old single chain (A, B and no workspace, mixed),
    written as the old code wrote them."""
    apps = migrate(BEFORE)
    OldEvent = apps.get_model("audit", "AuditEvent")
    OldHead = apps.get_model("audit", "AuditHead")
    prev = "0" * 64
    start = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    layout = [WS_A, None, WS_A, WS_B, WS_A, None, WS_B, WS_A, WS_A]
    for seq, ws in enumerate(layout, 1):
        row = OldEvent(
            seq=seq,
            created_at=start + timedelta(minutes=seq),
            action="document.viewed" if ws else "auth.login",
            actor_id=seq,
            actor_email=f"person{seq}@example.org",
            workspace_id=ws,
            target_type="document" if ws else "user",
            target_label=f"thing {seq}",
            data={"n": seq},
            prev_hash=prev,
        )
        row.hash = old_hash(row)
        row.save()
        prev = row.hash
    OldHead.objects.update_or_create(pk=1, defaults={"seq": len(layout), "hash": prev})
    yield {"apps": apps, "head": (len(layout), prev), "layout": layout}
    with mock.patch.dict(os.environ, {"COMMONROOM_AUDIT_MIGRATE_BROKEN": "1"}):
        migrate(latest())  # the schema the other tests expect, whatever this test left


def test_the_old_chain_moves_into_per_workspace_chains_that_verify(old_trail):
    migrate(AFTER)

    def seqs(ws: Any) -> list[int]:
        return list(
            AuditEvent.objects.filter(workspace_id=ws).order_by("seq").values_list("seq", flat=True)
        )

    assert seqs(WS_A) == [1, 2, 3, 4, 5]
    assert seqs(WS_B) == [1, 2]
    # Two sign-ins, then the row that says what was moved.
    assert seqs(None) == [1, 2, 3]
    moved = AuditEvent.objects.get(action=Action.CHAINS_MOVED)
    seq, digest = old_trail["head"]
    assert moved.data == {
        "rows": 9,
        "chains": 3,
        "old_head_seq": seq,
        "old_head_hash": digest,
        "old_chain": "verified",
    }
    # The rows' recorded fields are untouched; only their place and hashes changed.
    assert list(
        AuditEvent.objects.filter(workspace_id=WS_A)
        .order_by("seq")
        .values_list("actor_id", flat=True)
    ) == [1, 3, 5, 8, 9]
    assert set(AuditChainHead.objects.values_list("chain", flat=True)) == {
        str(WS_A),
        str(WS_B),
        SYSTEM_CHAIN,
    }
    result = audit_verify()
    assert result.ok, result.problems
    assert result.checked == 10


def test_a_broken_old_chain_is_refused_with_a_sentence_and_nothing_moves(old_trail, monkeypatch):
    OldEvent = old_trail["apps"].get_model("audit", "AuditEvent")
    OldEvent.objects.filter(seq=4).update(actor_email="mallory@example.org")
    before = sorted(OldEvent.objects.values_list("id", "seq", "hash"))
    with pytest.raises(RuntimeError, match=r"The audit trail does not verify \(row 4 was altered"):
        migrate(AFTER)
    assert sorted(AuditEvent.objects.values_list("id", "seq", "hash")) == before
    assert not AuditChainHead.objects.exists()

    # Told to go ahead, it moves the rows and writes what it found into the trail.
    monkeypatch.setenv("COMMONROOM_AUDIT_MIGRATE_BROKEN", "1")
    migrate(AFTER)
    moved = AuditEvent.objects.get(action=Action.CHAINS_MOVED)
    assert moved.data["old_chain"].startswith("row 4 was altered")
    assert audit_verify().ok


def test_removed_newest_old_rows_are_refused(old_trail):
    OldEvent = old_trail["apps"].get_model("audit", "AuditEvent")
    OldEvent.objects.filter(seq=9).delete()
    with pytest.raises(RuntimeError, match="the chain ends at row 8 but row 9 was written"):
        migrate(AFTER)


def test_after_the_move_each_head_learns_its_chains_latest_time_and_order(old_trail):
    """Migration 0011: the heads written before it learn their chain's latest time and
    whether its rows' times are in order; a chain with a row timed before the row before it
    (a clock stepped back while it was written) is marked out of order."""
    migrate(latest())
    heads = dict(AuditChainHead.objects.values_list("chain", "last_at"))
    assert heads[str(WS_A)] == datetime(2026, 11, 1, 9, 9, tzinfo=UTC)
    assert heads[str(WS_B)] == datetime(2026, 11, 1, 9, 7, tzinfo=UTC)
    system_last = AuditEvent.objects.filter(workspace_id__isnull=True).latest("seq")
    assert heads[SYSTEM_CHAIN] == system_last.created_at
    assert set(
        AuditChainHead.objects.filter(times_in_order=True).values_list("chain", flat=True)
    ) == {
        str(WS_A),
        str(WS_B),
        SYSTEM_CHAIN,
    }

    migrate([("audit", "0010_trail_page_indexes")])
    # WS_B's last row timed before the one before it, as a clock stepped back would write it.
    last_b = AuditEvent.objects.filter(workspace_id=WS_B).order_by("id").last()
    assert last_b is not None
    AuditEvent.objects.filter(pk=last_b.pk).update(
        created_at=datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    )
    migrate(latest())
    in_order = dict(AuditChainHead.objects.values_list("chain", "times_in_order"))
    assert in_order == {str(WS_A): True, str(WS_B): False, SYSTEM_CHAIN: True}
