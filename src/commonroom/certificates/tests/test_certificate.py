"""The whole certificate PDF: rendered pages, the certificate page, the signature that pyHanko's
validator accepts with the installation's certificate, and what breaks it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from commonroom.certificates import render, signing
from commonroom.certificates.tests.support import facts_for, make_docx, pdf_text
from commonroom.office.tests.libreoffice import require_soffice


@pytest.fixture
def data_dir(settings, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    settings.COMMONROOM_RECORDS_SIGNING_KEY = ""
    settings.COMMONROOM_RECORDS_SIGNING_CERT = ""
    settings.COMMONROOM_SITE_NAME = "Test council"
    return settings.DATA_DIR


def _validate(pdf: bytes, root: Path):
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    context = ValidationContext(trust_roots=[signing.load_certificate(root)])
    return validate_pdf_signature(reader.embedded_signatures[0], context)


def test_docx_record_is_rendered_certified_and_signed(data_dir: Path) -> None:
    require_soffice()
    data = make_docx()
    facts = facts_for(data)
    rendered = render.render_document(data=data, file_name="minutes.docx")
    assert rendered.how == "libreoffice" and rendered.note == ""
    assert rendered.pages >= 2

    pdf = signing.certificate_pdf(facts, data=data)

    pages, text = pdf_text(pdf)
    certificate_pages = pages - rendered.pages
    assert certificate_pages >= 1
    assert text.count("Certificate of approval") >= 1
    assert "Item 59: the board agreed" in text  # the document itself, before the certificate
    assert facts.sha256 in text.replace("\n", "")
    for name in ("Zoë Ó Briain", "李雷", "Priya Shah", "Any 2 of 3", "Finance committee"):
        assert name in text
    assert "Declined: The budget table needs the March figures" in text.replace("\n", " ")
    assert "3 March 2026, 14:05:09 GMT (UTC+00:00)" in text.replace("\n", " ")
    assert "Rendered from Commonroom's preview" not in text

    cert = data_dir / "records-signing" / "cert.pem"
    status = _validate(pdf, cert)
    assert status.intact and status.valid and status.trusted and status.bottom_line
    assert "Commonroom records — Test council" in status.signing_cert.subject.human_friendly
    result = signing.verify(pdf)
    assert result.ok, result.problems
    assert (result.document_id, result.version_number, result.sha256) == (
        facts.document_id,
        3,
        facts.sha256,
    )


@pytest.fixture
def signed(data_dir: Path) -> bytes:
    """A record whose document is a PDF (used as it is), signed: quicker than LibreOffice."""
    page, _ = render.text_pages(["A plain page of the minutes."], heading="Minutes")
    return signing.certificate_pdf(facts_for(page, file_name="minutes.pdf"), data=page)


@pytest.mark.parametrize("where", [0.1, 0.5, 0.9, "after-signature"])
def test_one_byte_changed_anywhere_breaks_the_signature(
    signed: bytes, data_dir: Path, where
) -> None:
    assert signing.verify(signed).ok
    byte_range = PdfFileReader(io.BytesIO(signed)).embedded_signatures[0].byte_range
    if where == "after-signature":
        offset = byte_range[2] + byte_range[3] // 2
    else:
        offset = int(byte_range[1] * where)
    tampered = bytearray(signed)
    tampered[offset] = (tampered[offset] + 1) % 256 or 1
    result = signing.verify(bytes(tampered))
    assert not result.ok
    assert not result.intact
    assert result.problems
    with pytest.raises(Exception):  # noqa: B017 - any refusal; or a status that is not intact
        status = _validate(bytes(tampered), data_dir / "records-signing" / "cert.pem")
        assert status.intact and status.valid
        raise AssertionError("unreachable")


def test_an_appended_incremental_update_is_reported(signed: bytes) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    info = writer.trailer["/Info"]
    info[generic.NameObject("/CommonroomSHA256")] = generic.TextStringObject("0" * 64)
    writer.update_container(info)
    out = io.BytesIO()
    writer.write(out)
    result = signing.verify(out.getvalue())
    assert result.intact  # the signed bytes themselves are untouched
    assert not result.covers_whole_file
    assert not result.ok
    assert any("added to the file after it was signed" in p for p in result.problems)
    assert result.sha256 != "0" * 64  # the facts come from the signed revision


def test_another_installations_signature_is_not_trusted(signed: bytes, settings, tmp_path) -> None:
    settings.DATA_DIR = tmp_path / "other"
    settings.DATA_DIR.mkdir()
    other = signing.identity()
    assert other is not None
    result = signing.verify(signed)
    assert result.intact and not result.trusted and not result.ok
    assert any("not this installation's" in p for p in result.problems)


def test_configured_key_and_certificate_are_used(data_dir: Path, settings, tmp_path) -> None:
    script = (
        "import sys; from pathlib import Path; import django, os;"
        "os.environ['DJANGO_SETTINGS_MODULE']='commonroom.settings'; django.setup();"
        "from commonroom.certificates import signing; signing._create(Path(sys.argv[1]))"
    )
    folder = tmp_path / "configured"
    env = {**os.environ, "COMMONROOM_DATA_DIR": str(tmp_path), "COMMONROOM_SITE_NAME": "Elsewhere"}
    subprocess.run([sys.executable, "-c", script, str(folder)], check=True, env=env, timeout=120)
    settings.COMMONROOM_RECORDS_SIGNING_KEY = str(folder / "key.pem")
    settings.COMMONROOM_RECORDS_SIGNING_CERT = str(folder / "cert.pem")
    page, _ = render.text_pages(["Minutes."], heading="Minutes")
    pdf = signing.certificate_pdf(facts_for(page, file_name="minutes.pdf"), data=page)
    assert not (data_dir / "records-signing").exists()  # none made: the configured one signs
    result = signing.verify(pdf)
    assert result.ok, result.problems
    assert "Commonroom records — Elsewhere" in result.signer


def test_two_first_uses_at_once_make_one_identity(data_dir: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import os, sys, time
        from pathlib import Path
        import django
        os.environ["DJANGO_SETTINGS_MODULE"] = "commonroom.settings"
        django.setup()
        from commonroom.certificates import signing
        start = float(sys.argv[1])
        while time.time() < start:
            time.sleep(0.001)
        signing._create(signing.signing_folder())  # both believe none exists yet
        print(signing.identity(create=False).cert.read_text())
        """
    )
    env = {**os.environ, "COMMONROOM_DATA_DIR": str(data_dir)}
    import time

    start = str(time.time() + 3)
    procs = [
        subprocess.Popen([sys.executable, "-c", script, start], env=env, stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outputs[0] == outputs[1] and b"BEGIN CERTIFICATE" in outputs[0]
    assert not [p for p in data_dir.iterdir() if p.name.startswith(".records-signing")]
    folder = data_dir / "records-signing"
    assert sorted(p.name for p in folder.iterdir()) == ["cert.pem", "key.pem"]
    assert folder.stat().st_mode & 0o777 == 0o700
    assert (folder / "key.pem").stat().st_mode & 0o777 == 0o600


def test_without_libreoffice_the_preview_text_is_used_and_said(data_dir: Path, settings) -> None:
    settings.COMMONROOM_SOFFICE = "/nonexistent/soffice"
    data = make_docx(3)
    html = '<h1 id="p-1">Minutes</h1><p id="p-2">The board agreed the <b>budget</b>.</p>'
    pdf = signing.certificate_pdf(facts_for(data), data=data, preview_html=html)
    _, text = pdf_text(pdf)
    flat = " ".join(text.split())
    assert "Rendered from Commonroom's preview: LibreOffice was not available." in flat
    assert "The board agreed the budget." in flat
    assert flat.count("LibreOffice was not available") == 2  # on the pages and the certificate
    assert signing.verify(pdf).ok


def test_a_hostile_docx_falls_back_and_says_it_could_not_be_converted(data_dir: Path) -> None:
    require_soffice()
    data = b"PK\x03\x04 this is not a zip at all" + b"\x00" * 200
    pdf = signing.certificate_pdf(
        facts_for(data), data=data, preview_blocks=["What the preview could read."]
    )
    _, text = pdf_text(pdf)
    flat = " ".join(text.split())
    assert "LibreOffice could not convert the file." in flat
    assert "What the preview could read." in flat
    assert not list((data_dir / "certificate-work").rglob("*.docx"))  # the work folder is gone
    assert signing.verify(pdf).ok
