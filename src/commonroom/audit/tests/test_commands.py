"""``commonroom audit verify``: exit 0 on an intact chain, an error naming the first bad row."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from commonroom.audit.models import Action, AuditEvent, AuditHead
from commonroom.audit.services import audit_record


@pytest.fixture
def chain(db):
    return [
        audit_record(action=Action.LOGIN, actor_email=f"person{i}@example.org") for i in range(4)
    ]


def verify() -> str:
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    return out.getvalue()


def test_intact_chain_passes(chain):
    output = verify()
    head = AuditHead.objects.get()
    assert output.startswith("ok: 4 events")
    assert f"#{head.seq} {head.hash}" in output


def test_empty_trail_passes(db):
    assert verify().startswith("ok: 0 events")


def test_altered_row_fails_naming_the_row(chain):
    AuditEvent.objects.filter(seq=chain[1].seq).update(ip="10.0.0.1")
    out = StringIO()
    with pytest.raises(CommandError, match=rf"row {chain[1].seq}\b"):
        call_command("audit", "verify", stdout=out)
    assert f"row {chain[1].seq} was altered" in out.getvalue()


def test_removed_row_fails_naming_the_row(chain):
    AuditEvent.objects.filter(seq=chain[2].seq).delete()
    with pytest.raises(CommandError, match=rf"row {chain[2].seq}\b"):
        verify()


def test_removed_newest_row_fails(chain):
    AuditEvent.objects.filter(seq=chain[-1].seq).delete()
    with pytest.raises(CommandError, match=rf"row {chain[-1].seq}\b"):
        verify()
