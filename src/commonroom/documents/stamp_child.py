"""The confined child that stamps a version into an Office file, or reads the stamp back
(``documents/stamping.py`` runs it through ``core/sandbox.py``; nothing here imports Django).

``python -m commonroom.documents.stamp_child stamp <source> <outdir> <name> <value>`` writes
``<outdir>/stamped``: the file with the custom property ``name`` set to ``value``, every other
part unchanged (``office.properties``), and answers ``{"ok": true}``.

``python -m commonroom.documents.stamp_child read <source> <name>`` answers
``{"ok": true, "value": "<the property's text>" | null}``.

A file that cannot be read or changed answers ``{"ok": false, "message": "<why>"}``; the parent
decides what that means (the file is served or kept as it came).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from commonroom.core.sandbox_child import serve

MAX_SOURCE = 256 * 1024 * 1024  # the parent sends nothing larger; a file grown since is refused
OUTPUT = "stamped"


def _load(source: Path) -> bytes:
    with source.open("rb") as f:
        data = f.read(MAX_SOURCE + 1)
    if len(data) > MAX_SOURCE:
        raise ValueError("too large")
    return data


def stamp(source: Path, outdir: Path, name: str, value: str) -> dict[str, Any]:
    from commonroom.office.package import OfficeFileError
    from commonroom.office.properties import with_property

    try:
        stamped = with_property(_load(source), name, value)
    except (OfficeFileError, ValueError) as exc:
        return {"ok": False, "message": str(exc)[:500]}
    (outdir / OUTPUT).write_bytes(stamped)
    return {"ok": True}


def read(source: Path, name: str) -> dict[str, Any]:
    from commonroom.office.package import OfficeFileError
    from commonroom.office.properties import read_property

    try:
        return {"ok": True, "value": read_property(_load(source), name)}
    except (OfficeFileError, ValueError) as exc:
        return {"ok": False, "message": str(exc)[:500]}


def _preload() -> None:
    import commonroom.office.properties  # noqa: F401 - lxml and zipfile, before confinement


def main(argv: list[str]) -> int:
    if len(argv) == 6 and argv[1] == "stamp":
        source, outdir = Path(argv[2]), Path(argv[3])
        return serve(
            lambda: stamp(source, outdir, argv[4], argv[5]),
            read_files=[source],
            write=[outdir],
            preload=_preload,
        )
    if len(argv) == 4 and argv[1] == "read":
        source = Path(argv[2])
        return serve(lambda: read(source, argv[3]), read_files=[source], write=[], preload=_preload)
    sys.stderr.write(
        "usage: python -m commonroom.documents.stamp_child "
        "stamp <source> <outdir> <name> <value> | read <source> <name>\n"
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
