"""``commonroom audit verify [--workspace ID] [--since DATE]``: exit 0 with counts on intact
chains (and write a checkpoint), an error naming the chain and row otherwise; bad options get a
sentence."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from commonroom.audit.models import Action, AuditChainHead, AuditEvent
from commonroom.audit.services import audit_record
from commonroom.audit.tests.tamper import delete_rows, set_column

WS = uuid.UUID("cccccccc-0000-4000-8000-000000000003")


@pytest.fixture
def chain(db):
    made = [audit_record(action=Action.DOCUMENT_VIEWED, workspace_id=WS) for _ in range(4)]
    audit_record(action=Action.LOGIN, actor_email="person@example.org")
    return made


def verify(*args: str) -> str:
    out = StringIO()
    call_command("audit", "verify", *args, stdout=out)
    return out.getvalue()


def test_intact_chains_pass_with_counts_and_a_checkpoint(chain, settings):
    output = verify()
    assert "ok: 5 events in 2 chains (1 workspace(s) and the system chain)" in output
    assert "checkpoint: 2 chain head(s) recorded" in output
    assert settings.COMMONROOM_AUDIT_CHECKPOINTS.exists()
    again = verify()
    assert "2 chain(s) match the checkpoint file (1 checkpoints" in again
    assert "1 match the trail's own checkpoints" in again  # the workspace's, in checkpoint row 2
    assert "checkpoint: no head moved since the last one" in again


def test_one_workspace(chain):
    head = AuditChainHead.objects.get(pk=str(WS))
    output = verify("--workspace", str(WS))
    assert f"ok: 4 events in the chain of workspace {WS} (rows 1..4), head #4 {head.hash}" in (
        output
    )
    # That run's checkpoint named the workspace's head, in the file and in the trail.
    again = verify("--workspace", str(WS))
    assert "1 chain(s) match the checkpoint file" in again
    assert "1 match the trail's own checkpoints" in again


def test_since(chain):
    assert "ok: 0 events from 2999-01-01 on in 2 chains" in verify("--since", "2999-01-01")
    # The first run's checkpoint row is one more event in the system chain.
    assert "ok: 6 events from 2000-01-01 on" in verify("--since", "2000-01-01")


def test_empty_trail_passes(db):
    output = verify()
    assert output.startswith("ok: 0 events in 1 chains")
    assert "ok: 0 events in 1 chains (0 workspace(s) and the system chain)" in output
    assert "note: there is no checkpoint file at" in output
    assert "checkpoint: no head moved since the last one" in output


def test_altered_row_fails_naming_the_chain_and_row(chain):
    set_column(chain[1].pk, "ip", "10.0.0.1")
    out = StringIO()
    with pytest.raises(CommandError, match=rf"workspace {WS}: row 2 was altered"):
        call_command("audit", "verify", stdout=out)
    assert f"the chain of workspace {WS}: row 2 was altered" in out.getvalue()
    assert "checkpoint:" not in out.getvalue()  # a broken trail is never checkpointed


def test_removed_row_fails_naming_the_row(chain):
    delete_rows([chain[2].pk])
    with pytest.raises(CommandError, match=r"row 3 is missing"):
        verify()


def test_removed_newest_row_fails(chain):
    delete_rows([chain[-1].pk])
    with pytest.raises(CommandError, match=r"ends at row 3 but its head says row 4"):
        verify()


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (("--workspace", "not-a-uuid"), "--workspace takes a workspace id"),
        (("--since", "yesterday"), "--since takes a date as YYYY-MM-DD"),
        (("--workspace", str(uuid.UUID(int=7))), "There is no audit chain for workspace"),
    ],
)
def test_bad_options_get_a_sentence(chain, args, sentence):
    with pytest.raises(CommandError, match=sentence):
        verify(*args)
    assert AuditEvent.objects.count() == 5  # nothing written, not even a checkpoint


def test_a_checkpoint_file_that_cannot_be_read_fails_verify(chain, settings, tmp_path):
    settings.COMMONROOM_AUDIT_CHECKPOINTS = tmp_path / "a-folder"
    settings.COMMONROOM_AUDIT_CHECKPOINTS.mkdir()
    with pytest.raises(CommandError, match=r"the checkpoint file .*a-folder cannot be read"):
        verify()


def test_a_checkpoint_that_cannot_be_written_is_said_plainly(chain, settings):
    """On a real full disk: the trail verifies, and the command says the checkpoint failed."""
    from commonroom.core.tests.small_disk import fill, small_disk

    with small_disk(64) as disk:
        settings.COMMONROOM_AUDIT_CHECKPOINTS = disk / "audit-checkpoints.jsonl"
        fill(disk)
        out = StringIO()
        with pytest.raises(
            CommandError, match="The trail verifies, but its checkpoint could not be written"
        ):
            call_command("audit", "verify", stdout=out)
        left = settings.COMMONROOM_AUDIT_CHECKPOINTS.read_bytes()
        assert left == b"" or left.endswith(b"\n")  # never half a line
    assert "ok: 5 events" in out.getvalue()
