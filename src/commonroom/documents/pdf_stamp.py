"""An external guest's PDF download stamped with their watermark, where their workspace asks
for it (``Workspace.watermark_guest_downloads``; who is stamped: ``selectors.download_watermark``).

The PDF is untrusted: it is read and rewritten only in a confined child
(``pdf_stamp_child.py`` through ``core.sandbox``), as the version stamp and the previews are.
Each download is stamped anew for its reader and day and sent from a file already removed
from its work folder (nothing is kept: the copy names one person). Unlike the version stamp,
a watermark that cannot be made refuses the download (:class:`WatermarkFailed`): an
unwatermarked copy is exactly what the workspace asked not to hand out.
"""

from __future__ import annotations

import hashlib
import os

from commonroom.core.exceptions import ApplicationError
from commonroom.core.sandbox import Limits, run_child
from commonroom.core.watermark import Watermark
from commonroom.documents.models import Version
from commonroom.documents.stamping import DownloadFile, _answer, local_source, work_folder

CHILD_MODULE = "commonroom.documents.pdf_stamp_child"
PDF_TYPE = "application/pdf"
MAX_BYTES = 200 * 1024 * 1024
LIMITS = Limits(seconds=120, memory_mb=1536, file_mb=2 * MAX_BYTES // (1024 * 1024))
FAILED = (
    "This PDF could not be watermarked, so it cannot be downloaded here by external guests. "
    "Read it on its page, or ask a manager of the workspace for a copy."
)


class WatermarkFailed(ApplicationError):
    status = 409
    code = "watermark_failed"

    def __init__(self, message: str = FAILED) -> None:
        super().__init__(message)


def stamped_pdf(version: Version, watermark: Watermark) -> DownloadFile:
    """The version's PDF with ``watermark`` on every page, open for reading (its file is
    already unlinked), or :class:`WatermarkFailed`."""
    if version.size > MAX_BYTES:
        raise WatermarkFailed(
            "This PDF is too large to be watermarked, so it cannot be downloaded here by "
            "external guests. Read it on its page, or ask a manager of the workspace for a copy."
        )
    with work_folder() as work:
        source = local_source(version.blob_id, work)
        outdir = work / "out"
        outdir.mkdir()
        what = f"watermarking version {version.number} of {version.document_id}"
        try:
            run = run_child(
                CHILD_MODULE,
                ["stamp", str(source), str(outdir), watermark.line],
                work=work,
                limits=LIMITS,
            )
        except OSError as exc:
            raise WatermarkFailed() from exc
        answer = _answer(run, what)
        if answer is None:
            raise WatermarkFailed()
        if not answer.get("ok"):
            message = str(answer.get("message") or "")
            raise WatermarkFailed(f"{message} {FAILED}".strip() if message else FAILED)
        made = outdir / "stamped.pdf"
        if made.is_symlink() or not made.is_file():
            raise WatermarkFailed()
        handle = made.open("rb")
    # The work folder is gone; the open handle keeps the bytes until the response is sent.
    digest = hashlib.sha256()
    while chunk := handle.read(1024 * 1024):
        digest.update(chunk)
    size = os.fstat(handle.fileno()).st_size
    handle.seek(0)
    return DownloadFile(handle, size, digest.hexdigest(), stamped=True)
