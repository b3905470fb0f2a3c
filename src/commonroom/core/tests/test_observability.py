"""Operable processes (issue 17): /readyz names what is not ready, /metrics counts what happens
and answers allowed addresses only, never through the proxy; each request's id is in its answer
and in its log lines, JSON ones with COMMONROOM_LOG_FORMAT=json under ``commonroom serve``."""

from __future__ import annotations

import json
import re
import socket
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from commonroom.accounts.services import token_create
from commonroom.core import selectors
from commonroom.core.models import WorkerLease
from commonroom.core.services import worker_lease_take
from commonroom.core.tests.http_server import Server, request_head
from commonroom.core.tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY, s3_server_started
from commonroom.core.tests.serving import serving
from commonroom.live.tests.servers import free_port

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="serves on sockets")

CHECKS = {"database", "migrations", "storage", "worker"}


@pytest.fixture
def worker_alive(transactional_db: Any) -> None:
    """A worker's heartbeat, committed: the readiness checks read the database from a thread
    of their own."""
    worker_lease_take(worker_id="test-worker")


def readyz(client: Client) -> tuple[int, dict[str, Any], str]:
    started = time.monotonic()
    answer = client.get("/readyz")
    assert time.monotonic() - started < 2.5, "readyz took longer than its budget"
    assert answer["Content-Type"] == "application/json"
    return answer.status_code, answer.json(), answer.content.decode()


# --- /readyz ----------------------------------------------------------------------------------


def test_healthz_asks_nothing_of_the_database(client: Client) -> None:
    """No database for this test: any query would fail it."""
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_readyz_is_ready_when_every_part_answers(client: Client, worker_alive: None) -> None:
    status, body, _ = readyz(client)
    assert status == 200, body
    assert body["status"] == "ready"
    assert set(body["checks"]) == CHECKS  # no Redis configured: not asked
    for name, check in body["checks"].items():
        assert check["ok"] is True, name
        assert isinstance(check["ms"], float)
    assert body["checks"]["worker"]["detail"].startswith("heartbeat")


def test_readyz_names_redis_on_a_closed_port_and_never_its_password(
    client: Client, worker_alive: None, settings: Any
) -> None:
    settings.REDIS_URL = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    status, body, raw = readyz(client)
    assert status == 503
    assert body["status"] == "not ready"
    assert body["checks"]["redis"]["ok"] is False
    assert "PING" in body["checks"]["redis"]["detail"]
    assert all(body["checks"][name]["ok"] for name in CHECKS)
    assert "hunter2" not in raw
    assert "127.0.0.1" not in raw


def test_readyz_with_redis_answering(client: Client, worker_alive: None, settings: Any) -> None:
    from commonroom.core.tests.serving import shared_redis

    settings.REDIS_URL = shared_redis().url
    status, body, _ = readyz(client)
    assert status == 200, body
    assert body["checks"]["redis"] == {
        "ok": True,
        "detail": "answers",
        "ms": pytest.approx(0, abs=500),
    }


def test_readyz_names_storage_that_cannot_be_written(
    client: Client, worker_alive: None, settings: Any, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the storage's folder should be")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "commonroom.documents.storage.DurableFileSystemStorage",
            "OPTIONS": {"location": str(blocker / "files")},
        },
    }
    status, body, _ = readyz(client)
    assert status == 503
    assert body["checks"]["storage"]["ok"] is False
    assert "not writable" in body["checks"]["storage"]["detail"]
    assert [n for n, c in body["checks"].items() if not c["ok"]] == ["storage"]


def test_readyz_makes_a_missing_storage_folder_as_an_upload_would(
    client: Client, worker_alive: None, settings: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "new" / "files"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "commonroom.documents.storage.DurableFileSystemStorage",
            "OPTIONS": {"location": str(folder)},
        },
    }
    status, body, _ = readyz(client)
    assert status == 200, body
    assert list(folder.iterdir()) == []  # its probe removed


def _s3_storage(url: str, bucket: str) -> dict[str, Any]:
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": url,
            "region_name": REGION,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "default_acl": None,
        },
    }


def test_readyz_on_s3_asks_the_bucket_and_answers_quickly_when_it_is_gone(
    client: Client, worker_alive: None, settings: Any
) -> None:
    with s3_server_started() as s3:
        s3.make_bucket("ready")
        settings.STORAGES = {**settings.STORAGES, "default": _s3_storage(s3.url, "ready")}
        status, body, _ = readyz(client)
        assert status == 200, body
        assert body["checks"]["storage"]["detail"] == "bucket answers"

        settings.STORAGES = {**settings.STORAGES, "default": _s3_storage(s3.url, "missing")}
        status, body, raw = readyz(client)
        assert status == 503
        assert "code 404" in body["checks"]["storage"]["detail"]
        assert SECRET_KEY not in raw

        s3.stop()  # the server gone: refused at once, within the budget
        settings.STORAGES = {**settings.STORAGES, "default": _s3_storage(s3.url, "ready")}
        status, body, _ = readyz(client)
        assert status == 503
        assert "out of reach" in body["checks"]["storage"]["detail"]


def test_readyz_answers_within_its_budget_when_s3_hangs(
    client: Client, worker_alive: None, settings: Any
) -> None:
    """A storage that accepts the connection and never answers: a short read timeout, one
    attempt."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        settings.STORAGES = {**settings.STORAGES, "default": _s3_storage(url, "hangs")}
        status, body, _ = readyz(client)
    assert status == 503
    assert body["checks"]["storage"]["ok"] is False
    assert body["checks"]["storage"]["ms"] < 2000


def test_readyz_wants_a_recent_worker_heartbeat(client: Client, transactional_db: Any) -> None:
    status, body, _ = readyz(client)
    assert status == 503
    assert body["checks"]["worker"]["ok"] is False
    assert "heartbeat" in body["checks"]["worker"]["detail"]
    worker_lease_take(worker_id="stale")
    stale = timezone.now() - timedelta(seconds=selectors.WORKER_HEARTBEAT_SECONDS + 5)
    WorkerLease.objects.filter(pk="stale").update(renewed_at=stale)
    assert readyz(client)[0] == 503
    worker_lease_take(worker_id="stale")  # its next heartbeat
    assert readyz(client)[0] == 200


def test_readyz_answers_within_its_budget_when_the_database_hangs(
    client: Client, worker_alive: None
) -> None:
    """PostgreSQL: another session holds the heartbeat table locked, so the worker check's
    query waits; /readyz gives up on the database's checks after DATABASE_DEADLINE, and they
    finish in their own thread once the lock goes."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a query kept waiting by another session's lock: PostgreSQL")
    import psycopg

    from commonroom.live.tests.servers import test_database_url

    with psycopg.connect(test_database_url()) as other:
        other.execute(f"LOCK TABLE {WorkerLease._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        status, body, _ = readyz(client)
        assert status == 503
        assert body["checks"]["database"]["ok"] is False
        assert "no answer within" in body["checks"]["database"]["detail"]
        assert body["checks"]["storage"]["ok"] is True
        # Probes while that round still waits wait on it: no round queued behind it.
        waiting = selectors._pending
        assert readyz(client)[0] == 503
        assert selectors._pending is waiting and selectors._database_thread._work_queue.empty()
        other.rollback()
    selectors._database_thread.submit(lambda: None).result(timeout=10)  # the thread is free
    assert readyz(client)[0] == 200


def test_readyz_counts_migrations_not_applied(
    client: Client, worker_alive: None, monkeypatch: Any
) -> None:
    from django.db.migrations.executor import MigrationExecutor

    monkeypatch.setattr(selectors._remembered, "migrations_applied", False)
    real_plan = MigrationExecutor.migration_plan
    # A plan of one migration still to apply, as after deploying code before `migrate`.
    monkeypatch.setattr(
        MigrationExecutor,
        "migration_plan",
        lambda self, targets, clean_start=False: [("core", "0099_not_yet")],
    )
    status, body, _ = readyz(client)
    assert status == 503
    assert body["checks"]["migrations"] == {
        "ok": False,
        "detail": "1 migrations not applied",
        "ms": body["checks"]["migrations"]["ms"],
    }
    monkeypatch.setattr(MigrationExecutor, "migration_plan", real_plan)
    assert readyz(client)[0] == 200


def test_readyz_needs_no_sign_in_even_where_a_second_factor_is_required(
    client: Client, worker_alive: None, settings: Any, team: Any
) -> None:
    settings.COMMONROOM_MFA_REQUIRED = "all"
    client.force_login(team.editor)
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_checks_asked_over_plain_http_are_not_redirected_in_production(
    client: Client, worker_alive: None, settings: Any
) -> None:
    """Production redirects plain HTTP to HTTPS; a monitor or Prometheus asks a process on its
    own port over plain HTTP, and is answered."""
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/accounts/login/").status_code == 301
    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path).status_code == 200, path


# --- /metrics ---------------------------------------------------------------------------------


def test_metrics_from_an_allowed_address(client: Client, db: Any) -> None:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/plain")
    text = answer.content.decode()
    for name in (
        "commonroom_http_requests_total",
        "commonroom_http_request_duration_seconds",
        "commonroom_uploads_total",
        "commonroom_upload_bytes_total",
        "commonroom_live_sockets",
        "commonroom_live_events_sent_total",
        "commonroom_task_queue_depth",
        "commonroom_task_queue_oldest_seconds",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name


@pytest.mark.parametrize("header", ["X-Forwarded-For", "X-Real-IP", "Forwarded"], ids=str.lower)
def test_metrics_through_the_proxy_are_not_found(client: Client, db: Any, header: str) -> None:
    """nginx on loopback adds these: a request through it is somebody else's, whatever its
    peer."""
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", headers={header: "127.0.0.1"}).status_code == 404


def test_metrics_only_to_the_addresses_allowed(client: Client, db: Any, settings: Any) -> None:
    settings.COMMONROOM_METRICS_ALLOW = ["10.1.0.0/16", "192.0.2.7"]
    assert client.get("/metrics").status_code == 404  # 127.0.0.1 no longer allowed
    assert client.get("/metrics", REMOTE_ADDR="10.1.200.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.8").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.1").status_code == 404


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in a Prometheus text answer (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + ("{" if labels else " ")):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    srv.start()
    yield srv
    srv.stop()


@pytest.mark.django_db(transaction=True)
def test_served_metrics_move_with_requests_and_uploads(server: Server, team: Any) -> None:
    base = f"http://127.0.0.1:{server.port}"
    before = httpx.get(base + "/metrics").text
    for _ in range(3):
        assert httpx.get(base + "/healthz").status_code == 200
    httpx.get(base + f"/w/{team.workspace.pk}/d/00000000-0000-0000-0000-000000000000/")
    assert httpx.get(base + "/no/such/page").status_code == 404
    assert httpx.get(base + "/static/commonroom/app.css").status_code == 200
    secret = token_create(actor=team.editor, name="script", scope="write").secret
    body = b"Minutes.\n" * 1000
    answer = httpx.post(
        base + f"/api/v1/workspaces/{team.workspace.pk}/documents",
        headers={"Authorization": f"Bearer {secret}"},
        files={"file": ("minutes.txt", body)},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text[:300]
    after = httpx.get(base + "/metrics").text

    def moved(name: str, **labels: str) -> float:
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    assert (
        moved("commonroom_http_requests_total", method="GET", route="/healthz", status="2xx") == 3
    )
    # Routes are the URL patterns, never the paths asked for.
    assert (
        moved(
            "commonroom_http_requests_total",
            method="GET",
            route="/w/<uuid:workspace_id>/d/<uuid:document_id>/",
        )
        == 1
    )
    assert moved("commonroom_http_requests_total", route="unmatched", status="4xx") == 1
    assert moved("commonroom_http_requests_total", route="/static/", status="2xx") == 1
    assert str(team.workspace.pk) not in after
    assert "no/such/page" not in after
    assert (
        moved(
            "commonroom_http_request_duration_seconds_count",
            method="GET",
            route="/healthz",
            status="2xx",
        )
        == 3
    )
    assert moved("commonroom_uploads_total") == 1
    assert moved("commonroom_upload_bytes_total") == len(body)
    # The upload's preview waits (tasks run at once in tests: none left waiting here).
    assert 'commonroom_task_queue_depth{queue="previews"}' in after


@pytest.mark.django_db(transaction=True)
def test_served_metrics_refuse_a_proxied_request(server: Server) -> None:
    base = f"http://127.0.0.1:{server.port}"
    assert httpx.get(base + "/metrics").status_code == 200
    assert (
        httpx.get(base + "/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    )
    assert httpx.get(base + "/metrics", headers={"X-Real-IP": "203.0.113.9"}).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_preview_queue_is_read_when_scraped(client: Client, settings: Any) -> None:
    from commonroom.previews.tasks import make_preview

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    from django_tasks_db.models import DBTaskResult

    make_preview.enqueue("0" * 64)
    make_preview.enqueue("1" * 64)
    DBTaskResult.objects.update(enqueued_at=timezone.now() - timedelta(minutes=5))
    text = client.get("/metrics").content.decode()
    assert _sample(text, "commonroom_task_queue_depth", queue="previews") == 2
    assert _sample(text, "commonroom_task_queue_oldest_seconds", queue="previews") >= 300


# --- the request id ---------------------------------------------------------------------------


def test_a_well_formed_request_id_is_kept(client: Client, db: Any) -> None:
    answer = client.get("/healthz", HTTP_X_REQUEST_ID="abc-123.X_9")
    assert answer["X-Request-ID"] == "abc-123.X_9"


@pytest.mark.parametrize("given", ["x" * 65, 'a"b', "a b", "a\nb", "", "é"])
def test_a_malformed_request_id_is_replaced(client: Client, db: Any, given: str) -> None:
    answer = client.get("/healthz", HTTP_X_REQUEST_ID=given)
    assert re.fullmatch(r"[0-9a-f]{32}", answer["X-Request-ID"])


def _json_lines(output: str) -> list[dict[str, Any]]:
    lines = []
    for line in output.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


@pytest.mark.django_db(transaction=True)
def test_serve_writes_json_logs_carrying_the_request_id(tmp_path: Path) -> None:
    """A real ``commonroom serve`` with COMMONROOM_LOG_FORMAT=json: the id sent is in the
    answer and in the log lines made while serving it, the access line and Django's own warning
    made in the request's thread; one access line (uvicorn's is off); a hostile id is
    replaced, never written."""
    hostile = 'evil"id' + "x" * 80
    with serving(tmp_path, "--no-worker", COMMONROOM_LOG_FORMAT="json") as served:
        answer = httpx.get(served.url + "/no-such-page", headers={"X-Request-ID": "abc-123"})
        assert answer.status_code == 404
        assert answer.headers["X-Request-ID"] == "abc-123"
        # Raw bytes, as an attacker sends them: quotes, a tab, far too long.
        with socket.create_connection(("127.0.0.1", int(served.url.rsplit(":", 1)[1]))) as sock:
            sock.sendall(
                request_head(
                    "GET", "/healthz", {"X-Request-ID": hostile + "\t!", "Connection": "close"}
                )
            )
            head = sock.makefile("rb").read().decode("latin-1")
        replaced = re.search(r"(?i)x-request-id: ([^\r\n]*)", head)
        assert replaced and re.fullmatch(r"[0-9a-f]{32}", replaced.group(1)), head
        # Readiness in a real process: no worker runs (--no-worker), until one's heartbeat.
        ready = httpx.get(served.url + "/readyz")
        assert ready.status_code == 503
        assert [n for n, c in ready.json()["checks"].items() if not c["ok"]] == ["worker"]
        worker_lease_take(worker_id="elsewhere")
        assert httpx.get(served.url + "/readyz").status_code == 200
        deadline = time.monotonic() + 10
        while "readyz" not in served.output and time.monotonic() < deadline:
            time.sleep(0.1)
        output = served.output
    lines = _json_lines(output)
    ours = [line for line in lines if line.get("request_id") == "abc-123"]
    access = [line for line in ours if line["logger"] == "commonroom.access"]
    assert len(access) == 1, ours
    assert access[0]["route"] == "unmatched"
    assert access[0]["status"] == 404
    assert access[0]["method"] == "GET"
    assert isinstance(access[0]["duration_ms"], float)
    assert {"time", "level", "logger", "message", "request_id"} <= set(access[0])
    warning = [line for line in ours if line["logger"] == "django.request"]
    assert warning and warning[0]["level"] == "WARNING", ours
    assert "Not Found" in warning[0]["message"]
    assert "evil" not in output
    assert replaced.group(1) in output  # its own id instead
    assert not [line for line in lines if line["logger"].startswith("uvicorn.access")]
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's, as JSON
    assert "color_message" not in output
    # The process not ready: one warning naming the check, not Django's error line.
    assert [line["message"] for line in lines if line["logger"] == "commonroom.core.views"] == [
        "not ready: worker"
    ]
    assert not [line for line in lines if "Service Unavailable" in line["message"]]
    # Every line is JSON (no plain "Commonroom on ..." line).
    assert all(line.startswith("{") for line in output.splitlines() if line.strip()), output


def test_a_request_its_client_gave_up_is_not_counted_as_the_servers_error() -> None:
    """An application that returns without answering (the client went half way through an
    upload) is counted 4xx (499, as nginx logs it); one that fails is 5xx, as uvicorn answers."""
    import asyncio

    from commonroom.core import metrics
    from commonroom.core.asgi_observe import RequestObserver

    async def gone(scope: Any, receive: Any, send: Any) -> None:
        return None

    async def fails(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("a bug")

    def counted(status_class: str) -> float:
        return float(
            metrics.HTTP_REQUESTS.labels("POST", "test-observer", status_class)._value.get()
        )

    async def ask(app: Any) -> None:
        scope = {"type": "http", "method": "POST", "path": "/x", "headers": []}

        async def receive() -> dict[str, Any]:
            return {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            return None

        await RequestObserver(app, label=lambda scope: "test-observer")(scope, receive, send)

    before_4xx, before_5xx = counted("4xx"), counted("5xx")
    asyncio.run(ask(gone))
    assert (counted("4xx"), counted("5xx")) == (before_4xx + 1, before_5xx)
    with pytest.raises(RuntimeError):
        asyncio.run(ask(fails))
    assert (counted("4xx"), counted("5xx")) == (before_4xx + 1, before_5xx + 1)
