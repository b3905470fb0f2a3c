"""Backup and restore carry the audit trail's key and checkpoint file as they carry the secret
key: copied when they live in the data directory (never printed), put back by restore, so the
restored trail verifies against the same key and the same checkpoints."""

from __future__ import annotations

import json
import os
import secrets
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from commonroom.core.tests.test_backup import commonroom, new_installation
from commonroom.documents.tests.factories import upload

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_audit_key_and_checkpoints_are_backed_up_and_restored(
    team, settings, tmp_path, monkeypatch
):
    monkeypatch.delenv("COMMONROOM_AUDIT_KEY", raising=False)
    upload(team.editor, team.workspace, "rota.txt", b"Monday: Priya\n")
    call_command("audit", "verify", stdout=StringIO())  # writes the first checkpoint
    key = (Path(settings.DATA_DIR) / "audit_key").read_text().strip()
    checkpoints = settings.COMMONROOM_AUDIT_CHECKPOINTS.read_bytes()
    out = StringIO()
    call_command("backup", str(tmp_path / "backup"), stdout=out)
    said = out.getvalue()
    assert "The audit key lives in the data directory and was copied to audit_key" in said
    assert "The audit checkpoint file (1 checkpoints) was copied" in said
    copied = tmp_path / "backup" / "audit_key"
    assert copied.read_text().strip() == key
    assert copied.stat().st_mode & 0o077 == 0
    assert (tmp_path / "backup" / "audit-checkpoints.jsonl").read_bytes() == checkpoints
    info = json.loads((tmp_path / "backup" / "backup.json").read_text())
    assert info["audit_key"]["included"] and info["audit_checkpoints"]["lines"] == 1
    for text in (said, json.dumps(info)):
        assert key not in text

    with new_installation(tmp_path) as (env, data_dir):
        env.pop("COMMONROOM_AUDIT_KEY", None)
        done = commonroom("restore", str(tmp_path / "backup"), env=env)
        assert done.returncode == 0, done.stdout + done.stderr
    assert (data_dir / "audit_key").read_text().strip() == key
    assert (data_dir / "audit_key").stat().st_mode & 0o077 == 0
    assert "The audit key from the backup was put in" in done.stdout
    assert "The audit checkpoint file from the backup (1 checkpoints) was put in" in done.stdout
    # The restored trail verifies with the key, against the checkpoints taken before the backup.
    assert "2 chain(s) match the checkpoint file (1 checkpoints" in done.stdout
    restored = (data_dir / "audit-checkpoints.jsonl").read_bytes()
    assert restored.startswith(checkpoints)
    assert key not in done.stdout


def test_an_audit_key_from_the_environment_is_noted_and_left_out(team, tmp_path, monkeypatch):
    monkeypatch.setenv("COMMONROOM_AUDIT_KEY", "an-environment-audit-key-" + secrets.token_hex(20))
    out = StringIO()
    call_command("backup", str(tmp_path / "backup"), stdout=out)
    assert not (tmp_path / "backup" / "audit_key").exists()
    assert "COMMONROOM_AUDIT_KEY is set in the environment and is not in this backup" in (
        out.getvalue()
    )
    assert os.environ["COMMONROOM_AUDIT_KEY"] not in out.getvalue()
    assert "There is no audit checkpoint file yet." in out.getvalue()
