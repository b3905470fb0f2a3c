"""The audit trail is append-only and hash-chained: verify names the first altered row."""

from __future__ import annotations

import pytest

from commonroom.audit.models import Action, AuditEvent
from commonroom.audit.selectors import audit_verify
from commonroom.audit.services import audit_record


@pytest.fixture
def chain(db):
    return [audit_record(action=Action.LOGIN, actor_email=f"p{i}@example.org") for i in range(5)]


def test_intact_chain_verifies(chain):
    result = audit_verify()
    assert result.ok
    assert result.checked == 5
    assert result.head_seq == chain[-1].seq


def test_altered_row_is_reported(chain):
    AuditEvent.objects.filter(seq=chain[2].seq).update(actor_email="mallory@example.org")
    result = audit_verify()
    assert not result.ok
    assert result.first_bad_seq == chain[2].seq
    assert "altered" in result.problems[0]


def test_removed_middle_row_is_reported(chain):
    AuditEvent.objects.filter(seq=chain[1].seq).delete()
    result = audit_verify()
    assert not result.ok
    assert result.first_bad_seq == chain[1].seq
    assert "missing" in result.problems[0]


def test_removed_last_row_is_reported(chain):
    AuditEvent.objects.filter(seq=chain[-1].seq).delete()
    result = audit_verify()
    assert not result.ok
    assert result.first_bad_seq == chain[-1].seq


def test_rehashed_forgery_still_breaks_the_link(chain):
    """Recomputing one row's own hash is not enough: the next row names the old one."""
    from commonroom.audit.services import event_hash

    row = AuditEvent.objects.get(seq=chain[2].seq)
    row.actor_email = "mallory@example.org"
    row.hash = event_hash(row)
    row.save()
    result = audit_verify()
    assert not result.ok
    assert result.first_bad_seq == chain[3].seq


def test_rows_appended_during_a_walk_are_not_reported_as_removed(chain, monkeypatch):
    """verify judges the chain up to the head it read first; later appends are not tampering."""
    from commonroom.audit import selectors

    real_filter = selectors.AuditEvent.objects.filter

    def filter_then_append(*args, **kwargs):
        queryset = real_filter(*args, **kwargs)
        audit_record(action=Action.LOGIN, actor_email="late@example.org")
        return queryset

    monkeypatch.setattr(selectors.AuditEvent.objects, "filter", filter_then_append)
    result = audit_verify()
    assert result.ok, result.problems
    assert result.checked == 5


def test_csv_cells_never_start_a_formula():
    from commonroom.audit.selectors import csv_cell

    assert csv_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert csv_cell("+1") == "'+1"
    assert csv_cell("-1") == "'-1"
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("minutes.docx") == "minutes.docx"
