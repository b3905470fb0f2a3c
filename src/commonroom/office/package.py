"""An OOXML package (.docx, .xlsx, .pptx) opened safely, changed part by part, saved.

What must always hold:

- A hostile file cannot exhaust the server: the zip's directory is checked before any member is
  read (count, declared sizes, compression ratio), and each member is then read through a
  capped stream, whatever its header claims. Encrypted members and two members with one name
  are refused.
- XML is parsed by lxml with no DTD loaded, no entity resolved, no network, and no "huge tree";
  a part that declares a DTD at all is refused (entity bombs and external entities need one,
  and office files never have one).
- :meth:`Package.save` writes the members in their original order, with their original names,
  dates, attributes and compression types; a member that was not replaced is written with
  exactly the bytes it was read with (its uncompressed bytes: a zip library may compress them
  differently). ``[Content_Types].xml`` and a ``.rels`` part change only when :meth:`Package.add`
  adds a part.

Every refusal is an :class:`OfficeFileError` whose message is a sentence for people.

lxml is imported by the functions that use it (here, in ``wordedit`` and ``properties``): the
suggestions app loads this library at start, and a serving process that never opens an Office
file need not hold lxml (4 MiB).
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from commonroom.core.exceptions import ApplicationError

if TYPE_CHECKING:
    from lxml import etree

MAX_MEMBERS = 5_000
MAX_TOTAL = 200 * 1024 * 1024  # uncompressed bytes, all members together
MAX_MEMBER = 100 * 1024 * 1024
MAX_RATIO = 200  # uncompressed / compressed, per member (XML compresses about 10 times)
# Below this size a member's ratio is not checked: a tiny part's ratio says nothing.
RATIO_FLOOR = 64 * 1024

CONTENT_TYPES = "[Content_Types].xml"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_SUFFIXES = (".xml", ".rels", ".vml")

DAMAGED = "The file is damaged or is not an Office file."
TOO_BIG = "The file expands to far more than its size, so it is not opened."
NO_DTD = "The file contains XML entity declarations, which are not allowed in Office files."


class OfficeFileError(ApplicationError):
    """An Office file that cannot be read or changed safely; the message says why, for people."""

    code = "office_file"


def _parser() -> etree.XMLParser:
    from lxml import etree

    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_blank_text=False,
    )


def parse_xml(data: bytes) -> Any:
    """``data`` parsed as XML by lxml with no DTD, no entity and no network (an lxml element).
    XML that declares a DTD is refused."""
    from lxml import etree

    try:
        root = etree.fromstring(data, parser=_parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        if _declares_dtd(data):  # libxml2 stops an entity loop or bomb with a syntax error
            raise OfficeFileError(NO_DTD) from exc
        raise OfficeFileError("The file is damaged: part of it is not readable XML.") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise OfficeFileError(NO_DTD)
    return root


def _declares_dtd(data: bytes) -> bool:
    return any(
        marker in data for marker in (b"<!DOCTYPE", "<!DOCTYPE".encode("utf-16-le"),
                                      "<!DOCTYPE".encode("utf-16-be"))
    )  # fmt: skip


def serialize_xml(root: Any, *, standalone: bool | None = None) -> bytes:
    """``root``'s whole document as UTF-8 XML with a declaration; ``standalone`` as the parsed
    document said, unless given."""
    from lxml import etree

    tree = root.getroottree()
    if standalone is None:
        standalone = tree.docinfo.standalone
    if standalone is None:
        return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))
    return bytes(
        etree.tostring(tree, xml_declaration=True, encoding="UTF-8", standalone=standalone)
    )


_PROLOG = re.compile(rb"^(?:\xef\xbb\xbf)?(?:<\?xml[^>]*\?>)?[ \t\r\n]*")
_ENCODING = re.compile(rb"encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


def serialize_like(root: Any, original: bytes) -> bytes:
    """``root``'s document as UTF-8, after the declaration ``original`` begins with (kept
    exactly when ``original`` is UTF-8; otherwise a UTF-8 declaration is written)."""
    from lxml import etree

    prolog = _PROLOG.match(original)
    declared = _ENCODING.search(prolog.group(0)) if prolog else None
    utf8 = declared is None or declared.group(1).lower() in (b"utf-8", b"utf8")
    if prolog is None or not utf8 or not original[prolog.end() :].startswith(b"<"):
        return serialize_xml(root)  # another encoding (UTF-16): written as UTF-8
    body = etree.tostring(root.getroottree(), encoding="UTF-8", xml_declaration=False)
    return prolog.group(0) + bytes(body)


def _read_capped(stream: IO[bytes], limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise OfficeFileError(TOO_BIG)
    return data


@dataclass
class _Member:
    info: zipfile.ZipInfo
    data: bytes
    changed: bool = False


class Package:
    """The members of an OOXML zip, in order, each read whole under the caps."""

    def __init__(self, members: list[_Member], comment: bytes) -> None:
        self._members = members
        self._by_name = {m.info.filename: m for m in members}
        self._comment = comment

    @classmethod
    def open(cls, data: bytes) -> Package:
        """The package in ``data``, its directory checked before any member is read."""
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise OfficeFileError(DAMAGED) from exc
        with archive:
            infos = archive.infolist()
            if len(infos) > MAX_MEMBERS:
                raise OfficeFileError("The file has too many parts to be opened safely.")
            names = [info.filename for info in infos]
            if len(set(names)) != len(names):
                raise OfficeFileError("The file is damaged: two of its parts have the same name.")
            total = 0
            for info in infos:
                if info.flag_bits & 0x1:
                    raise OfficeFileError("The file is encrypted, so it cannot be changed here.")
                total += info.file_size
                ratio = info.file_size / max(info.compress_size, 1)
                if info.file_size > MAX_MEMBER or (
                    info.file_size > RATIO_FLOOR and ratio > MAX_RATIO
                ):
                    raise OfficeFileError(TOO_BIG)
            if total > MAX_TOTAL:
                raise OfficeFileError(TOO_BIG)
            members: list[_Member] = []
            read_total = 0
            for info in infos:
                try:
                    with archive.open(info) as stream:
                        body = _read_capped(stream, min(MAX_MEMBER, info.file_size))
                except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                    raise OfficeFileError(DAMAGED) from exc
                read_total += len(body)
                if read_total > MAX_TOTAL:
                    raise OfficeFileError(TOO_BIG)
                members.append(_Member(info=info, data=body))
            if CONTENT_TYPES not in names:
                raise OfficeFileError(DAMAGED)
            package = cls(members, archive.comment)
        # Every XML part is checked now, before any caller or library parses one.
        for member in members:
            if member.info.filename.lower().endswith(XML_SUFFIXES):
                parse_xml(member.data)
        return package

    # --- reading ---------------------------------------------------------------------------------

    def names(self) -> list[str]:
        """The members' names, in the zip's order."""
        return [m.info.filename for m in self._members]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def read(self, name: str) -> bytes:
        """A member's (current) bytes."""
        member = self._by_name.get(name)
        if member is None:
            raise OfficeFileError(f"The file is missing a part it needs ({name}).")
        return member.data

    def xml(self, name: str) -> Any:
        """A member parsed as XML (a fresh lxml tree each time; its root element)."""
        return parse_xml(self.read(name))

    def content_type(self, name: str) -> str | None:
        """The content type ``[Content_Types].xml`` gives a part: its override, else its
        extension's default."""
        types = self.xml(CONTENT_TYPES)
        for override in types.iter(f"{{{CT_NS}}}Override"):
            if override.get("PartName", "").lstrip("/").lower() == name.lower():
                return str(override.get("ContentType"))
        extension = name.rsplit(".", 1)[-1].lower()
        for default in types.iter(f"{{{CT_NS}}}Default"):
            if default.get("Extension", "").lower() == extension:
                return str(default.get("ContentType"))
        return None

    def relationships(self, source: str | None) -> list[tuple[str, str, str]]:
        """``(id, type, target part name)`` of the internal relationships of ``source`` (a part
        name, or ``None`` for the package's own), targets resolved to part names."""
        rels_name = rels_part(source)
        if rels_name not in self:
            return []
        found = []
        for rel in self.xml(rels_name).iter(f"{{{RELS_NS}}}Relationship"):
            if rel.get("TargetMode") == "External":
                continue
            found.append(
                (str(rel.get("Id")), str(rel.get("Type")), _resolve(source, str(rel.get("Target"))))
            )
        return found

    # --- changing --------------------------------------------------------------------------------

    def replace(self, name: str, data: bytes) -> None:
        """A member's bytes replaced; its name, place, date and compression stay."""
        member = self._by_name.get(name)
        if member is None:
            raise OfficeFileError(f"The file is missing a part it needs ({name}).")
        if name.lower().endswith(XML_SUFFIXES):
            parse_xml(data)
        member.data = data
        member.changed = True

    def replace_xml(self, name: str, root: Any) -> None:
        """A member replaced by the XML document ``root`` belongs to, written after the member's
        own XML declaration, byte for byte (when it is UTF-8, as Office writes it)."""
        self.replace(name, serialize_like(root, self.read(name)))

    def add(
        self,
        name: str,
        data: bytes,
        *,
        content_type: str,
        rel_from: str | None,
        rel_type: str,
    ) -> str:
        """A new part, appended after the others, with its content type (an override in
        ``[Content_Types].xml``) and a relationship of ``rel_type`` from ``rel_from`` (a part
        name, or ``None`` for the package itself). Returns the relationship's id."""
        from lxml import etree

        name = name.lstrip("/")
        if name in self or not name or name.endswith("/"):
            raise OfficeFileError(f"The file already has a part named {name}.")
        if name.lower().endswith(XML_SUFFIXES):
            parse_xml(data)
        if rel_from is not None and rel_from not in self:
            raise OfficeFileError(f"The file is missing a part it needs ({rel_from}).")

        types = self.xml(CONTENT_TYPES)
        override = etree.SubElement(types, f"{{{CT_NS}}}Override")
        override.set("PartName", "/" + name)
        override.set("ContentType", content_type)
        self.replace_xml(CONTENT_TYPES, types)

        rels_name = rels_part(rel_from)
        if rels_name in self:
            rels = self.xml(rels_name)
        else:
            rels = etree.Element(f"{{{RELS_NS}}}Relationships", nsmap={None: RELS_NS})
        taken = {str(r.get("Id")) for r in rels.iter(f"{{{RELS_NS}}}Relationship")}
        number = len(taken) + 1
        while f"rId{number}" in taken:
            number += 1
        rel_id = f"rId{number}"
        rel = etree.SubElement(rels, f"{{{RELS_NS}}}Relationship")
        rel.set("Id", rel_id)
        rel.set("Type", rel_type)
        rel.set("Target", _relative(rel_from, name))
        if rels_name in self:
            self.replace_xml(rels_name, rels)
        else:
            self._append(rels_name, serialize_xml(rels, standalone=True))
        self._append(name, data)
        return rel_id

    def _append(self, name: str, data: bytes) -> None:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        member = _Member(info=info, data=data, changed=True)
        self._members.append(member)
        self._by_name[name] = member

    # --- writing ---------------------------------------------------------------------------------

    def save(self) -> bytes:
        """The package as a zip: the members in order, each with its own name, date, attributes
        and compression type."""
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            for member in self._members:
                old = member.info
                info = zipfile.ZipInfo(old.filename, date_time=old.date_time)
                info.compress_type = old.compress_type
                info.external_attr = old.external_attr
                info.create_system = old.create_system
                info.comment = old.comment
                archive.writestr(info, member.data)
            archive.comment = self._comment
        return out.getvalue()


def rels_part(source: str | None) -> str:
    """The name of the relationships part of ``source`` (``None``: the package's own)."""
    if source is None:
        return "_rels/.rels"
    folder, base = posixpath.split(source)
    return posixpath.join(folder, "_rels", base + ".rels")


def _relative(source: str | None, target: str) -> str:
    folder = posixpath.dirname(source) if source else ""
    return posixpath.relpath(target, folder or ".")


def _resolve(source: str | None, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    folder = posixpath.dirname(source) if source else ""
    return posixpath.normpath(posixpath.join(folder, target))
