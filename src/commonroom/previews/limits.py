"""Limits that keep a hostile file from harming the server, checked before anything is parsed.

Office files are zips: a small file can expand to gigabytes (a zip bomb), so the members are
counted and their declared and actual sizes bounded before any is read, and each is read through
a capped stream. XML is parsed with defusedxml (no entity expansion, no external entities).
Images are bounded in pixels before decoding. Everything here raises :class:`Refused`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import IO, Any

from commonroom.previews.converters.base import Refused

MAX_ZIP_MEMBERS = 5_000
MAX_ZIP_TOTAL = 200 * 1024 * 1024  # uncompressed bytes, all members together
MAX_ZIP_MEMBER = 100 * 1024 * 1024
MAX_ZIP_RATIO = 200  # uncompressed / compressed, per member (text compresses ~10x)
MAX_IMAGE_PIXELS = 50_000_000  # ~7,000 x 7,000
MAX_PDF_PAGES = 2_000  # pages shown; a longer PDF is shown up to here, with a note
MAX_TEXT_BYTES = 5 * 1024 * 1024  # .txt/.md/.csv read at most this much


def check_zip(path: Path) -> zipfile.ZipFile:
    """Open ``path`` as a zip after checking its directory: members, sizes and ratios. The
    declared sizes can lie, so read members only through :func:`read_member`."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise Refused("The file is damaged or is not the kind of file its name says.") from exc
    members = archive.infolist()
    if len(members) > MAX_ZIP_MEMBERS:
        raise Refused("The file has too many parts to preview safely.")
    total = 0
    for info in members:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > MAX_ZIP_MEMBER or ratio > MAX_ZIP_RATIO:
            raise Refused("The file expands to far more than its size: it is not previewed.")
    if total > MAX_ZIP_TOTAL:
        raise Refused("The file expands to far more than its size: it is not previewed.")
    return archive


def read_member(archive: zipfile.ZipFile, name: str, limit: int = MAX_ZIP_MEMBER) -> bytes:
    """One member's bytes, stopping at ``limit`` whatever its header claims."""
    try:
        with archive.open(name) as stream:
            return read_capped(stream, limit)
    except KeyError as exc:
        raise Refused("The file is missing a part it needs.") from exc
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise Refused("The file is damaged.") from exc


def read_capped(stream: IO[bytes], limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise Refused("The file expands to far more than its size: it is not previewed.")
    return data


# --- XML -----------------------------------------------------------------------------------------

XML_PART_SUFFIXES = (".xml", ".rels", ".vml")


def check_xml(data: bytes) -> None:
    """Refuse XML that declares a DTD: entity expansion ("billion laughs") and external entities
    (reading a server's files or URLs) both need one, and office files never have one."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    try:
        fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise Refused(
            "The file contains XML entity declarations, which are not allowed: it is not previewed."
        ) from exc
    except (ParseError, ValueError) as exc:
        raise Refused("The file is damaged: part of it is not readable.") from exc


def parse_xml(data: bytes) -> Any:
    """``data`` checked by :func:`check_xml`, then parsed with lxml that loads no DTD, resolves
    no entity and touches no network (an lxml element)."""
    from lxml import etree

    check_xml(data)
    parser = etree.XMLParser(
        resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False
    )
    try:
        return etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise Refused("The file is damaged: part of it is not readable.") from exc


def check_zip_xml(archive: zipfile.ZipFile) -> None:
    """Every XML part of an office file checked by :func:`check_xml`, before any library parses
    one."""
    for info in archive.infolist():
        if info.filename.lower().endswith(XML_PART_SUFFIXES):
            check_xml(read_member(archive, info.filename))
