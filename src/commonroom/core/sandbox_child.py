"""The confined child's side of ``core/sandbox.py`` (no Django): limit itself, shut itself in,
do its work, answer with one JSON object on its standard output.

A child module's ``main`` calls :func:`serve` with its work as a function returning the answer
(a JSON object). Before the work: the limits from the environment (address space, CPU time,
file size, no core dump), whatever the work prints goes to stderr (stdout carries only the
answer), the code it needs is imported (``preload``: our code, before any file is read), and
``confine.confine`` is applied with the files it may read and the folders it may write. With
``COMMONROOM_CHILD_CONFINE=required`` and a file or network layer missing, the work is not done:
the answer is ``refused`` with the missing layers. The layers applied are always in the answer
(``confined``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

# The child's environment, set by the parent (core.sandbox.child_env).
CONFINE_ENV = "COMMONROOM_CHILD_CONFINE"  # "required" or "best-effort"
MEMORY_ENV = "COMMONROOM_CHILD_MEMORY_MB"
CPU_ENV = "COMMONROOM_CHILD_CPU_SECONDS"
FILE_ENV = "COMMONROOM_CHILD_FILE_MB"
REQUIRED_LAYERS = ("landlock-files", "seccomp-network")
# A child that must listen on a Unix socket of its own (LibreOffice): the narrower filter.
REQUIRED_LAYERS_LOCAL_SOCKET = ("landlock-files", "seccomp-local-socket")


def limit_self() -> None:
    import resource

    mb = 1024 * 1024
    memory = int(os.environ.get(MEMORY_ENV, "1024")) * mb
    cpu = int(os.environ.get(CPU_ENV, "60"))
    files = int(os.environ.get(FILE_ENV, "256")) * mb
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (files, files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def required_layers(*, local_socket: bool = False) -> tuple[str, ...]:
    if os.environ.get(CONFINE_ENV) != "required":
        return ()
    return REQUIRED_LAYERS_LOCAL_SOCKET if local_socket else REQUIRED_LAYERS


def confine_self(
    read_files: Iterable[Path],
    write: Iterable[Path],
    *,
    read: Iterable[Path] = (),
    execute: Iterable[Path] = (),
    local_sockets: Iterable[Path] = (),
) -> list[str]:
    """Shut this process in: read Python and its libraries, ``read`` and ``read_files``, write
    beneath ``write`` and ``$TMPDIR`` (see ``confine.confine`` for ``execute`` and
    ``local_sockets``). Returns the layers applied; never raises."""
    from commonroom.core.confine import confine, python_folders

    folders = list(write)
    tmp = os.environ.get("TMPDIR")
    if tmp:
        folders.append(Path(tmp))
    try:
        return confine(
            [*python_folders(), *read],
            folders,
            read_files=list(read_files),
            execute=list(execute),
            local_sockets=list(local_sockets),
        )
    except Exception:  # a layer the kernel refused half-way: say so, do not work blind
        traceback.print_exc(file=sys.stderr)
        return []


def serve(
    work: Callable[[], dict[str, Any]],
    *,
    read_files: Iterable[Path],
    write: Iterable[Path],
    preload: Callable[[], object] | None = None,
    refused: dict[str, Any] | None = None,
    read: Iterable[Path] = (),
    execute: Iterable[Path] = (),
    local_sockets: Iterable[Path] = (),
) -> int:
    """Limit, confine, run ``work`` and write its answer. ``refused`` is merged into the answer
    when confinement is required and missing. Returns the exit status (0: an answer written).
    ``read``, ``execute`` and ``local_sockets``: see :func:`confine_self`."""
    local_sockets = list(local_sockets)
    limit_self()
    answer = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if preload is not None:
        with contextlib.suppress(Exception):  # our code, imported before the file is read
            preload()
    confined = confine_self(
        read_files, write, read=read, execute=execute, local_sockets=local_sockets
    )
    missing = sorted(set(required_layers(local_socket=bool(local_sockets))) - set(confined))
    payload: dict[str, Any]
    if missing:
        payload = {**(refused or {}), "ok": False, "refused": True, "missing": missing}
    else:
        try:
            payload = work()
        except Exception:  # the work's own surprise: its caller reads "not ok"
            traceback.print_exc(file=sys.stderr)
            payload = {"ok": False}
    payload["confined"] = confined
    answer.write(json.dumps(payload))
    answer.flush()
    return 0
