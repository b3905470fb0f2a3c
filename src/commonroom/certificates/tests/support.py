"""What the certificate tests build: a .docx, the facts of a record, a PDF's text."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

from docx import Document
from pypdf import PdfReader

from commonroom.certificates.page import CertificateFacts, Decision, HistoryLine, rule_words

WHEN = dt.datetime(2026, 3, 3, 14, 5, 9, tzinfo=dt.UTC)


def make_docx(paragraphs: int = 60) -> bytes:
    doc = Document()
    doc.add_heading("Minutes of the March board", 0)
    for n in range(paragraphs):
        doc.add_paragraph(f"Item {n}: the board agreed the budget line for the quarter. " * 4)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def facts_for(
    data: bytes, *, file_name: str = "minutes.docx", document_id: str = ""
) -> CertificateFacts:
    sha = hashlib.sha256(data).hexdigest()
    return CertificateFacts(
        workspace="Finance committee",
        document_id=document_id or "0b9a7c1e-55d4-4d8e-9d49-1f1c2f7a3e10",
        document_name="Minutes of the March board",
        version_number=3,
        file_name=file_name,
        size=len(data),
        sha256=sha,
        sealed_at=WHEN + dt.timedelta(hours=2),
        rule=rule_words(2, 3),
        decisions=[
            Decision("Zoë Ó Briain", "zoe@example.org", "approved", WHEN, version_sha256=sha),
            Decision(
                "李雷",
                "li.lei@example.org",
                "declined",
                WHEN + dt.timedelta(minutes=5),
                reason="The budget table needs the March figures, not February's.",
                version_sha256=sha,
            ),
            Decision("Priya Shah", "priya@example.org", "approved", WHEN, version_sha256=sha),
        ],
        history=[
            HistoryLine(WHEN - dt.timedelta(days=2), "Approval asked of 3 people by Priya Shah"),
            HistoryLine(WHEN - dt.timedelta(days=1), "Reminder sent to 李雷"),
            HistoryLine(WHEN + dt.timedelta(hours=2), "Sealed as the final record"),
        ],
    )


def pdf_text(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), "\n".join(page.extract_text() or "" for page in reader.pages)
