"""Someone who can write the database (plain SQL) but cannot read the audit key or write the
data directory cannot make ``audit verify`` say OK over a forged chain or a cut-off tail.

Before the chains were keyed and checkpointed outside the database, both forgeries below passed:
re-hashing forward from a changed row with the app's own function and moving the head, and
deleting the newest rows and moving the head back.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from commonroom.audit.models import SYSTEM_CHAIN, Action, AuditChainHead, AuditEvent
from commonroom.audit.selectors import audit_verify
from commonroom.audit.services import audit_checkpoint, audit_key, audit_record
from commonroom.audit.tests.tamper import delete_rows, move_head, rehash_forward, rows_of

WS_A = uuid.UUID("aaaaaaaa-0000-4000-8000-00000000000a")
WS_B = uuid.UUID("bbbbbbbb-0000-4000-8000-00000000000b")


@pytest.fixture
def trail(db):
    """Six events in workspace A, three in B, two outside workspaces; then a checkpoint."""
    for i in range(6):
        audit_record(action=Action.DOCUMENT_VIEWED, workspace_id=WS_A, actor_email=f"a{i}@x.org")
        if i < 3:
            audit_record(action=Action.COMMENT_CREATED, workspace_id=WS_B)
        if i < 2:
            audit_record(action=Action.LOGIN_FAILED, actor_email=f"s{i}@x.org")
    checkpoint = audit_checkpoint()
    assert set(checkpoint.recorded) == {str(WS_A), str(WS_B), SYSTEM_CHAIN}
    return checkpoint


def verify_command() -> str:
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    return out.getvalue()


def test_honest_path_says_ok_with_counts(trail):
    audit_record(action=Action.DOCUMENT_VIEWED, workspace_id=WS_A)  # after the checkpoint
    output = verify_command()
    # 6 + 1 in A, 3 in B, 2 + the checkpoint row in the system chain.
    assert "ok: 13 events in 3 chains (2 workspace(s) and the system chain)" in output
    assert "3 chain(s) match the checkpoint file (1 checkpoints" in output
    assert "2 match the trail's own checkpoints" in output
    assert "checkpoint: 2 chain head(s) recorded" in output  # A moved, and the system chain


def sha256_of(row: AuditEvent) -> str:
    """The chain's function before it was keyed (plain SHA-256 of the same payload)."""
    from commonroom.audit.services import HASHED_FIELDS, _canonical

    payload = {name: _canonical(getattr(row, name)) for name in HASHED_FIELDS}
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


@pytest.mark.parametrize("guess", [b"a key of the forger's own, 48 bytes long......", b""])
def test_a_chain_rehashed_forward_without_the_key_is_caught(trail, guess, monkeypatch):
    """The forger changes who viewed row 2 and re-hashes rows 2..6 with the app's own function
    under a key of their own (or the old unkeyed SHA-256), then moves the head."""
    if not guess:
        monkeypatch.setattr(
            "commonroom.audit.tests.tamper.event_hash", lambda row, key: sha256_of(row)
        )
    rehash_forward(str(WS_A), 2, guess, {"actor_email": "someone-else@x.org"})
    result = audit_verify()
    assert result.problems[0].startswith(
        f"the chain of workspace {WS_A}: row 2 was altered (document.viewed at"
    )
    assert result.problems[0].endswith("or written with another audit key")
    with pytest.raises(CommandError, match=f"workspace {WS_A}: row 2 was altered"):
        verify_command()


def test_a_chain_rehashed_forward_even_with_the_key_is_caught_by_the_checkpoint_file(trail):
    """Had the forger the key too, the rows the checkpoint file recorded are no longer those."""
    rehash_forward(str(WS_A), 2, audit_key(), {"actor_email": "someone-else@x.org"})
    result = audit_verify()
    assert not result.ok
    assert any(
        p.startswith(f"the chain of workspace {WS_A}: row 6 is not the one the checkpoint file")
        for p in result.problems
    ), result.problems


def test_newest_rows_deleted_and_head_moved_back_is_caught(trail):
    """Rows 5 and 6 of workspace A removed and A's head moved back to row 4; the checkpoint row
    that named row 6 removed from the system chain too, and its head moved back: the database
    alone now looks whole."""
    rows = rows_of(str(WS_A))
    delete_rows([r.pk for r in rows[4:]])
    move_head(str(WS_A), rows[3].seq, rows[3].hash)
    system = rows_of(SYSTEM_CHAIN)
    assert system[-1].action == Action.CHAIN_CHECKPOINT
    delete_rows([system[-1].pk])
    move_head(SYSTEM_CHAIN, system[-2].seq, system[-2].hash)
    result = audit_verify()
    assert not result.ok
    assert result.problems == [
        f"the system chain: row 3, named by the checkpoint file (line 1, {trail_line_at(1)}), "
        "is gone: the newest rows were removed (and the head moved back)",
        f"the chain of workspace {WS_A}: row 6, named by the checkpoint file (line 1, "
        f"{trail_line_at(1)}), is gone: the newest rows were removed (and the head moved back)",
    ]
    with pytest.raises(CommandError, match="row 3, named by the checkpoint file"):
        verify_command()


def trail_line_at(number: int) -> str:
    from django.conf import settings

    lines = settings.COMMONROOM_AUDIT_CHECKPOINTS.read_text().splitlines()
    return json.loads(lines[number - 1])["at"]


def test_tail_cut_after_a_second_checkpoint_is_caught_in_the_database_and_the_file(trail):
    """With a later checkpoint row in the trail, the cut shows twice: that row (HMAC-sealed in
    the system chain) names the removed row as well as the file."""
    audit_record(action=Action.DOCUMENT_VIEWED, workspace_id=WS_A)  # row 7
    assert str(WS_A) in audit_checkpoint().recorded  # checkpoint row 4 of the system chain
    rows = rows_of(str(WS_A))
    delete_rows([rows[-1].pk])
    move_head(str(WS_A), rows[-2].seq, rows[-2].hash)
    problems = audit_verify().problems
    assert any("row 7, named by the checkpoint file" in p for p in problems), problems
    assert any("row 7, named by checkpoint row 4, is gone" in p for p in problems), problems


def test_a_whole_workspace_chain_removed_is_caught(trail):
    """Every row of workspace B and its head deleted: the checkpoints still name it."""
    delete_rows([r.pk for r in rows_of(str(WS_B))])
    AuditChainHead.objects.filter(pk=str(WS_B)).delete()
    result = audit_verify()
    assert any(
        f"the chain of workspace {WS_B} ends at row 0" in p
        or f"workspace {WS_B}: row 3, named by the checkpoint file" in p
        for p in result.problems
    ), result.problems
    assert not result.ok


def test_the_checkpoint_refuses_to_record_a_cut_and_regrown_chain(trail, caplog):
    """Rows 4..6 of A removed and the head moved back, then four new events make A longer than
    the file recorded: the checkpoint does not record A's new head (that would bless the cut),
    logs why, and verify keeps failing."""
    rows = rows_of(str(WS_A))
    delete_rows([r.pk for r in rows[3:]])
    move_head(str(WS_A), rows[2].seq, rows[2].hash)
    for _ in range(4):
        audit_record(action=Action.DOCUMENT_VIEWED, workspace_id=WS_A)  # rows 4..7 again
    result = audit_checkpoint()
    assert str(WS_A) not in result.recorded
    assert result.refused[0].startswith(f"audit chain {WS_A}: row 6, recorded in the checkpoint")
    assert "has another hash" in result.refused[0]
    assert "rows were removed or rewritten" in caplog.text
    problems = audit_verify().problems
    assert any(f"workspace {WS_A}: row 6 is not the one the checkpoint file" in p for p in problems)


def test_an_altered_checkpoint_file_line_is_caught(trail, settings):
    path = settings.COMMONROOM_AUDIT_CHECKPOINTS
    line = json.loads(path.read_text())
    line["heads"][str(WS_A)][0] = 3  # as if A had only reached row 3
    path.write_text(json.dumps(line) + "\n")
    result = audit_verify()
    assert result.problems[0].startswith("checkpoint file line 1 (")
    assert result.problems[0].endswith("was altered, or written with another audit key")


def test_a_torn_last_line_is_a_note_not_a_fault(trail, settings):
    path = settings.COMMONROOM_AUDIT_CHECKPOINTS
    with path.open("a") as fh:
        fh.write('{"at": "2026-')  # a crash in the middle of a line
    result = audit_verify()
    assert result.ok, result.problems
    assert any("the last line of" in n and "incomplete" in n for n in result.notes)
    # The next checkpoint cuts the half line off, so its own line stands alone.
    audit_record(action=Action.DOCUMENT_VIEWED, workspace_id=WS_A)
    assert str(WS_A) in audit_checkpoint().recorded
    assert '{"at": "2026-' not in path.read_text()
    after = audit_verify()
    assert after.ok, after.problems
    assert after.notes == []


def test_a_head_moved_back_over_rows_still_there_is_caught(trail):
    """Only the head moved back, the rows left: they lie beyond it."""
    move_head(str(WS_B), 2, rows_of(str(WS_B))[1].hash)
    assert audit_verify().problems == [
        f"the chain of workspace {WS_B}: rows 3..3 lie beyond its head (row 2): the head was "
        "moved back"
    ]


def test_a_new_events_chain_is_recorded_by_the_next_checkpoint(trail):
    ws = uuid.uuid4()
    audit_record(action=Action.WORKSPACE_CREATED, workspace_id=ws)
    result = audit_checkpoint()
    assert set(result.recorded) == {str(ws), SYSTEM_CHAIN}
    row = AuditEvent.objects.filter(action=Action.CHAIN_CHECKPOINT).order_by("-seq").first()
    assert row is not None
    assert row.data == {"heads": {str(ws): result.recorded[str(ws)]}}
    assert result.recorded[SYSTEM_CHAIN] == [row.seq, row.hash]  # the head after its own row
    assert audit_checkpoint().recorded == {}  # nothing moved since
