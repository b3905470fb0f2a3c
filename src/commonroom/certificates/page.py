"""The certificate page(s) of a final record, drawn with fpdf2 (A4, plain, one column), and the
plain pages a document is shown on when only its preview's text can be (``render.py``).

:class:`CertificateFacts` is everything printed, as plain values (text, whole numbers, aware
datetimes), so the app that seals a record fills it without this library knowing its models.
Times are printed in Europe/London with their offset from UTC. Text is set in DejaVu Sans
(shipped in ``fonts/`` with its licence, so a fresh installation draws certificates without any
system font), with Droid Sans Fallback (Debian's ``fonts-droid-fallback``, when installed) for
the scripts DejaVu lacks (Chinese, Japanese, Korean); long values wrap.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from commonroom.core.exceptions import ApplicationError

LONDON = ZoneInfo("Europe/London")
FONTS_SHIPPED = Path(__file__).resolve().parent / "fonts"
FONT_FOLDERS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu")
FALLBACK_FONTS = (
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)
OUTCOMES = {
    "approved": "Approved",
    "declined": "Declined",
    "removed": "Removed",
    "pending": "No decision",
}
TITLE = "Certificate of approval"

# fpdf2 tells of each character a font lacks through logging; the fallback font covers them.
logging.getLogger("fpdf.output").setLevel(logging.ERROR)


class FontsMissing(ApplicationError):
    code = "certificate_fonts_missing"
    status = 500


@dataclass(frozen=True)
class Decision:
    """One approver: ``outcome`` is ``approved``, ``declined`` (with ``reason``), ``removed``
    or ``pending``; ``at`` when it was given; ``version_sha256`` the SHA-256 of the version they
    decided on."""

    name: str
    email: str
    outcome: str
    at: datetime | None = None
    reason: str = ""
    version_sha256: str = ""

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}")
        _aware(self.at)


@dataclass(frozen=True)
class HistoryLine:
    """One event of the request (asked, reminded, approver added or removed, due date changed,
    a decision, sealed), as a sentence with its time."""

    at: datetime
    text: str

    def __post_init__(self) -> None:
        _aware(self.at)


@dataclass(frozen=True)
class CertificateFacts:
    """What the certificate says. ``rule``: the request's rule in words (see
    :func:`rule_words`)."""

    workspace: str
    document_id: str
    document_name: str
    version_number: int
    file_name: str
    size: int
    sha256: str
    sealed_at: datetime
    rule: str
    decisions: Sequence[Decision] = field(default_factory=tuple)
    history: Sequence[HistoryLine] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        _aware(self.sealed_at)
        if len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            raise ValueError("sha256 must be 64 lower-case hexadecimal digits")


def _aware(at: datetime | None) -> None:
    if at is not None and at.utcoffset() is None:
        raise ValueError("times must be aware (carry their time zone)")


def rule_words(required: int, approvers: int) -> str:
    """ "All 3 approvers" when every approver must approve, else "Any 2 of 5"."""
    if required >= approvers:
        return f"All {approvers} approver{'s' if approvers != 1 else ''}"
    return f"Any {required} of {approvers}"


def london(at: datetime) -> str:
    """``at`` in Europe/London with its offset: "3 March 2026, 14:05:09 GMT (UTC+00:00)"."""
    local = at.astimezone(LONDON)
    offset = local.strftime("%z")
    return (
        f"{local.day} {local.strftime('%B %Y, %H:%M:%S')} {local.tzname()} "
        f"(UTC{offset[:3]}:{offset[3:]})"
    )


def size_words(size: int) -> str:
    units = ["bytes", "KB", "MB", "GB"]
    value, unit = float(size), 0
    while value >= 1024 and unit < len(units) - 1:
        value, unit = value / 1024, unit + 1
    shown = f"{size:,} bytes" if unit == 0 else f"{value:.1f} {units[unit]} ({size:,} bytes)"
    return shown


def _fonts() -> tuple[Path, Path]:
    """DejaVu Sans, regular and bold: the copy shipped with Commonroom (its licence beside it,
    in ``fonts/``), else the system's."""
    for folder in (str(FONTS_SHIPPED), *FONT_FOLDERS):
        regular, bold = Path(folder) / "DejaVuSans.ttf", Path(folder) / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    raise FontsMissing(
        "The certificate cannot be drawn: the DejaVu Sans font is not installed "
        "(Debian's fonts-dejavu-core)."
    )


def certificate_pages(facts: CertificateFacts, *, note: str = "") -> tuple[bytes, int]:
    """The certificate page(s) as a PDF and how many pages it has. ``note``: how the document's
    pages were rendered, when not from the file itself (``render.Rendered.note``)."""
    from commonroom.certificates.drawing import Pdf  # fpdf2 loaded only to draw (drawing.py)

    pdf = Pdf()
    pdf.set_title(f"{TITLE}: {facts.document_name}")
    pdf.add_page()
    pdf.para(TITLE, size=20, bold=True, after=4)
    pdf.para(
        "This record was sealed in Commonroom. The pages before this one are the document as "
        "approved; this PDF is signed by the installation, and any change to it breaks the "
        "signature.",
        after=4,
    )
    if note:
        pdf.para(note, bold=True, after=4)
    pdf.field("Workspace", facts.workspace)
    pdf.field("Document", facts.document_name)
    pdf.field("Version", f"Version {facts.version_number}")
    pdf.field("File name", facts.file_name)
    pdf.field("Size", size_words(facts.size))
    pdf.field("SHA-256", facts.sha256)
    pdf.field("Sealed at", london(facts.sealed_at))
    pdf.field("Rule", facts.rule)
    pdf.ln(3)
    pdf.para("Approvers", size=14, bold=True)
    if not facts.decisions:
        pdf.para("No approvers.")
    else:
        pdf.set_font("body", "", 9)
        with pdf.table(
            col_widths=(28, 38, 30, 34, 40),
            text_align="LEFT",
            line_height=4.5,
            first_row_as_headings=True,
        ) as table:
            head = table.row()
            for title in ("Name", "Email", "Decision", "Time", "Version SHA-256 decided on"):
                head.cell(title)
            for decision in facts.decisions:
                row = table.row()
                row.cell(decision.name)
                row.cell(decision.email)
                outcome = OUTCOMES[decision.outcome]
                if decision.outcome == "declined" and decision.reason:
                    outcome += f": {decision.reason}"
                row.cell(outcome)
                row.cell(london(decision.at) if decision.at else "")
                row.cell(decision.version_sha256)
        pdf.ln(4)
    pdf.para("History of the request", size=14, bold=True)
    if not facts.history:
        pdf.para("No events recorded.")
    for line in sorted(facts.history, key=lambda h: h.at):
        pdf.para(f"{london(line.at)}: {line.text}", after=1)
    return bytes(pdf.output()), pdf.page_no()


def text_pages(paragraphs: Sequence[str], *, heading: str) -> tuple[bytes, int]:
    """Plain pages of ``paragraphs`` under ``heading`` (the document when only its preview's
    text can be shown), as a PDF and its page count."""
    from commonroom.certificates.drawing import Pdf  # fpdf2 loaded only to draw (drawing.py)

    pdf = Pdf()
    pdf.add_page()
    pdf.para(heading, bold=True, after=5)
    for paragraph in paragraphs:
        pdf.para(paragraph, after=3)
    return bytes(pdf.output()), pdf.page_no()
