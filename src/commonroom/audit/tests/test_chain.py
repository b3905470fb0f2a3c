"""The audit trail is one HMAC chain per workspace plus the system chain: each runs 1, 2, 3...
on its own, and verify names the first altered or removed row of each, whichever field
changed."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from commonroom.audit.models import (
    SYSTEM_CHAIN,
    Action,
    AuditChainHead,
    AuditEvent,
    action_label,
)
from commonroom.audit.selectors import audit_verify
from commonroom.audit.services import HASHED_FIELDS, AuditKeyMismatch, audit_record
from commonroom.audit.tests.tamper import delete_rows, set_column

WS_A = uuid.UUID("aaaaaaaa-0000-4000-8000-000000000001")
WS_B = uuid.UUID("bbbbbbbb-0000-4000-8000-000000000002")


@pytest.fixture
def chains(db):
    """Five events in workspace A, three in B, two outside workspaces, interleaved."""
    made = []
    for i in range(5):
        made.append(audit_record(action=Action.DOCUMENT_VIEWED, workspace_id=WS_A, data={"i": i}))
        if i < 3:
            made.append(audit_record(action=Action.COMMENT_CREATED, workspace_id=WS_B))
        if i < 2:
            made.append(audit_record(action=Action.LOGIN, actor_email=f"p{i}@example.org"))
    return made


def of(chain_ws):
    return list(AuditEvent.objects.filter(workspace_id=chain_ws).order_by("seq"))


def test_each_chain_runs_from_one_and_has_its_own_head(chains):
    assert [e.seq for e in of(WS_A)] == [1, 2, 3, 4, 5]
    assert [e.seq for e in of(WS_B)] == [1, 2, 3]
    assert [e.seq for e in of(None)] == [1, 2]
    heads = {h.chain: (h.seq, h.hash) for h in AuditChainHead.objects.all()}
    assert heads[str(WS_A)] == (5, of(WS_A)[-1].hash)
    assert heads[str(WS_B)] == (3, of(WS_B)[-1].hash)
    assert heads[SYSTEM_CHAIN] == (2, of(None)[-1].hash)
    assert of(WS_B)[0].prev_hash == "0" * 64  # a chain starts from its own genesis


def test_intact_chains_verify_with_counts(chains):
    result = audit_verify()
    assert result.ok, result.problems
    assert result.checked == 10
    assert {c.chain: c.checked for c in result.chains} == {
        SYSTEM_CHAIN: 2,
        str(WS_A): 5,
        str(WS_B): 3,
    }


def test_the_hash_is_keyed(chains, settings):
    """Recomputed with another key, no row's hash comes out the same."""
    from commonroom.audit.services import event_hash

    row = of(WS_A)[0]
    assert event_hash(row) == row.hash
    assert event_hash(row, b"x" * 48) != row.hash


def _changed(field: str, row: AuditEvent):
    """Another value for ``field`` of ``row``, of the field's own type."""
    return {
        "seq": row.seq + 100,
        "created_at": row.created_at + timedelta(seconds=1),
        "action": "auth.logout",
        "actor_id": 999_999,
        "actor_email": "mallory@example.org",
        "workspace_id": uuid.uuid4(),
        "document_id": uuid.uuid4(),
        "target_type": "user",
        "target_id": "forged",
        "target_label": "Forged label",
        "ip": "10.6.6.6",
        "user_agent": "forger/1.0",
        "data": {"version": 99},
        "prev_hash": "f" * 64,
        "hash": "e" * 64,
    }[field]


@pytest.mark.parametrize("field", [*HASHED_FIELDS, "hash"])
def test_a_change_to_any_hashed_field_is_caught(chains, field):
    """Each of the row's recorded fields (and its hash) changed with plain SQL, one at a time."""
    row = of(WS_A)[2]
    set_column(row.pk, field, _changed(field, row))
    result = audit_verify()
    assert not result.ok
    # Moved to another chain, the row is also a chain with no head; its own chain has a gap.
    assert any(f"workspace {WS_A}: row 3 " in p for p in result.problems), result.problems


def test_fourteen_fields_are_hashed():
    """The tamper test above covers every one of them: a field added to the row must be added
    to the hash (and so to that test)."""
    recorded = {f.name for f in AuditEvent._meta.get_fields() if f.name not in ("id", "hash")}
    assert set(HASHED_FIELDS) == recorded
    assert len(HASHED_FIELDS) == 14


def test_removed_middle_row_is_reported(chains):
    delete_rows([of(WS_B)[1].pk])
    result = audit_verify()
    assert not result.ok
    assert result.problems == [
        f"the chain of workspace {WS_B}: row 2 is missing (rows 2..2 were removed)"
    ]


def test_removed_last_row_is_reported(chains):
    delete_rows([of(None)[-1].pk])
    result = audit_verify()
    assert not result.ok
    assert "the system chain ends at row 1 but its head says row 2" in result.problems[0]


def test_a_removed_head_is_reported(chains):
    AuditChainHead.objects.filter(pk=str(WS_B)).delete()
    result = audit_verify()
    assert f"the chain of workspace {WS_B} has rows but no head" in result.problems[0]


def test_one_workspace_can_be_verified_alone(chains):
    set_column(of(WS_B)[0].pk, "ip", "10.0.0.1")
    alone = audit_verify(workspace_id=WS_A)
    assert alone.ok, alone.problems
    assert [(c.chain, c.checked) for c in alone.chains] == [(str(WS_A), 5)]
    broken = audit_verify(workspace_id=WS_B)
    assert broken.problems[0].startswith(f"the chain of workspace {WS_B}: row 1 was altered")


def test_since_starts_each_walk_at_the_last_row_before_it(chains):
    """Rows before the date are not walked, but the row the walk starts from is checked."""
    later = timezone.now() + timedelta(days=1)
    assert audit_verify(since=later).ok
    assert audit_verify(since=later).checked == 0
    set_column(of(WS_A)[0].pk, "ip", "10.0.0.1")  # before the date, not the starting row
    assert audit_verify(since=later).ok
    assert not audit_verify().ok
    set_column(of(WS_A)[-1].pk, "ip", "10.0.0.1")  # the starting row itself
    assert "row 5 was altered" in audit_verify(since=later).problems[0]


def test_since_yesterday_walks_todays_rows(chains):
    result = audit_verify(since=timezone.now() - timedelta(days=1))
    assert result.ok
    assert result.checked == 10


def test_rows_appended_during_a_walk_are_not_reported_as_removed(chains, monkeypatch):
    """verify judges each chain up to the head it read first; later appends are not tampering."""
    from commonroom.audit import selectors

    real_filter = selectors.AuditEvent.objects.filter

    def filter_then_append(*args, **kwargs):
        queryset = real_filter(*args, **kwargs)
        audit_record(action=Action.DOCUMENT_VIEWED, workspace_id=WS_A)
        return queryset

    monkeypatch.setattr(selectors.AuditEvent.objects, "filter", filter_then_append)
    result = audit_verify(workspace_id=WS_A)
    assert result.ok, result.problems
    assert 5 <= result.checked < AuditEvent.objects.filter(workspace_id=WS_A).count()


def test_an_action_is_a_plain_string_with_no_choices(db):
    """A new action needs no migration: the column has no choices, and an action this version
    does not know is recorded, verified and shown as itself."""
    assert AuditEvent._meta.get_field("action").choices is None
    event = audit_record(action="signoff.certified", workspace_id=WS_A)
    assert audit_verify().ok
    assert event is not None and event.action_label == "signoff.certified"
    assert action_label(Action.LOGIN) == "Signed in"


def test_another_key_refuses_to_write(chains, settings):
    """A server with another audit key writes nothing rather than rows that never verify."""
    settings.COMMONROOM_AUDIT_KEY = b"k" * 48
    with pytest.raises(AuditKeyMismatch, match="not the one audit chain"):
        audit_record(action=Action.DOCUMENT_VIEWED, workspace_id=WS_A)
    result = audit_verify()
    assert "or written with another audit key" in result.problems[0]


def test_a_keys_name_is_its_own_whichever_keys_were_named_before(settings):
    """``key_id`` (worked out once per key) names each key as its HMAC does, the key in use
    followed when the setting changes."""
    import hashlib
    import hmac

    from commonroom.audit.services import key_id

    def named(key: bytes) -> str:
        return hmac.new(key, b"commonroom audit key id", hashlib.sha256).hexdigest()[:16]

    first = key_id()
    assert first == named(bytes(settings.COMMONROOM_AUDIT_KEY))
    settings.COMMONROOM_AUDIT_KEY = b"k" * 48
    assert key_id() == named(b"k" * 48) != first
    assert key_id(b"j" * 48) == named(b"j" * 48)
    assert key_id(b"k" * 48) == key_id()


def test_csv_cells_never_start_a_formula():
    from commonroom.audit.selectors import csv_cell

    assert csv_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert csv_cell("+1") == "'+1"
    assert csv_cell("-1") == "'-1"
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("minutes.docx") == "minutes.docx"
