"""``commonroom record verify FILE``: the signature and the stored version's SHA-256, one
sentence per check, exit 0 only when both hold."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
from django.core.management import call_command

from commonroom.certificates import render, signing
from commonroom.certificates.tests.support import facts_for
from commonroom.documents.tests.factories import upload


@pytest.fixture
def record(team, settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    settings.COMMONROOM_RECORDS_SIGNING_KEY = ""
    settings.COMMONROOM_RECORDS_SIGNING_CERT = ""
    page, _ = render.text_pages(["The minutes as approved."], heading="Minutes")
    version = upload(team.manager, team.workspace, "minutes.pdf", page)
    facts = dataclasses.replace(
        facts_for(page, file_name="minutes.pdf", document_id=str(version.document_id)),
        version_number=version.number,
    )
    return version, facts, signing.certificate_pdf(facts, data=page)


def run(path: Path) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("record", "verify", str(path), stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_a_good_record_passes_both_checks(record, tmp_path):
    version, _, pdf = record
    path = tmp_path / "record.pdf"
    path.write_bytes(pdf)
    code, output = run(path)
    assert code == 0, output
    lines = output.splitlines()
    assert len(lines) == 2 and all(line.startswith("OK") for line in lines)
    assert version.blob.sha256 in output


def test_a_tampered_record_fails(record, tmp_path):
    _, _, pdf = record
    tampered = bytearray(pdf)
    tampered[len(pdf) // 4] ^= 0x20
    path = tmp_path / "record.pdf"
    path.write_bytes(bytes(tampered))
    code, output = run(path)
    assert code == 1
    assert "FAIL  The signature is broken" in output


def test_a_checksum_that_is_not_the_stored_versions_fails(record, tmp_path):
    version, facts, _ = record
    other = b"%PDF-1.4 not the stored bytes"
    page, _ = render.text_pages(["Other minutes."], heading="Minutes")
    forged = dataclasses.replace(facts, sha256=facts_for(other).sha256)
    pdf = signing.certificate_pdf(forged, data=page)
    path = tmp_path / "record.pdf"
    path.write_bytes(pdf)
    code, output = run(path)
    assert code == 1
    assert output.splitlines()[0].startswith("OK    The signature is intact")
    assert f"is not that of version {version.number}" in output


def test_an_unknown_document_fails(record, tmp_path):
    _, facts, _ = record
    page, _ = render.text_pages(["Minutes."], heading="Minutes")
    unknown = dataclasses.replace(facts, document_id="7d1f2c3b-0000-4000-8000-000000000000")
    path = tmp_path / "record.pdf"
    path.write_bytes(signing.certificate_pdf(unknown, data=page))
    code, output = run(path)
    assert code == 1
    assert "No version 1 of document 7d1f2c3b-0000-4000-8000-000000000000" in output


def test_a_missing_file_fails_with_a_sentence(record, tmp_path):
    code, output = run(tmp_path / "nowhere.pdf")
    assert code == 1
    assert output.startswith("FAIL  The file could not be read")
