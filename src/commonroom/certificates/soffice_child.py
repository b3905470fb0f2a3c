"""The confined child that turns one Office file into a PDF with LibreOffice (run by
``render.py`` through ``core.sandbox.run_child``; no Django).

``python -m commonroom.certificates.soffice_child SOFFICE_BIN SOURCE OUTDIR``: limits itself
(address space, CPU, file size), shuts itself in, then runs ``soffice.bin --headless
--convert-to pdf`` with a throwaway profile in its own work folder, again after LibreOffice's
first-start restart (exit 81), and answers ``{"ok", "code"}``.

How far LibreOffice can be shut in (tested in ``tests/test_render.py``): Landlock holds it to
reading the system's folders, Python's, LibreOffice's configuration (``/etc/libreoffice``,
``/var/lib/libreoffice``, ``/var/spool/libreoffice``) and the one file, writing only its work
and output folders, running only LibreOffice's own programs, and reaching no TCP port; it
cannot signal outside itself. It cannot be given the usual seccomp layer (no socket at all):
LibreOffice will not start without its single-instance pipe, a Unix socket it always makes in
``/tmp`` (or ``/var/tmp``), whatever its profile or ``TMPDIR``. So it may make (and remove) a
socket beneath those two folders and nothing else there, and seccomp lets it open only Unix
stream sockets and refuses every ``connect()``: it can reach no other process's socket (the
database's, the cache's). That socket in the system's temporary folder is the one thing it
leaves outside the data directory while it runs; LibreOffice removes it when it ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from commonroom.core.process import die_with_parent
from commonroom.core.sandbox_child import serve

# What LibreOffice reads besides /usr (Debian's packages link these into its install folder).
CONFIG_FOLDERS = ("/etc/libreoffice", "/var/lib/libreoffice", "/var/spool/libreoffice")
# Where LibreOffice's single-instance pipe goes (osl's pipe code: the first writable).
SOCKET_FOLDERS = ("/tmp", "/var/tmp")  # noqa: S108 - LibreOffice's choice, see above
RESTART = 81  # LibreOffice made its profile and asks to be started again


def interpreters() -> list[Path]:
    """The dynamic loaders a program is started through (Landlock asks for the right to run
    them too)."""
    found: set[Path] = set()
    for folder in ("/lib64", "/lib", "/usr/lib64", "/usr/lib"):
        for loader in Path(folder).glob("ld-linux*.so*") if Path(folder).is_dir() else []:
            found.add(loader.resolve())
    return sorted(found)


def main() -> int:
    soffice, source, outdir = (Path(a) for a in sys.argv[1:4])
    work = Path.cwd()
    profile = work / "profile"
    parent = os.getpid()

    def tie() -> None:  # in LibreOffice's process: killed when this child dies
        die_with_parent(parent, signal.SIGKILL)

    def convert() -> dict[str, Any]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMMONROOM_")}
        env["HOME"] = str(work)
        command = [
            str(soffice),
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--invisible",
            "--norestore",
            "--nologo",
            "--nolockcheck",
            "--convert-to",
            "pdf",
            "--outdir",
            str(outdir),
            str(source),
        ]
        code = RESTART
        for _ in range(3):
            done = subprocess.run(  # noqa: S603 - LibreOffice, with our paths
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=sys.stderr,
                stderr=sys.stderr,
                preexec_fn=tie,
                check=False,
            )
            code = done.returncode
            if code != RESTART:
                break
        return {"ok": code == 0, "code": code}

    return serve(
        convert,
        read_files=[source],
        write=[work, outdir],
        read=[Path(p) for p in CONFIG_FOLDERS] + [soffice.parent.parent],
        execute=[soffice.parent, *interpreters()],
        local_sockets=[Path(p) for p in SOCKET_FOLDERS],
    )


if __name__ == "__main__":
    sys.exit(main())
