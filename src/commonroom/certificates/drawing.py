"""The certificate's PDF canvas: fpdf2's page (A4, the fonts ``page.py`` names) with a paragraph
and a labelled field. Apart from ``page.py`` so that fpdf2 (and the fontTools it loads) is
imported when a certificate is drawn, not in every process that only reads the facts: a serving
process imports ``page.py`` with the approvals API (docs/benchmarks.md, "Memory").
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from commonroom.certificates.page import FALLBACK_FONTS, _fonts


class Pdf(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4", unit="mm")
        self.set_margins(20, 20, 20)
        self.set_auto_page_break(auto=True, margin=20)
        self.set_creator("Commonroom")
        regular, bold = _fonts()
        self.add_font("body", "", str(regular))
        self.add_font("body", "B", str(bold))
        fallbacks = []
        for index, extra in enumerate(p for p in FALLBACK_FONTS if Path(p).is_file()):
            self.add_font(f"fallback{index}", "", extra)
            fallbacks.append(f"fallback{index}")
        if fallbacks:
            self.set_fallback_fonts(fallbacks, exact_match=False)
        self.set_font("body", size=10)

    @property
    def width(self) -> float:
        return float(self.w - self.l_margin - self.r_margin)

    def para(self, text: str, *, size: float = 10, bold: bool = False, after: float = 2) -> None:
        self.set_font("body", "B" if bold else "", size)
        self.multi_cell(self.width, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(after)

    def field(self, label: str, value: str) -> None:
        self.set_font("body", "B", 10)
        self.cell(45, 5, label)
        self.set_font("body", "", 10)
        self.multi_cell(self.width - 45, 5, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)
