"""The picture converter, on pictures the tests make: a clean, scaled, upright copy with no
metadata; decompression bombs, truncated files, SVG and other formats refused."""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from commonroom.previews.converters import image
from commonroom.previews.converters.base import OutputFile, Refused

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F


def photo_with_gps(path: Path, size: tuple[int, int] = (400, 200)) -> Path:
    picture = Image.new("RGB", size, (200, 30, 30))
    picture.paste((30, 30, 200), (0, 0, size[0] // 2, size[1] // 4))  # a blue corner
    exif = Image.Exif()
    exif[MAKE] = "Trust camera"
    exif[ORIENTATION] = 6  # the camera was turned: show rotated 90 degrees clockwise
    exif[GPS_IFD] = {1: "N", 2: (51.0, 30.0, 12.0), 3: "W", 4: (0.0, 7.0, 40.0)}
    picture.save(path, "JPEG", exif=exif, quality=90)
    assert Image.open(path).getexif().get_ifd(GPS_IFD)  # the source really has GPS
    return path


def test_a_photo_is_turned_upright_and_stripped_of_exif_and_gps(tmp_path):
    source = photo_with_gps(tmp_path / "ward round.jpg")
    out = tmp_path / "out"
    out.mkdir()

    result = image.convert(source, out)

    assert result.kind == "image"
    assert result.files == [OutputFile(name="image.webp", content_type="image/webp")]
    assert result.html == (
        '<figure class="cr-preview-image" id="p-1"><img src="{{file:image.webp}}" '
        'alt="ward round.jpg" width="200" height="400"></figure>'
    )
    assert result.notes == [
        "400 by 200 pixels, JPEG.",
        "The preview leaves out the details stored with the picture (camera, date, place).",
    ]
    data = (out / "image.webp").read_bytes()
    assert b"Exif" not in data and b"EXIF" not in data and b"Trust camera" not in data
    with Image.open(out / "image.webp") as shown:
        assert shown.format == "WEBP"
        assert shown.size == (200, 400)  # rotated by the EXIF orientation
        assert len(shown.getexif()) == 0
        assert "exif" not in shown.info and "icc_profile" not in shown.info
        # The blue corner (top left before turning) is now at the top right.
        red, _, blue = shown.convert("RGB").getpixel((190, 10))  # type: ignore[misc]
        assert blue > 150 and red < 100


def test_a_large_png_is_scaled_and_its_text_chunks_dropped(tmp_path):
    source = tmp_path / "plan.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Dr Secret")
    Image.new("RGBA", (4000, 1000), (0, 128, 0, 128)).save(source, pnginfo=info)
    out = tmp_path / "out"
    out.mkdir()

    result = image.convert(source, out)

    assert result.files == [OutputFile(name="image.png", content_type="image/png")]
    assert result.notes == ["4,000 by 1,000 pixels, PNG.", "Shown at 1,600 by 400 pixels."]
    assert b"Dr Secret" not in (out / "image.png").read_bytes()
    with Image.open(out / "image.png") as shown:
        assert shown.size == (1600, 400) and shown.mode == "RGBA"
        assert "Author" not in shown.info


def test_an_animation_shows_its_first_frame(tmp_path):
    source = tmp_path / "spinner.gif"
    frames = [Image.new("RGB", (20, 20), colour) for colour in ("red", "green", "blue")]
    frames[0].save(source, save_all=True, append_images=frames[1:])

    result = image.convert(source, tmp_path)

    assert "This is an animation: the preview shows its first frame." in result.notes
    assert (tmp_path / "image.png").exists()


def one_colour_png(path: Path, width: int, height: int) -> Path:
    """A real, complete 1-bit PNG of one colour, written without holding its pixels: small on
    disk, ``width * height`` pixels once decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\0" * (1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        out.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)))
        out.write(chunk(b"IDAT", idat))
        out.write(chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize(
    "side",
    [30_000, 8_000],  # 900 million pixels (Pillow's own error); 64 million (over our limit only)
)
def test_a_decompression_bomb_is_refused_before_decoding(tmp_path, side):
    source = one_colour_png(tmp_path / "bomb.png", side, side)
    assert source.stat().st_size < 2 * 1024 * 1024

    started = time.monotonic()
    with pytest.raises(Refused, match="too many pixels"):
        image.convert(source, tmp_path)
    assert time.monotonic() - started < 2
    assert not list(tmp_path.glob("image.*"))


def test_a_truncated_jpeg_is_refused_with_a_message(tmp_path):
    whole = tmp_path / "whole.jpg"
    Image.effect_noise((800, 600), 60).convert("RGB").save(whole, "JPEG", quality=95)
    data = whole.read_bytes()
    source = tmp_path / "cut.jpg"
    source.write_bytes(data[: len(data) // 2])

    with pytest.raises(Refused, match="damaged or incomplete"):
        image.convert(source, tmp_path)


def test_an_svg_with_script_is_refused(tmp_path):
    svg = (
        '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        "<script>alert(document.cookie)</script><rect width='10' height='10'/></svg>"
    )
    for name in ("drawing.svg", "drawing.png"):  # by its name, and by its content
        source = tmp_path / name
        source.write_text(svg)
        with pytest.raises(Refused) as refused:
            image.convert(source, tmp_path)
        assert str(refused.value) == "SVG drawings are not previewed; download to open it."


def test_formats_outside_the_list_are_never_decoded(tmp_path):
    # EPS would make Pillow run Ghostscript: it is not in the list, so it is not an image here.
    source = tmp_path / "poster.eps"
    source.write_text("%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")

    with pytest.raises(Refused, match="not a picture the preview can read"):
        image.convert(source, tmp_path)
