"""How things are named under ``/dav/``: workspaces as top-level folders, then folders and
documents under the names the web pages show, and which names belong to clients' scratch.

- A workspace's folder is its name made safe as one path segment (no ``/`` or ``\\``, no
  control characters, no trailing dots or spaces). When two of a person's workspaces would
  have the same name (whatever the case), each is shown with the first eight characters of
  its id: ``Board (1a2b3c4d)``.
- Folders and documents keep their own names (``documents.filenames`` already made them safe).
  Documents' names are unique in a folder whatever the case, and so are folders'; a document
  named like a folder beside it is shown as ``name (2).ext`` (the first number free), since
  one path cannot name both. Lookups ignore case, as Windows and macOS do.
- Names of clients' temporary files (:func:`is_temporary`) never become documents: they are
  the person's scratch (``models.ScratchFile``).
- Lock keys (:func:`lock_key`) start with the workspace's id, not its shown name, so that
  everyone's locks on one document meet, whatever each person's folder is called.
"""

from __future__ import annotations

import fnmatch
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

from commonroom.core.exceptions import ApplicationError
from commonroom.documents.filenames import clean_filename

# Clients' temporary and bookkeeping files, by name (compared folded): Office's owner files
# and temporaries, LibreOffice's lock files, macOS's resource forks and folder settings,
# Windows' folder settings and thumbnails.
TEMPORARY_PATTERNS: tuple[str, ...] = (
    "~$*",
    "*.tmp",
    "~*.tmp",
    ".~lock.*#",
    "._*",
    ".ds_store",
    "thumbs.db",
    "desktop.ini",
)

_NUMBERED = re.compile(r"^(?P<stem>.*) \((?P<n>\d{1,4})\)(?P<ext>\.[^.]*)?$")


def fold(name: str) -> str:
    """A name as lookups compare it: NFC, then case-folded."""
    return unicodedata.normalize("NFC", name).casefold()


def is_temporary(name: str) -> bool:
    folded = fold(name)
    return any(fnmatch.fnmatchcase(folded, pattern) for pattern in TEMPORARY_PATTERNS)


def segment(name: str) -> str:
    """``name`` made safe as one path segment (a workspace's, whose names may hold slashes)."""
    try:
        return clean_filename(name.replace("/", "-").replace("\\", "-"))
    except ApplicationError:
        return "Workspace"


def workspace_segments(workspaces: Iterable[Any]) -> dict[str, Any]:
    """Each workspace by the segment it is shown under, for one person (see the module)."""
    items = [(segment(ws.name), ws) for ws in workspaces]
    counts: dict[str, int] = {}
    for name, _ in items:
        counts[fold(name)] = counts.get(fold(name), 0) + 1
    shown: dict[str, Any] = {}
    for name, ws in items:
        if counts[fold(name)] > 1:
            name = f"{name} ({ws.pk.hex[:8]})"
        shown[name] = ws
    return shown


def numbered(name: str, n: int) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return f"{name} ({n})"
    return f"{stem} ({n}).{ext}"


def might_be_numbered(name: str) -> bool:
    """Whether ``name`` could be a document shown under a number (``x (2).docx``)."""
    return _NUMBERED.match(name) is not None


def member_names(folders: Sequence[str], documents: Sequence[str]) -> list[str]:
    """The names ``documents`` are shown under beside ``folders`` (in the same order): their
    own, unless a folder (or an earlier document) has it already."""
    taken = {fold(f) for f in folders} | {fold(d) for d in documents}
    used = {fold(f) for f in folders}
    shown: list[str] = []
    for name in documents:
        candidate = name
        if fold(candidate) in used:
            n = 2
            while fold(candidate := numbered(name, n)) in taken or fold(candidate) in used:
                n += 1
        used.add(fold(candidate))
        shown.append(candidate)
    return shown


def lock_key(workspace_id: Any, names: Sequence[str]) -> str:
    """The key locks on this place are stored under: the workspace's id, then the names below
    it, folded and quoted. The root is ``/``."""
    if workspace_id is None:
        return "/"
    parts = [workspace_id.hex, *(fold(n) for n in names)]
    return quote("/" + "/".join(parts), safe="/")


def scratch_key_name(user_id: Any, name: str) -> str:
    """The last part of a scratch file's lock key: its person's own, so that two people's
    clients writing ``~$minutes.docx`` in one folder never meet."""
    return f"~scratch~{user_id}~{name}"
