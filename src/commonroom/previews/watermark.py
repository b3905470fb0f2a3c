"""A preview's picture with its reader's watermark drawn into it, made for each reader; and
the reader's print stylesheet, which puts the footer (and their watermark) in every printed
sheet's margins.

Who gets one is decided by the view from the reader's abilities (``not access.can("download")``);
this module only draws. The shared picture (a PDF page drawn once per blob, an image preview)
is read, never written: :func:`watermarked_file` returns new bytes, kept in Django's cache
under the blob, the file's name and the watermark's words (reader and day), so a new day or
another reader is another key and nothing has to be invalidated.

The drawing is deterministic (same picture, same words: same bytes), which is how the tests
recover whose copy a picture is: drawn again for that reader it is the same file, for anyone
else it is not. The words are ``core.watermark.Watermark.line``, repeated in staggered rows
turned 30 degrees, grey at about a quarter opacity: readable on white paper and on a photo,
never hiding the text under it.
"""

from __future__ import annotations

import hashlib
import io
from functools import cache as memoise
from pathlib import Path
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.core.files.storage import default_storage

from commonroom.core.watermark import Watermark

if TYPE_CHECKING:
    from PIL import Image, ImageFont

    from commonroom.previews.models import PreviewFile

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
ANGLE = 30
INK = (70, 70, 70)
OPACITY = 64  # of 255: about a quarter
CACHE_SECONDS = 24 * 3600
# Formats kept as they are; anything else becomes PNG.
SAVED_AS = {"image/png": "PNG", "image/webp": "WEBP", "image/jpeg": "JPEG"}


@memoise
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow is imported where a picture is marked, not with the page's views.
    from PIL import ImageFont

    if FONT.exists():
        return ImageFont.truetype(str(FONT), size)
    return ImageFont.load_default(size)


def _mask(line: str, width: int, height: int) -> Image.Image:
    """The words in rows across a square wide enough to cover the picture once turned, turned
    by :data:`ANGLE` and cut to the picture's size: the watermark's opacity, pixel by pixel."""
    from PIL import Image, ImageDraw

    size = max(10, min(width, height) // 45)
    font = _font(size)
    text = (line + " " * 6) * 2
    side = int((width**2 + height**2) ** 0.5) + size * 2
    left, _top, right, _bottom = font.getbbox(text)
    span = max(right - left, 1)
    mask = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(mask)
    for row, y in enumerate(range(0, side, size * 6)):
        # Each row starts a third of the words along from the one above: no column of names.
        x = -((row * span) // 6) % span - span
        while x < side:
            draw.text((x, y), text, font=font, fill=OPACITY)
            x += span
    turned = mask.rotate(ANGLE, resample=Image.Resampling.BILINEAR)
    cut_x, cut_y = (side - width) // 2, (side - height) // 2
    return turned.crop((cut_x, cut_y, cut_x + width, cut_y + height))


def watermark_picture(picture: Image.Image, watermark: Watermark) -> Image.Image:
    """``picture`` with ``watermark``'s words repeated across it (a new RGB image)."""
    from PIL import Image

    base = picture.convert("RGB")
    ink = Image.new("RGB", base.size, INK)
    return Image.composite(ink, base, _mask(watermark.line, *base.size))


def watermark_bytes(data: bytes, content_type: str, watermark: Watermark) -> tuple[bytes, str]:
    """A picture's bytes with the watermark drawn in, and the type they are saved as."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as picture:
        picture.load()
        marked = watermark_picture(picture, watermark)
    fmt = SAVED_AS.get(content_type, "PNG")
    out = io.BytesIO()
    if fmt == "PNG":
        # 256 colours, as the PDF pages are drawn: a quarter of the bytes for about 60 ms more.
        marked.quantize(256, method=Image.Quantize.MAXCOVERAGE).save(out, "PNG")
    else:
        marked.save(out, fmt, quality=85)
    return out.getvalue(), "image/" + fmt.lower()


def watermarked_file(found: PreviewFile, watermark: Watermark) -> tuple[bytes, str]:
    """The preview's picture ``found`` as this reader sees it: drawn once per reader, file and
    day, then taken from the cache. The stored picture is only read."""
    digest = hashlib.sha256(f"{found.storage_name}\x00{watermark.key}".encode()).hexdigest()
    key = f"previews:watermarked:{digest}"
    kept: tuple[bytes, str] | None = cache.get(key)
    if kept is not None:
        return kept
    with default_storage.open(found.storage_name, "rb") as stream:
        data = stream.read()
    made = watermark_bytes(data, found.content_type, watermark)
    cache.set(key, made, CACHE_SECONDS)
    return made


def css_string(text: str) -> str:
    """``text`` as a CSS string: every character but ASCII letters and digits escaped by its
    code point, so nothing in a name can end the string or the rule. (Spaces too: a space
    after an escape would be taken as the escape's end and lost.)"""
    escaped = "".join(ch if ch.isascii() and ch.isalnum() else f"\\{ord(ch):06x}" for ch in text)
    return f'"{escaped}"'


def print_stylesheet(*, footer: str, watermark: Watermark | None) -> str:
    """What every printed sheet of the document's page carries in its margins (page margin
    boxes: on every sheet, never over the text, wherever the page was scrolled): the footer
    for everyone, and the watermark's words at the head for a watermarked reader."""
    margin = (
        f"  @bottom-left {{ content: {css_string(footer)}; font: 8pt Arial, sans-serif;"
        " color: #212b32; vertical-align: top; padding-top: 3mm;"
        " border-top: 0.5pt solid #768692; }\n"
    )
    if watermark is not None:
        margin += (
            f"  @top-center {{ content: {css_string(watermark.line)};"
            " font: 9pt Arial, sans-serif; color: #6b6b6b; }\n"
        )
    return "@page {\n  margin: 16mm 12mm 20mm;\n" + margin + "}\n"
