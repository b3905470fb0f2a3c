"""LibreOffice in its confined child: which layers hold it, and what it may not do."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from commonroom.certificates import render
from commonroom.certificates.tests.support import make_docx
from commonroom.core.confine import landlock_abi
from commonroom.core.sandbox import Limits, run_child
from commonroom.office.tests.libreoffice import require_soffice


def test_libreoffice_converts_inside_landlock_and_the_local_socket_filter(settings, tmp_path):
    require_soffice()
    settings.DATA_DIR = tmp_path
    soffice = render.soffice_path()
    assert soffice is not None
    work = tmp_path / "work"
    (work / "out").mkdir(parents=True)
    source = work / "document.docx"
    source.write_bytes(make_docx(5))
    run = run_child(
        render.CHILD_MODULE,
        [str(soffice), str(source), str(work / "out")],
        work=work,
        limits=Limits(seconds=120, memory_mb=3072, file_mb=512),
    )
    assert run.code == 0 and run.answer and run.answer["ok"], run.errors
    assert (work / "out" / "document.pdf").read_bytes().startswith(b"%PDF")
    if landlock_abi() >= 1:
        assert {"landlock-files", "no-new-privs"} <= set(run.confined)
    assert "seccomp-local-socket" in run.confined
    assert "seccomp-network" not in run.confined


def test_the_local_socket_filter_refuses_the_network_and_other_processes_sockets(tmp_path):
    script = textwrap.dedent(
        """
        import socket, sys
        from pathlib import Path
        from commonroom.core.confine import confine, python_folders
        work = Path(sys.argv[1])
        applied = confine(python_folders(), [work], local_sockets=[work])
        assert "seccomp-local-socket" in applied, applied
        for family, kind in ((socket.AF_INET, socket.SOCK_STREAM),
                             (socket.AF_INET6, socket.SOCK_STREAM),
                             (socket.AF_UNIX, socket.SOCK_DGRAM)):
            try:
                socket.socket(family, kind)
                print("OPENED", family, kind)
            except PermissionError:
                print("refused")
        own = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        own.bind(str(work / "own.sock"))
        own.listen(1)
        try:
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect(str(work / "own.sock"))
            print("CONNECTED")
        except PermissionError:
            print("refused")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "seccomp-local-socket" not in done.stdout + done.stderr and done.returncode != 0:
        pytest.fail(done.stderr)
    assert done.stdout.split() == ["refused"] * 4
