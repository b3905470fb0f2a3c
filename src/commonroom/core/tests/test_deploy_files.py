"""The files a trust deploys with (deploy/) agree with the app and with each other: nginx's
limits and timeouts with the app's settings, its websocket location with the live routes, the
production site with the locations `make topology` runs (core/tests/test_topology.py runs them
for real), the systemd units with the commands, and the environment file example with the
settings. The production site is checked by nginx itself (``nginx -t``, with a throwaway
certificate); nginx missing: that test is skipped loudly, and with CI=true it fails."""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from commonroom.core.management.commands.serve import WORKER_GRACE_EXTRA

# Nothing here touches a database: in `make test`, the SQLite run only (conftest.py).
pytestmark = pytest.mark.no_database

ROOT = Path(__file__).resolve().parents[4]
DEPLOY = ROOT / "deploy"
LOCATIONS = (DEPLOY / "nginx" / "commonroom-locations.conf").read_text()
SITE = (DEPLOY / "nginx" / "commonroom.conf").read_text()
README = (ROOT / "README.md").read_text()
UNITS = {path.name: path.read_text() for path in (DEPLOY / "systemd").iterdir()}
SIZES = {"k": 1024, "m": 1024**2, "g": 1024**3}


def directive(text: str, name: str) -> str:
    found = re.findall(rf"^\s*{name}\s+([^;]+);", text, re.MULTILINE)
    assert len(found) == 1, f"{name}: {found}"
    return str(found[0]).strip()


def seconds(value: str) -> int:
    assert value.endswith("s"), value
    return int(value[:-1])


def test_nginx_takes_an_upload_the_app_takes_and_leaves_the_refusal_to_the_app() -> None:
    size = directive(LOCATIONS, "client_max_body_size")
    limit = int(size[:-1]) * SIZES[size[-1]]
    allowed = settings.COMMONROOM_MAX_UPLOAD_BYTES
    # Room for the multipart form around the largest file, no more.
    assert allowed < limit <= allowed + 16 * 1024**2
    assert directive(LOCATIONS, "proxy_request_buffering") == "off"
    assert directive(LOCATIONS, "proxy_max_temp_file_size") == "0"
    # A stalled body is the app's to refuse (408, with its sentence), before nginx gives up.
    assert (
        seconds(directive(LOCATIONS, "client_body_timeout"))
        > settings.COMMONROOM_BODY_STALL_SECONDS
    )
    # uvicorn pings each live socket every 20 s: an idle one is never cut by the proxy.
    assert seconds(directive(LOCATIONS, "proxy_read_timeout")) > 20
    example = (DEPLOY / "commonroom.env.example").read_text()
    assert f"COMMONROOM_MAX_UPLOAD_BYTES={allowed}\n" in example


def test_nginx_upgrades_every_live_route_and_passes_who_asked() -> None:
    from commonroom.live.routing import websocket_urlpatterns

    for route in websocket_urlpatterns:
        assert str(route.pattern).startswith("ws/"), route.pattern
    socket = re.search(r"location /ws/ \{(.*?)\}", LOCATIONS, re.DOTALL)
    assert socket is not None
    assert "proxy_set_header Upgrade $http_upgrade;" in socket.group(1)
    assert 'proxy_set_header Connection "upgrade";' in socket.group(1)
    settings_only = re.sub(r"(?m)^\s*#.*$", "", LOCATIONS)
    outside = re.sub(r"(?ms)^location\b[^{]*\{.*?^\}", "", settings_only)
    for header in (
        "X-Forwarded-For $proxy_add_x_forwarded_for",
        "X-Forwarded-Proto $scheme",
        "X-Request-ID $request_id",
        "Host $http_host",
    ):
        assert f"proxy_set_header {header};" in outside
        # A location that sets a header of its own gets none of those set outside it.
        assert f"proxy_set_header {header};" in socket.group(1), header
    assert re.search(r"location = /metrics \{\s*deny all;\s*\}", LOCATIONS)
    assert re.search(r"location = /readyz \{\s*deny all;\s*\}", LOCATIONS)


def test_the_production_site_is_the_topologys_locations_behind_tls() -> None:
    assert "include snippets/commonroom-locations.conf;" in SITE
    assert "listen 443 ssl" in SITE and "return 301 https://$host$request_uri;" in SITE
    assert "Strict-Transport-Security" in SITE
    # The limits are the shared file's alone: none is set (differently) in the site.
    for name in ("client_max_body_size", "proxy_read_timeout", "proxy_request_buffering"):
        assert name not in SITE
    topology = (ROOT / "scripts" / "topology.sh").read_text()
    assert "include $ROOT/deploy/nginx/commonroom-locations.conf;" in topology


def _certificate(folder: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "commonroom.example.nhs.uk")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (folder / "fullchain.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def test_nginx_accepts_the_production_site(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        message = "!!! nginx is not installed (make nginx): the site file check is SKIPPED !!!"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: a missing nginx is a failure. {message}")
        pytest.skip(message)
    _certificate(tmp_path)
    (tmp_path / "snippets").mkdir()
    shutil.copy(DEPLOY / "nginx" / "commonroom-locations.conf", tmp_path / "snippets")
    site = (
        SITE.replace("/etc/ssl/commonroom", str(tmp_path))
        .replace("/var/log/nginx", str(tmp_path))
        .replace("/var/www", str(tmp_path))
    )
    (tmp_path / "commonroom.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n include /etc/nginx/mime.types;\n"
        f" client_body_temp_path {tmp_path}/body;\n proxy_temp_path {tmp_path}/proxy;\n"
        f" include {tmp_path}/commonroom.conf;\n}}\n"
    )
    checked = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr


def test_the_units_run_the_commands_with_one_environment() -> None:
    web = UNITS["commonroom-web@.service"]
    assert "commonroom serve --host 127.0.0.1 --port %i --no-worker" in web
    worker = UNITS["commonroom-worker@.service"]
    assert re.search(r"^ExecStart=\S+/commonroom worker$", worker, re.MULTILINE)
    # A worker stopped finishes the preview in hand before it is killed.
    found = re.search(r"^TimeoutStopSec=(\d+)$", worker, re.MULTILINE)
    assert found is not None
    assert int(found.group(1)) > settings.COMMONROOM_PREVIEW_TIMEOUT + WORKER_GRACE_EXTRA
    for name, unit in UNITS.items():
        if name.endswith(".service"):
            assert "EnvironmentFile=/etc/commonroom/commonroom.env" in unit, name
    setup = UNITS["commonroom-setup.service"]
    assert "commonroom migrate --noinput" in setup and "commonroom collectstatic" in setup


def test_every_name_in_the_environment_example_is_a_documented_setting() -> None:
    example = (DEPLOY / "commonroom.env.example").read_text()
    names = re.findall(r"^([A-Z][A-Z0-9_]+)=", example, re.MULTILINE)
    assert "SECRET_KEY" in names and "COMMONROOM_AUDIT_KEY" in names
    for name in names:
        # Read by the settings, or by boto3 (the S3 credentials), and in README's table.
        assert f"`{name}`" in README, name
    # No secret in it: each secret's line is left empty.
    for secret in ("SECRET_KEY", "COMMONROOM_AUDIT_KEY", "AWS_SECRET_ACCESS_KEY"):
        assert re.search(rf"^{secret}=$", example, re.MULTILINE), secret


def test_static_files_stay_readable_by_nginx_when_serve_collects_them_again(
    tmp_path: Path,
) -> None:
    """The setup unit collects the static files and makes them readable by nginx; every
    `serve` in production collects them again at its start, and the manifest's storage rewrites
    each file whose text names others. Those rewrites must stay readable by all, as the setup
    left them, however strict the process's umask (Commonroom's own files are its owner's)."""
    static = tmp_path / "static"
    env = {
        **os.environ,
        "COMMONROOM_ENV": "production",
        "COMMONROOM_DATA_DIR": str(tmp_path / "data"),
        "COMMONROOM_STATIC_ROOT": str(static),
        "SECRET_KEY": "a-throwaway-key-for-this-test-only-0123456789abcdefghij",
        "ALLOWED_HOSTS": "commonroom.example.org",
    }
    env.pop("DATABASE_URL", None)
    collect = [
        "sh",
        "-c",
        'umask 077 && exec "$0" -m commonroom collectstatic --noinput -v0',
        sys.executable,
    ]

    def run(argv: list[str]) -> None:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr

    run(collect)  # commonroom-setup.service
    run(["chmod", "-R", "u=rwX,go=rX", str(static)])  # its ExecStartPost
    run(collect)  # serve's own collectstatic at its start
    unreadable = [
        str(path.relative_to(static))
        for path in static.rglob("*")
        if not path.stat().st_mode & (0o005 if path.is_dir() else 0o004)
    ]
    assert unreadable == [], f"{len(unreadable)} not readable by nginx, e.g. {unreadable[:3]}"
    assert any(static.rglob("app.*.css")), "the pages' hashed styles were collected"


def test_topology_down_leaves_alone_a_process_a_stale_pid_file_names(tmp_path: Path) -> None:
    """After a restart a pid file of the topology's may name some other process: `down` (and
    `up`, which would take it for running) must not take it for one of the topology's."""
    script = ROOT / "scripts" / "topology.sh"
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        run = tmp_path / "run"
        run.mkdir()
        # The stranger's pid, with another start time than its own (as after a reboot).
        (run / "web1.pid").write_text(f"{stranger.pid} 1\n")
        (run / "worker1.pid").write_text(f"{stranger.pid} 1\n")
        env = {**os.environ, "TOPOLOGY_DIR": str(tmp_path)}
        status = subprocess.run(
            ["bash", str(script), "status"], env=env, capture_output=True, text=True, timeout=60
        )
        assert status.returncode == 0, status.stderr
        assert "web1: stopped" in status.stdout and "worker1: stopped" in status.stdout
        down = subprocess.run(
            ["bash", str(script), "down"], env=env, capture_output=True, text=True, timeout=60
        )
        assert down.returncode == 0, down.stderr
        assert stranger.poll() is None, "down signalled a process it had not started"
    finally:
        stranger.kill()
        stranger.wait(timeout=10)
