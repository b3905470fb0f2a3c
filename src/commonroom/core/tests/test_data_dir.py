"""The data directory is its owner's alone: ``commonroom migrate`` started with a lax umask makes
it 0700 and everything in it (the SQLite database and its WAL, the keys) 0600, every folder
0700; ``commonroom serve`` warns in one line, with the path and the mode, when the folder is
open to other accounts, and says nothing when it is not."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from commonroom.live.tests import servers

pytestmark = pytest.mark.embedded_database

WARNING = "is open to other accounts"
HOLD_OPEN = (
    "import os, sys, stat; from pathlib import Path; from django.db import connection; "
    "from django.conf import settings; "
    "connection.cursor().execute('SELECT count(*) FROM django_migrations'); "
    "root = Path(settings.DATA_DIR); "
    "[print(f'{stat.S_IMODE(p.lstat().st_mode):04o} {p.relative_to(root)}') "
    " for p in sorted([root, *root.rglob('*')])]"
)


def lax_env(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "COMMONROOM_DATA_DIR": str(data_dir), "COMMONROOM_ENV": "development"}
    env.pop("DATABASE_URL", None)  # its own embedded database, never the test run's
    return env


def commonroom(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "commonroom", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        umask=0o022,  # what a service manager or a shell usually starts it with
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_fresh_data_directory_is_the_owners_alone(tmp_path: Path) -> None:
    data_dir = tmp_path / "commonroom" / "var"
    env = lax_env(data_dir)

    commonroom(env, "migrate", "-v", "0")
    # Listed while a connection holds the database open, so its -wal and -shm files exist.
    listed = commonroom(env, "shell", "-v", "0", "-c", HOLD_OPEN)

    modes = {name: mode for mode, name in (line.split(" ", 1) for line in listed.splitlines())}
    assert modes["."] == "0700"
    assert modes["commonroom.sqlite3"] == "0600"
    assert modes["commonroom.sqlite3-wal"] == "0600"
    assert modes["commonroom.sqlite3-shm"] == "0600"
    assert modes["secret_key"] == modes["audit_key"] == "0600"
    for name, mode in modes.items():
        is_dir = (data_dir / name).is_dir()
        assert mode == ("0700" if is_dir else "0600"), (name, mode)
    # The folder above it, made on the way, is no more open than the data directory.
    assert stat.S_IMODE((tmp_path / "commonroom").stat().st_mode) == 0o700


def serve_output(env: dict[str, str], log: Path) -> str:
    """``commonroom serve`` started until it answers, then stopped; what it printed."""
    port = servers.free_port()
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "commonroom", "serve", "--no-worker", "--port", str(port)],
            env={**env, "LOG_LEVEL": "WARNING"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert serve.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "serve never answered /healthz"
            time.sleep(0.2)
        serve.terminate()
        assert serve.wait(timeout=30) == 0
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    return log.read_text()


def test_serve_warns_of_a_data_directory_others_can_read(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    env = lax_env(data_dir)
    commonroom(env, "migrate", "-v", "0")

    quiet = serve_output(env, tmp_path / "private.log")
    assert WARNING not in quiet

    data_dir.chmod(0o755)
    warned = serve_output(env, tmp_path / "open.log")

    lines = [line for line in warned.splitlines() if WARNING in line]
    assert len(lines) == 1, warned
    assert f"The data directory {data_dir} is open to other accounts (mode 0755)" in lines[0]
    assert f"chmod 700 {data_dir}" in lines[0]
