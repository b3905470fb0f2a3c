"""Backup and restore carry the installation's records-signing key and certificate as they
carry the audit key, so a certificate PDF signed before the backup verifies in the restored
installation (its signature and its SHA-256 against the restored version)."""

from __future__ import annotations

import dataclasses
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from commonroom.certificates import render, signing
from commonroom.certificates.tests.support import facts_for
from commonroom.core.tests.test_backup import commonroom, new_installation
from commonroom.documents.tests.factories import upload

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_records_signing_identity_is_backed_up_and_restored(
    team, settings, tmp_path, monkeypatch
):
    monkeypatch.delenv("COMMONROOM_RECORDS_SIGNING_KEY", raising=False)
    settings.COMMONROOM_RECORDS_SIGNING_KEY = ""
    settings.COMMONROOM_RECORDS_SIGNING_CERT = ""
    page, _ = render.text_pages(["The minutes as approved."], heading="Minutes")
    version = upload(team.manager, team.workspace, "minutes.pdf", page)
    facts = dataclasses.replace(
        facts_for(page, file_name="minutes.pdf", document_id=str(version.document_id)),
        version_number=version.number,
    )
    record = tmp_path / "record.pdf"
    record.write_bytes(signing.certificate_pdf(facts, data=page))
    folder = Path(settings.DATA_DIR) / "records-signing"
    key = (folder / "key.pem").read_bytes()

    out = StringIO()
    call_command("backup", str(tmp_path / "backup"), stdout=out)
    assert "The records-signing key and certificate live in the data directory" in out.getvalue()
    saved = tmp_path / "backup" / "records_signing_key.pem"
    assert saved.read_bytes() == key and saved.stat().st_mode & 0o077 == 0
    info = json.loads((tmp_path / "backup" / "backup.json").read_text())
    assert info["records_signing"]["included"]
    manifest = (tmp_path / "backup" / "manifest.sha256").read_text()
    assert "records_signing_key.pem" in manifest and "records_signing_cert.pem" in manifest

    with new_installation(tmp_path) as (env, data_dir):
        done = commonroom("restore", str(tmp_path / "backup"), env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "The records-signing key and certificate from the backup were put in" in (
            done.stdout
        )
        restored = data_dir / "records-signing"
        assert (restored / "key.pem").read_bytes() == key
        assert (restored / "key.pem").stat().st_mode & 0o077 == 0
        assert restored.stat().st_mode & 0o777 == 0o700
        checked = commonroom("record", "verify", str(record), env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("OK") == 2
