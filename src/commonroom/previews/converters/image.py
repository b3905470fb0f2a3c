"""Pictures (PNG, JPEG, GIF, WebP, BMP, TIFF): a clean copy, scaled down, shown as one image.

Shows: the picture turned the way the camera meant (EXIF orientation applied), at most
:data:`MAX_SIDE` pixels on its long side, re-encoded from its pixels alone (WebP for photos, PNG
otherwise), so nothing of the original file's metadata reaches the reader: no EXIF (camera, date,
GPS location), no ICC profile, no text chunks. The HTML is one ``<img>`` whose alt text is the
file's name; the notes give the picture's size in pixels and its format.

Cuts: an animation shows its first frame; a larger picture is scaled down (both said in notes).

Refuses: a picture of more than :data:`limits.MAX_IMAGE_PIXELS` pixels (a "decompression bomb",
checked from the header before any pixel is decoded), a damaged or truncated file, any format
outside :data:`FORMATS` (Pillow's other decoders, e.g. EPS which runs Ghostscript, are never
tried), and SVG: a drawing that can carry script is never shown from the app.
"""

from __future__ import annotations

import warnings
from html import escape
from pathlib import Path

from PIL import Image, ImageFile, UnidentifiedImageError

from commonroom.previews import limits
from commonroom.previews.converters.base import OutputFile, Refused, Result
from commonroom.previews.html import sanitise

FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")
PHOTO_FORMATS = {"JPEG", "WEBP", "TIFF"}  # saved as WebP (lossy); the rest as PNG
MAX_SIDE = 1600
MAX_ALT_CHARS = 200

SVG = "SVG drawings are not previewed; download to open it."
NOT_AN_IMAGE = "The file is not a picture the preview can read (PNG, JPEG, GIF, WebP, BMP, TIFF)."
DAMAGED = "The picture is damaged or incomplete, so it cannot be previewed."
TOO_BIG = "The picture has too many pixels to preview safely; download to open it."


def convert(source: Path, output: Path) -> Result:
    """The picture at ``source`` re-encoded into ``output`` (``image.webp`` or ``image.png``)."""
    if _is_svg(source):
        raise Refused(SVG)
    Image.MAX_IMAGE_PIXELS = limits.MAX_IMAGE_PIXELS
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that: refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _convert(source, output)
    except Refused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Refused(TOO_BIG) from exc
    except UnidentifiedImageError as exc:
        raise Refused(NOT_AN_IMAGE) from exc
    except MemoryError as exc:
        raise Refused(TOO_BIG) from exc
    except Exception as exc:  # truncated data, bad chunks, corrupt tables: Pillow raises many kinds
        raise Refused(DAMAGED) from exc


def _is_svg(source: Path) -> bool:
    if source.suffix.lower() in {".svg", ".svgz"}:
        return True
    with source.open("rb") as stream:
        head = stream.read(4096).lower()
    return b"<svg" in head


def _check_pixels(size: tuple[int, int]) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise Refused(DAMAGED)
    if width * height > limits.MAX_IMAGE_PIXELS:
        raise Refused(TOO_BIG)


def _convert(source: Path, output: Path) -> Result:
    # First pass: the header (size, format) and the file's own checks (PNG checksums...).
    with Image.open(source, formats=FORMATS) as probe:
        _check_pixels(probe.size)
        probe.verify()
    # verify() leaves the image unusable: open again to decode.
    with Image.open(source, formats=FORMATS) as image:
        fmt = str(image.format)
        width, height = image.size
        _check_pixels(image.size)
        animated = bool(getattr(image, "is_animated", False))
        had_exif = bool(image.info.get("exif") or image.info.get("xmp"))
        orientation = _orientation(image)
        if fmt == "JPEG":
            image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # decode at a smaller scale (1/2, 1/4...)
        image.load()
        picture: Image.Image = image
        if picture.mode not in {"RGB", "RGBA", "L", "LA"}:
            has_alpha = picture.mode in {"PA", "RGBa", "La"} or (
                picture.mode == "P" and "transparency" in picture.info
            )
            picture = picture.convert("RGBA" if has_alpha else "RGB")
        # Scaled first (the box is square, so turning afterwards changes nothing), then turned:
        # only the small copy is ever turned.
        picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        if orientation is not None:
            picture = picture.transpose(orientation)
        # A new image from the pixels alone: no info, no EXIF, no ICC profile, no text chunks.
        clean = Image.frombytes(picture.mode, picture.size, picture.tobytes())

    if fmt in PHOTO_FORMATS:
        name, content_type = "image.webp", "image/webp"
        clean.save(output / name, "WEBP", quality=85, method=4)
    else:
        name, content_type = "image.png", "image/png"
        clean.save(output / name, "PNG")

    shown_width, shown_height = clean.size
    notes = [f"{width:,} by {height:,} pixels, {_format_name(fmt)}."]
    if max(shown_width, shown_height) < max(width, height):
        notes.append(f"Shown at {shown_width:,} by {shown_height:,} pixels.")
    if animated:
        notes.append(
            "This file has several pages: the preview shows the first."
            if fmt == "TIFF"
            else "This is an animation: the preview shows its first frame."
        )
    if had_exif:
        notes.append(
            "The preview leaves out the details stored with the picture (camera, date, place)."
        )
    alt = _alt(source)
    html = sanitise(
        f'<figure class="cr-preview-image" id="p-1"><img src="{{{{file:{name}}}}}" '
        f'alt="{escape(alt)}" width="{shown_width}" height="{shown_height}"></figure>',
        extra_attributes={"figure": {"id"}},
    )
    return Result(
        kind="image",
        html=html,
        text="",
        notes=notes,
        files=[OutputFile(name=name, content_type=content_type)],
    )


_TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}  # EXIF orientation -> the turn that shows the picture upright (as ImageOps.exif_transpose)


def _orientation(image: Image.Image) -> Image.Transpose | None:
    try:
        value = image.getexif().get(0x0112)
    except Exception:  # damaged EXIF: show the picture as stored
        return None
    return _TURNS.get(value) if isinstance(value, int) else None


def _format_name(fmt: str) -> str:
    return {"WEBP": "WebP"}.get(fmt, fmt)


def _alt(source: Path) -> str:
    words = " ".join("".join(c if c.isprintable() else " " for c in source.name).split())
    return words[:MAX_ALT_CHARS] or "Picture"
