"""The confined child that accepts every tracked change of a Word file
(``suggestions/revisions.py`` runs it through ``core/sandbox.py``; nothing here imports Django).

``python -m commonroom.suggestions.revisions_child accept <source> <outdir> <name> <value>``
counts the file's tracked changes (``office.wordedit.tracked_revisions``), accepts them all
(``accept_all_revisions``), sets the custom property ``name`` to ``value`` when the file
already has it (the version stamp, so the new file names the version it was made from), writes
``<outdir>/accepted`` and answers ``{"ok": true, "insertions": n, "deletions": n,
"others": n, "stamp": value}`` (``stamp``: the value it set, or null when the file has no
such property and so carries no stamp: the parent's upload need not read the file back).

It answers ``{"ok": false, "code": "no_tracked_changes"}`` when the file has none, and
``{"ok": false, "code": "refused", "message": "<why>"}`` when the file cannot be read or its
changes cannot be accepted (a table's cells changed, say); the parent turns both into a
sentence and writes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from commonroom.core.sandbox_child import serve

MAX_SOURCE = 256 * 1024 * 1024  # the parent sends nothing larger; a file grown since is refused
OUTPUT = "accepted"


def _load(source: Path) -> bytes:
    with source.open("rb") as f:
        data = f.read(MAX_SOURCE + 1)
    if len(data) > MAX_SOURCE:
        raise ValueError("The file is too large.")
    return data


def accept(source: Path, outdir: Path, name: str, value: str) -> dict[str, Any]:
    from commonroom.office.package import OfficeFileError
    from commonroom.office.properties import read_property, with_property
    from commonroom.office.wordedit import accept_all_revisions, tracked_revisions

    try:
        data = _load(source)
        found = tracked_revisions(data)
        if not found.total:
            return {"ok": False, "code": "no_tracked_changes"}
        accepted = accept_all_revisions(data)
        stamp = None
        if value and read_property(accepted, name) is not None:
            accepted = with_property(accepted, name, value)
            stamp = value
    except (OfficeFileError, ValueError) as exc:
        return {"ok": False, "code": "refused", "message": str(exc)[:500]}
    (outdir / OUTPUT).write_bytes(accepted)
    return {
        "ok": True,
        "insertions": found.insertions,
        "deletions": found.deletions,
        "others": found.others,
        "stamp": stamp,
    }


def _preload() -> None:
    # lxml and zipfile, imported before confinement
    import commonroom.office.properties
    import commonroom.office.wordedit  # noqa: F401


def main(argv: list[str]) -> int:
    if len(argv) == 6 and argv[1] == "accept":
        source, outdir = Path(argv[2]), Path(argv[3])
        return serve(
            lambda: accept(source, outdir, argv[4], argv[5]),
            read_files=[source],
            write=[outdir],
            preload=_preload,
        )
    sys.stderr.write(
        "usage: python -m commonroom.suggestions.revisions_child accept <source> <outdir> <name> "
        "<value>\n"
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
