"""Custom document properties of an Office file (``docProps/custom.xml``): read one, or set one
with every other part of the file left as it was.

Word, Excel and PowerPoint show these under File > Info > Properties > Custom, keep them when
the file is edited and saved, and so do LibreOffice and the Python libraries. A text property
is a ``vt:lpwstr`` inside a ``property`` element named by its ``name`` attribute.

What must always hold:

- Setting a property changes only the custom-properties part; when the file has none, the part
  is added, and ``[Content_Types].xml`` and ``_rels/.rels`` gain it (and nothing else changes).
  Every other member keeps its bytes (``package.Package``).
- Reading never trusts the file: the package is opened under its caps, XML with no DTD or
  entity; a property that is not text, is absent, or is longer than :data:`MAX_VALUE` reads as
  ``None``; so does a file without the part.
"""

from __future__ import annotations

from typing import Any

from commonroom.office.package import OfficeFileError, Package

CUSTOM_PART = "docProps/custom.xml"
CUSTOM_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
CUSTOM_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
CUSTOM_NS = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
VT_NS = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
# The format id every user-defined property carries (the Office spec's FMTID_UserDefinedProperties).
USER_DEFINED = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"
FIRST_PID = 2  # pids 0 and 1 are reserved
MAX_VALUE = 1000  # characters; a longer value is not ours, whatever it says
MAX_NAME = 255


def _custom_part(package: Package) -> str | None:
    """The custom-properties part the package's relationships name, if it has one and it is
    there."""
    for _id, rel_type, target in package.relationships(None):
        if rel_type == CUSTOM_REL and target in package:
            return target
    return None


def _text_value(prop: Any) -> str | None:
    for child in prop:
        if child.tag in (f"{{{VT_NS}}}lpwstr", f"{{{VT_NS}}}lpstr"):
            text = child.text or ""
            return text if len(text) <= MAX_VALUE else None
    return None


def custom_property(package: Package, name: str) -> str | None:
    """The text of the custom property ``name``, or ``None`` (absent, not text, too long)."""
    part = _custom_part(package)
    if part is None:
        return None
    for prop in package.xml(part).iter(f"{{{CUSTOM_NS}}}property"):
        if prop.get("name") == name:
            return _text_value(prop)
    return None


def _check(name: str, value: str) -> None:
    if not name or len(name) > MAX_NAME or len(value) > MAX_VALUE:
        raise ValueError("a custom property's name or value is too long or empty")
    if any(ord(c) < 0x20 or c in "\ufffe\uffff" for c in name + value):
        raise ValueError("a custom property holds only printable text")


def _property(parent: Any, name: str, value: str, pid: int) -> Any:
    from lxml import etree

    prop = etree.SubElement(parent, f"{{{CUSTOM_NS}}}property")
    prop.set("fmtid", USER_DEFINED)
    prop.set("pid", str(pid))
    prop.set("name", name)
    etree.SubElement(prop, f"{{{VT_NS}}}lpwstr").text = value
    return prop


def set_custom_property(package: Package, name: str, value: str) -> None:
    """Set the text property ``name`` to ``value`` in ``package``: replaced where it exists
    (whatever its type was), added after the others otherwise; the part is added when the file
    has none."""
    from lxml import etree

    _check(name, value)
    part = _custom_part(package)
    if part is None:
        if CUSTOM_PART in package:  # a part no relationship names: not ours to guess about
            raise OfficeFileError("The file is damaged: its custom properties are not linked.")
        root = etree.Element(f"{{{CUSTOM_NS}}}Properties", nsmap={None: CUSTOM_NS, "vt": VT_NS})
        _property(root, name, value, FIRST_PID)
        data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
        package.add(
            CUSTOM_PART,
            bytes(data),
            content_type=CUSTOM_CONTENT_TYPE,
            rel_from=None,
            rel_type=CUSTOM_REL,
        )
        return
    root = package.xml(part)
    pids = [FIRST_PID - 1]
    for prop in root.iter(f"{{{CUSTOM_NS}}}property"):
        pid = prop.get("pid", "")
        if pid.isdecimal() and len(pid) < 10:
            pids.append(int(pid))
        if prop.get("name") == name:
            for child in list(prop):
                prop.remove(child)
            etree.SubElement(prop, f"{{{VT_NS}}}lpwstr").text = value
            package.replace_xml(part, root)
            return
    _property(root, name, value, max(pids) + 1)
    package.replace_xml(part, root)


def read_property(data: bytes, name: str) -> str | None:
    """The text of custom property ``name`` in the Office file ``data`` (see
    :func:`custom_property`). Raises :class:`OfficeFileError` for a file that cannot be read."""
    return custom_property(Package.open(data), name)


def with_property(data: bytes, name: str, value: str) -> bytes:
    """The Office file ``data`` with custom property ``name`` set to ``value``, every other part
    unchanged. Raises :class:`OfficeFileError` for a file that cannot be read or changed."""
    package = Package.open(data)
    set_custom_property(package, name, value)
    return package.save()
