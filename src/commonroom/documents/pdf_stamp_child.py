"""The confined child that stamps a reader's watermark on every page of a PDF (an external
guest's download where their workspace watermarks guests' downloads; ``documents/pdf_stamp.py``
runs it through ``core/sandbox.py``; nothing here imports Django).

``python -m commonroom.documents.pdf_stamp_child stamp <source> <outdir> <line>`` writes
``<outdir>/stamped.pdf``: each page of the source with ``line`` (the reader's name, email and
the day) laid over it, repeated diagonally in translucent grey, and answers ``{"ok": true,
"pages": <n>}``. A file that cannot be read (damaged, encrypted with a password) answers
``{"ok": false, "message": "<why>"}``: the parent then refuses the download rather than send
it unstamped.

The overlay is drawn once per page size (fpdf2, in DejaVu Sans so that every name prints: the
child may read that font file), kept once in the file as a form, and drawn by each page after
its own content (pypdf), which is left as it was.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

from commonroom.core.sandbox_child import serve

MAX_SOURCE = 256 * 1024 * 1024
MAX_PAGES = 5000
OUTPUT = "stamped.pdf"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
ANGLE = 30
OPACITY = 0.22
WATERMARK = "/CommonroomWatermark"


def _overlay(width: float, height: float, line: str) -> Any:
    """One page ``width`` x ``height`` points holding only the watermark, as a pypdf page."""
    from fpdf import FPDF
    from pypdf import PdfReader

    pdf = FPDF(unit="pt", format=(width, height))
    pdf.set_auto_page_break(False)
    pdf.set_creator("Commonroom")
    pdf.add_page()
    if FONT.exists():
        pdf.add_font("DejaVu", fname=str(FONT))
        pdf.set_font("DejaVu", size=max(8.0, min(width, height) / 42))
    else:  # Latin-1 only: a name outside it prints as "?"
        pdf.set_font("helvetica", size=max(8.0, min(width, height) / 42))
        line = line.encode("latin-1", "replace").decode("latin-1")
    pdf.set_text_color(70, 70, 70)
    size = pdf.font_size_pt
    text = (line + "      ") * 2
    span = pdf.get_string_width(text)
    side = (width**2 + height**2) ** 0.5
    with (
        pdf.local_context(fill_opacity=OPACITY, text_color=(70, 70, 70)),
        pdf.rotation(ANGLE, x=width / 2, y=height / 2),
    ):
        y = height / 2 - side / 2
        row = 0
        while y < height / 2 + side / 2:
            # Each row starts a fifth of the words along from the one above.
            x = width / 2 - side / 2 - ((row * span) / 5) % span
            while x < width / 2 + side / 2:
                pdf.text(x, y, text)
                x += span
            y += size * 5
            row += 1
    return PdfReader(io.BytesIO(bytes(pdf.output()))).pages[0]


def _form(writer: Any, overlay: Any) -> Any:
    """The overlay page as a form XObject of ``writer``'s, drawn by every page of its size."""
    from pypdf.generic import ArrayObject, FloatObject, NameObject, StreamObject

    form = StreamObject()
    form.set_data(overlay.get_contents().get_data())
    box = overlay.mediabox
    form[NameObject("/Type")] = NameObject("/XObject")
    form[NameObject("/Subtype")] = NameObject("/Form")
    form[NameObject("/BBox")] = ArrayObject([FloatObject(v) for v in (0, 0, box.width, box.height)])
    form[NameObject("/Resources")] = overlay["/Resources"].clone(writer)
    return writer._add_object(form)


def _draw_over(writer: Any, page: Any, form: Any) -> None:
    """``page`` draws ``form`` over its own content, which is left as it was (kept in a saved
    graphics state, so nothing it leaves set changes the watermark)."""
    from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject

    resources = page.get("/Resources")
    resources = DictionaryObject() if resources is None else resources.get_object()
    page[NameObject("/Resources")] = resources
    xobjects = resources.get("/XObject")
    xobjects = DictionaryObject() if xobjects is None else xobjects.get_object()
    resources[NameObject("/XObject")] = xobjects
    xobjects[NameObject(WATERMARK)] = form
    before, after = DecodedStreamObject(), DecodedStreamObject()
    box = page.mediabox
    before.set_data(b"q\n")
    at = f"1 0 0 1 {float(box.left):.2f} {float(box.bottom):.2f} cm"
    after.set_data(f"\nQ q {at} {WATERMARK} Do Q\n".encode())
    existing = page.get("/Contents")
    parts = [] if existing is None else existing.get_object()
    parts = list(parts) if isinstance(parts, ArrayObject) else [existing]
    page[NameObject("/Contents")] = ArrayObject(
        [writer._add_object(before), *parts, writer._add_object(after)]
    )


def stamp(source: Path, outdir: Path, line: str) -> dict[str, Any]:
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PyPdfError

    try:
        if source.stat().st_size > MAX_SOURCE:
            raise ValueError("The PDF is too large to watermark.")
        reader = PdfReader(source)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ValueError("The PDF is protected by a password, so it cannot be watermarked.")
        if len(reader.pages) > MAX_PAGES:
            raise ValueError("The PDF has too many pages to watermark.")
        writer = PdfWriter(clone_from=reader)
        forms: dict[tuple[float, float], Any] = {}
        for page in writer.pages:
            page.transfer_rotation_to_content()
            box = page.mediabox
            key = (round(float(box.width), 1), round(float(box.height), 1))
            if key not in forms:
                forms[key] = _form(writer, _overlay(key[0], key[1], line))
            _draw_over(writer, page, forms[key])
        with (outdir / OUTPUT).open("wb") as out:
            writer.write(out)
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
        message = str(exc) if isinstance(exc, ValueError) else "The PDF could not be read."
        return {"ok": False, "message": message[:500]}
    return {"ok": True, "pages": len(writer.pages)}


def _preload() -> None:
    import fpdf
    import fpdf.fonts  # noqa: F401
    import pypdf  # noqa: F401


def main(argv: list[str]) -> int:
    if len(argv) == 5 and argv[1] == "stamp":
        source, outdir = Path(argv[2]), Path(argv[3])
        return serve(
            lambda: stamp(source, outdir, argv[4]),
            read_files=[source, *([FONT] if FONT.exists() else [])],
            write=[outdir],
            preload=_preload,
        )
    sys.stderr.write(
        "usage: python -m commonroom.documents.pdf_stamp_child stamp <source> <outdir> <line>\n"
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
