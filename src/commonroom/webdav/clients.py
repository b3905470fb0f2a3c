"""Which program a WebDAV request comes from, in the words a person would use ("Word",
"Finder"), read from what it tells: its ``User-Agent``, else the ``<owner>`` of its LOCK.

Only for showing ("being edited in Word by Tom since 10:02"): it decides nothing, and a
program that says nothing recognisable is "" (the pages then say "in another app")."""

from __future__ import annotations

# Checked in order: the first whose words appear (compared in lower case) names the program.
PROGRAMS: tuple[tuple[str, str], ...] = (
    ("microsoft office word", "Word"),
    ("winword", "Word"),
    ("microsoft office excel", "Excel"),
    ("microsoft office powerpoint", "PowerPoint"),
    ("microsoft office onenote", "OneNote"),
    ("microsoft office visio", "Visio"),
    ("microsoft office", "Microsoft Office"),
    ("libreoffice", "LibreOffice"),
    ("openoffice", "OpenOffice"),
    ("microsoft-webdav-miniredir", "Windows Explorer"),
    ("webdavfs", "Finder"),
    ("webdavlib", "Finder"),
    ("cyberduck", "Cyberduck"),
    ("mountain duck", "Mountain Duck"),
    ("winscp", "WinSCP"),
    ("rclone", "rclone"),
    ("davfs2", "davfs2"),
    ("gvfs", "Files"),
    ("nautilus", "Files"),
    ("dolphin", "Dolphin"),
    ("kio", "Dolphin"),
)
MAX_LENGTH = 60


def program_name(user_agent: str, owner: str = "") -> str:
    """The program's name, or "" when neither what it says of itself nor the lock's owner
    names one we know."""
    for told in (user_agent, owner):
        lowered = (told or "").lower()
        for words, name in PROGRAMS:
            if words in lowered:
                return name
    return ""
