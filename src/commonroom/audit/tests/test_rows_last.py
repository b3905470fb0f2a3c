"""audit_rows_last: the rows recorded inside it are written when the outermost block ends, and
what it hands back is honest: nothing inside the block (nothing is written yet), the saved rows
(pk, seq, hash) once they are, none from a block that raised."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from commonroom.audit.models import Action, AuditEvent
from commonroom.audit.selectors import audit_verify
from commonroom.audit.services import audit_record, audit_rows_last

pytestmark = pytest.mark.django_db

WS = uuid.UUID("cccccccc-0000-4000-8000-000000000003")


def record(label: str) -> AuditEvent | None:
    return audit_record(action=Action.DOCUMENT_VIEWED, workspace_id=WS, target_label=label)


def test_the_block_gives_the_saved_rows_once_written_and_nothing_before() -> None:
    with transaction.atomic(), audit_rows_last() as written:
        assert record("first") is None and record("second") is None
        assert written == [] and not AuditEvent.objects.exists()
    assert [e.target_label for e in written] == ["first", "second"]
    assert all(e.pk is not None and e.hash for e in written)
    assert [e.seq for e in written] == [1, 2]
    rows = list(AuditEvent.objects.order_by("seq"))
    assert [(e.pk, e.seq, e.hash) for e in written] == [(e.pk, e.seq, e.hash) for e in rows]
    outside = record("third")
    assert outside is not None and outside.seq == 3 and outside.pk is not None
    assert audit_verify().ok


def test_an_inner_block_s_rows_are_given_when_the_outermost_block_ends() -> None:
    with transaction.atomic(), audit_rows_last() as outer:
        record("before")
        with audit_rows_last() as inner:
            record("inner")
        assert inner == [] and not AuditEvent.objects.exists()
        record("after")
    assert [e.target_label for e in inner] == ["inner"] and inner[0].pk is not None
    assert [e.target_label for e in outer] == ["before", "inner", "after"]
    assert inner[0] is outer[1]
    assert AuditEvent.objects.count() == 3


def test_a_block_that_raised_gives_nothing_and_writes_nothing() -> None:
    with transaction.atomic(), audit_rows_last() as outer:
        record("kept")
        try:
            with transaction.atomic(), audit_rows_last() as failed:
                record("dropped")
                raise RuntimeError("refused")
        except RuntimeError:
            pass
    assert failed == []
    assert [e.target_label for e in outer] == ["kept"]
    assert list(AuditEvent.objects.values_list("target_label", flat=True)) == ["kept"]
