"""Is this process ready to serve: the checks behind ``/readyz`` (core.views.readyz).

Each check answers ok or not, a short detail and how long it took (the database's are given
``DATABASE_DEADLINE`` together, in a thread of their own). None reveals a secret: a
detail names what failed and the kind of error, never an address, a URL or a password. Those
that reach over the network have short timeouts, so the whole answers within about two seconds
even when a part hangs:

- ``database``: a trivial query;
- ``migrations``: no migration left to apply (once true, remembered by the process);
- ``redis`` (only with ``REDIS_URL``): a PING, ``NETWORK_TIMEOUT`` to connect and to answer;
- ``storage``: the default storage reachable: on the filesystem a file written, synced and
  removed in its folder (made first if missing, as an upload would); on S3 a HEAD of the bucket
  (one attempt, ``NETWORK_TIMEOUT`` to connect, twice that to answer);
- ``worker``: a task worker's heartbeat (core.services: a ``WorkerLease`` renewed every
  ``RENEW_SECONDS``) within ``WORKER_HEARTBEAT_SECONDS``, from any worker of the installation
  (``serve``'s own worker counts: it is a ``commonroom worker`` process).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from commonroom.core.models import WorkerLease
from commonroom.core.services import LEASE_SECONDS

NETWORK_TIMEOUT = 0.5
# The database's checks are given up on after this many seconds (see readiness()).
DATABASE_DEADLINE = 1.5
_database_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readyz-database")
_pending: Future[dict[str, Check]] | None = None
_pending_lock = threading.Lock()
# A worker whose lease was renewed within this many seconds is alive (it renews every 10 s; the
# same span after which another machine takes it for dead: core.services.LEASE_SECONDS).
WORKER_HEARTBEAT_SECONDS = LEASE_SECONDS


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str
    ms: float


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, Check]

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks.values())

    def as_json(self) -> dict[str, object]:
        return {
            "status": "ready" if self.ready else "not ready",
            "checks": {
                name: {"ok": check.ok, "detail": check.detail, "ms": check.ms}
                for name, check in self.checks.items()
            },
        }


class _Remembered:
    migrations_applied = False


_remembered = _Remembered()


def readiness() -> Readiness:
    """Every check; one that raises is not ok, named by its error's kind. The database's run in
    a thread of their own while Redis and storage are asked here, and are given up on after
    ``DATABASE_DEADLINE`` (a database out of reach would keep a connection waiting for its
    pool's 30 s); that thread, one per process, finishes its checks in the background."""
    asked = _database_round()
    here: dict[str, Check] = {}
    if settings.REDIS_URL:
        here["redis"] = _timed(redis_answers)
    here["storage"] = _timed(storage_reachable)
    try:
        database = asked.result(timeout=DATABASE_DEADLINE)
    except FutureTimeout:
        unchecked = Check(ok=False, detail="not checked: the database did not answer", ms=0.0)
        database = {
            "database": Check(
                ok=False,
                detail=f"no answer within {DATABASE_DEADLINE:g} s",
                ms=DATABASE_DEADLINE * 1000,
            ),
            "migrations": unchecked,
            "worker": unchecked,
        }
    order = ("database", "migrations", "redis", "storage", "worker")
    found = {**database, **here}
    return Readiness({name: found[name] for name in order if name in found})


def _database_round() -> Future[dict[str, Check]]:
    """The database's checks under way, or new ones: while a round is still waiting on the
    database, every probe waits on that round rather than queueing another behind it (a
    database that hangs would otherwise gather one round per probe)."""
    global _pending
    with _pending_lock:
        if _pending is None or _pending.done():
            _pending = _database_thread.submit(_database_checks)
        return _pending


def _database_checks() -> dict[str, Check]:
    try:
        return {
            "database": _timed(database_answers),
            "migrations": _timed(migrations_applied),
            "worker": _timed(worker_heartbeat),
        }
    finally:
        connections.close_all()  # this thread's connection back to its pool


class NotReady(Exception):
    """A check's own refusal, with a sentence safe to show."""


def _timed(check: Callable[[], str]) -> Check:
    started = time.perf_counter()
    try:
        detail, ok = check(), True
    except NotReady as exc:
        detail, ok = str(exc), False
    except Exception as exc:
        detail, ok = f"failed: {type(exc).__name__}", False
    return Check(ok=ok, detail=detail, ms=round((time.perf_counter() - started) * 1000, 1))


def database_answers() -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "answers"


def migrations_applied() -> str:
    if _remembered.migrations_applied:
        return "all applied"
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        raise NotReady(f"{len(plan)} migrations not applied")
    _remembered.migrations_applied = True
    return "all applied"


def redis_answers() -> str:
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=NETWORK_TIMEOUT,
        socket_connect_timeout=NETWORK_TIMEOUT,
        retry_on_timeout=False,
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        raise NotReady(f"no answer to PING ({type(exc).__name__})") from exc
    finally:
        client.close()
    return "answers"


def storage_reachable() -> str:
    location = getattr(default_storage, "location", None)
    bucket = getattr(default_storage, "bucket_name", None)
    if bucket:
        return _s3_bucket_reachable(bucket)
    if location is None:
        return "not checked (neither a folder nor a bucket)"
    try:
        # Made if missing, as the storage makes it for the first upload.
        os.makedirs(location, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=location, prefix=".readyz-") as probe:
            probe.write(b"ready")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        raise NotReady(f"its folder is not writable ({type(exc).__name__})") from exc
    return "folder writable"


def _s3_bucket_reachable(bucket: str) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    client = _s3_client()
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "?")
        raise NotReady(f"the bucket did not answer HEAD (code {code})") from exc
    except BotoCoreError as exc:
        raise NotReady(f"the bucket is out of reach ({type(exc).__name__})") from exc
    return "bucket answers"


_s3_clients: dict[tuple[str | None, str | None, str], Any] = {}


def _s3_client() -> Any:
    """A client of the storage's own settings with short timeouts and one attempt (the
    storage's own waits a minute and tries again), made once per process and storage."""
    from botocore.config import Config

    storage: Any = default_storage
    key = (storage.endpoint_url, storage.region_name, storage.bucket_name)
    if key in _s3_clients:
        return _s3_clients[key]
    client = _s3_clients[key] = storage._create_session().client(
        "s3",
        region_name=storage.region_name,
        endpoint_url=storage.endpoint_url,
        use_ssl=storage.use_ssl,
        verify=storage.verify,
        config=storage.client_config.merge(
            Config(
                connect_timeout=NETWORK_TIMEOUT,
                read_timeout=NETWORK_TIMEOUT * 2,
                retries={"total_max_attempts": 1},
            )
        ),
    )
    return client


def worker_heartbeat() -> str:
    since = timezone.now() - timedelta(seconds=WORKER_HEARTBEAT_SECONDS)
    newest = (
        WorkerLease.objects.filter(renewed_at__gte=since)
        .order_by("-renewed_at")
        .values_list("renewed_at", flat=True)
        .first()
    )
    if newest is None:
        raise NotReady(f"no task worker's heartbeat within {WORKER_HEARTBEAT_SECONDS:.0f} s")
    return f"heartbeat {(timezone.now() - newest).total_seconds():.0f} s ago"
