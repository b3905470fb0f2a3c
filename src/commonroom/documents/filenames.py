"""Turning whatever name a client sends into a safe, readable document name, and the name a
download is saved under.

The result never contains a path separator, NUL or control character, bidirectional override,
or leading/trailing dots and spaces; it is NFC-normalised and at most 255 characters, keeping
the extension when it has to shorten. A name with nothing usable left is refused.

A download is named after the document and its version (:func:`download_name`: "Board minutes
(version 3).docx"), never after whatever name the upload had, and cleaned the same way.
"""

from __future__ import annotations

import mimetypes
import unicodedata

from commonroom.core.exceptions import ApplicationError

MAX_NAME = 255
# Bidirectional controls (U+202A..U+202E, U+2066..U+2069) and marks that can disguise a name.
_INVISIBLE = {chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]} | {
    "\u200e",
    "\u200f",
    "\u061c",
    "\ufeff",
}
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)
}


def clean_filename(raw: str) -> str:
    name = unicodedata.normalize("NFC", str(raw or ""))
    # Keep only the last path component, whatever the separator.
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        ch
        for ch in name
        if ch not in _INVISIBLE and unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co"}
    )
    name = " ".join(name.split()).strip(" .")
    if not name or set(name) <= {"."}:
        raise ApplicationError(
            "That file name has no usable characters. Rename the file and try again.",
            code="invalid_filename",
        )
    if name.split(".")[0].upper() in _WINDOWS_RESERVED:
        name = f"_{name}"
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: MAX_NAME - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:MAX_NAME].rstrip(" .")
    return name


def guess_type_from_name(name: str) -> str | None:
    return mimetypes.guess_type(name, strict=False)[0]


_MAX_EXTENSION = 16


def _extension(name: str) -> str:
    """``"Board minutes.docx"`` → ``".docx"``; ``""`` when the name has none (nothing before
    the dot, or what follows it is too long or has spaces to be one)."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or not ext or len(ext) > _MAX_EXTENSION or " " in ext:
        return ""
    return "." + ext


def download_name(
    document_name: str,
    number: int,
    stored_name: str = "",
    *,
    note: str = "",
    extension: str = "",
) -> str:
    """The name a download of version ``number`` of ``document_name`` is saved under: the
    document's name without its extension, "(version N)" (with ``note`` after a comma), then
    the extension of the version's own file (``stored_name``; else the document's), so that the
    file opens in the program its bytes are for (or ``extension``, for a file made from it).
    ``"Board minutes.docx", 3`` → ``"Board minutes (version 3).docx"``. Cleaned like any name:
    a hostile document name gives a safe one."""
    document_name = clean_filename(document_name)
    ext = _extension(document_name)
    stem = document_name[: -len(ext)] if ext else document_name
    ext = extension or _extension(stored_name) or ext
    label = f"version {int(number)}" + (f", {note}" if note else "")
    return clean_filename(f"{stem.strip()} ({label}){ext}")
