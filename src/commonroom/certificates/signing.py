"""The installation's signing identity, and the whole certificate PDF made, signed and checked.

**Identity.** ``COMMONROOM_RECORDS_SIGNING_KEY`` and ``COMMONROOM_RECORDS_SIGNING_CERT`` (PEM
files) when set; otherwise ``<data dir>/records-signing/`` (``key.pem``, 0600; ``cert.pem``),
made on first use: an EC P-256 key and a self-signed certificate for ten years, subject
"Commonroom records — <COMMONROOM_SITE_NAME, or the site's host>", key usage digital signature
and non-repudiation. It is written in a fresh folder beside it and renamed into place (a
folder's rename onto an existing folder with files fails), so two processes making it at once
end with one identity: the loser discards its own and uses the winner's. ``commonroom backup``
carries the folder (``core/backup.py``).

**The PDF** (:func:`certificate_pdf`): the document's pages (``render.py``), then the
certificate page (``page.py``); the document id, version number and SHA-256 go into the PDF's
document information (``/CommonroomDocumentId``, ``/CommonroomVersion``, ``/CommonroomSHA256``)
before it is signed, so the signature covers them; then a PAdES signature (B-B, SHA-256) by
pyHanko over the whole file.

**Checking** (:func:`verify`): pyHanko's validator with the installation's certificate (or the
one given) as the only trust root: whether the signed bytes are intact, the signer trusted,
the signature covering the whole file (anything appended after it is reported), and the facts
embedded in the signed revision, with one sentence per problem.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import shutil
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PyPdfError
from pypdf.generic import NameObject, TextStringObject

from commonroom.certificates.page import CertificateFacts, certificate_pages
from commonroom.certificates.render import Rendered, render_document
from commonroom.core.exceptions import ApplicationError

FOLDER = "records-signing"
KEY_FILE = "key.pem"
CERT_FILE = "cert.pem"
FIELD = "CommonroomRecord"
INFO_DOCUMENT = "/CommonroomDocumentId"
INFO_VERSION = "/CommonroomVersion"
INFO_SHA256 = "/CommonroomSHA256"
YEARS = 10


class SigningUnavailable(ApplicationError):
    code = "records_signing_unavailable"
    status = 500


@dataclass(frozen=True)
class Identity:
    key: Path
    cert: Path

    def certificate(self) -> asn1_x509.Certificate:
        return load_certificate(self.cert)


def signing_folder() -> Path:
    return Path(settings.DATA_DIR) / FOLDER


def site_name() -> str:
    name = str(getattr(settings, "COMMONROOM_SITE_NAME", "") or "")
    if name:
        return name
    host = urlparse(str(getattr(settings, "SITE_URL", "") or "")).hostname
    return host or socket.gethostname()


def identity(*, create: bool = True) -> Identity | None:
    """The installation's signing key and certificate: the configured ones, or those in the
    data directory, made now when there are none and ``create``."""
    key = str(getattr(settings, "COMMONROOM_RECORDS_SIGNING_KEY", "") or "")
    cert = str(getattr(settings, "COMMONROOM_RECORDS_SIGNING_CERT", "") or "")
    if key and cert:
        return Identity(key=Path(key), cert=Path(cert))
    folder = signing_folder()
    found = Identity(key=folder / KEY_FILE, cert=folder / CERT_FILE)
    if found.key.is_file() and found.cert.is_file():
        return found
    if not create:
        return None
    _create(folder)
    return found


def _create(folder: Path) -> None:
    """A new key and self-signed certificate, renamed into ``folder`` unless another process
    got there first."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.with_name(f".{FOLDER}-{uuid.uuid4().hex}")
    staging.mkdir(mode=0o700)
    try:
        private = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, f"Commonroom records — {site_name()}"[:64])]
        )
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365 * YEARS + 3))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,  # non-repudiation
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(private.public_key()), critical=False
            )
            .sign(private, hashes.SHA256())
        )
        key_pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_new(staging / KEY_FILE, key_pem, 0o600)
        _write_new(staging / CERT_FILE, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
        _fsync_dir(staging)
        try:
            os.rename(staging, folder)
        except OSError:
            if not (folder / KEY_FILE).is_file():
                raise  # not another process's identity in the way: a real failure
            return
        _fsync_dir(folder.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_certificate(path: Path) -> asn1_x509.Certificate:
    data = path.read_bytes()
    if b"-----BEGIN" in data:
        data = x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER)
    return asn1_x509.Certificate.load(data)


# --- Making the PDF ---------------------------------------------------------------------------


def certificate_pdf(
    facts: CertificateFacts,
    *,
    data: bytes,
    preview_html: str = "",
    preview_blocks: Sequence[str] = (),
) -> bytes:
    """The final record as one signed PDF: the version's file ``data`` rendered, then its
    certificate page. ``preview_html`` / ``preview_blocks``: the version's preview, shown when
    the file cannot be rendered itself (which the certificate page then says)."""
    rendered = render_document(
        data=data,
        file_name=facts.file_name,
        preview_html=preview_html,
        preview_blocks=preview_blocks,
    )
    return sign(assemble(facts, rendered), facts)


def assemble(facts: CertificateFacts, rendered: Rendered) -> bytes:
    """The rendered pages and the certificate page in one PDF, with the record's facts in its
    document information."""
    page, _ = certificate_pages(facts, note=rendered.note)
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(rendered.pdf)))
    writer.append(PdfReader(io.BytesIO(page)))
    writer.add_metadata(
        {
            "/Title": f"{facts.document_name}, version {facts.version_number}",
            "/Producer": "Commonroom",
            INFO_DOCUMENT: str(facts.document_id),
            INFO_VERSION: str(facts.version_number),
            INFO_SHA256: facts.sha256,
        }
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def sign(pdf: bytes, facts: CertificateFacts) -> bytes:
    """``pdf`` signed by the installation (PAdES B-B, SHA-256)."""
    found = identity()
    assert found is not None  # noqa: S101 - identity() makes one when there is none
    try:
        signer = signers.SimpleSigner.load(str(found.key), str(found.cert))
    except (OSError, ValueError) as exc:
        raise SigningUnavailable(
            "The record cannot be signed: the installation's signing key or certificate "
            "could not be read."
        ) from exc
    if signer is None:
        raise SigningUnavailable(
            "The record cannot be signed: the installation's signing key or certificate "
            "could not be read."
        )
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=f"Final record of version {facts.version_number} of {facts.document_name}",
        name=site_name(),
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = signers.sign_pdf(writer, meta, signer=signer)
    return bytes(out.getvalue())


# --- Checking ---------------------------------------------------------------------------------


@dataclass
class Verification:
    """What :func:`verify` found. ``ok`` when every check holds."""

    intact: bool = False
    trusted: bool = False
    covers_whole_file: bool = False
    signer: str = ""
    signed_at: dt.datetime | None = None
    document_id: str = ""
    version_number: int | None = None
    sha256: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.intact and self.trusted and self.covers_whole_file and not self.problems


def verify(pdf: bytes, *, trust_root: Path | None = None) -> Verification:
    """Check a certificate PDF's signature with the installation's certificate (or
    ``trust_root``, a PEM or DER file) as the only trust root. Never raises for a bad file."""
    result = Verification()
    if trust_root is None:
        found = identity(create=False)
        if found is None:
            result.problems.append("This installation has no signing certificate yet.")
            return result
        trust_root = found.cert
    try:
        root = load_certificate(trust_root)
    except (OSError, ValueError) as exc:
        result.problems.append(f"The trusted certificate could not be read: {exc}.")
        return result
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except (PdfError, ValueError, KeyError, TypeError, IndexError) as exc:
        result.problems.append(f"The file is not a readable PDF: {exc}.")
        return result
    if not signatures:
        result.problems.append("The file has no signature.")
        return result
    if len(signatures) > 1:
        result.problems.append(f"The file has {len(signatures)} signatures, not one.")
    signature = signatures[0]
    try:
        status = validate_pdf_signature(
            signature, ValidationContext(trust_roots=[root], allow_fetching=False)
        )
    except Exception as exc:  # pyHanko's many ways of refusing a mangled signature
        result.problems.append(f"The signature could not be checked: {exc}.")
        return result
    result.intact = bool(status.intact and status.valid)
    result.trusted = bool(status.trusted)
    result.covers_whole_file = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    result.signer = status.signing_cert.subject.human_friendly if status.signing_cert else ""
    result.signed_at = status.signer_reported_dt
    if not result.intact:
        result.problems.append("The signature is broken: the file was changed after signing.")
    elif not result.trusted:
        result.problems.append(
            "The signature is not this installation's: its signer is not trusted here."
        )
    if not result.covers_whole_file:
        result.problems.append(
            "Something was added to the file after it was signed (an incremental update)."
        )
    _embedded_facts(pdf, signature.byte_range, result)
    return result


def _embedded_facts(pdf: bytes, byte_range: Sequence[int], result: Verification) -> None:
    """The record's facts from the document information of the signed revision (the bytes
    the signature covers), not from anything appended after it."""
    try:
        end = int(byte_range[2]) + int(byte_range[3])
        info = PdfReader(io.BytesIO(pdf[:end]), strict=False).trailer.get("/Info")
        info = info.get_object() if info is not None else {}
    except (PyPdfError, ValueError, KeyError, TypeError, IndexError):
        info = {}
    document = str(info.get(NameObject(INFO_DOCUMENT), "") or "")
    version = str(info.get(NameObject(INFO_VERSION), "") or "")
    sha = str(info.get(NameObject(INFO_SHA256), "") or "")
    result.document_id = document
    with contextlib.suppress(ValueError):
        result.version_number = int(version)
    result.sha256 = sha if isinstance(sha, str | TextStringObject) else ""
    if not result.document_id or result.version_number is None or len(result.sha256) != 64:
        result.problems.append("The signed file does not name its document, version and SHA-256.")
