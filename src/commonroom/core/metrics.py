"""This process's Prometheus metrics, served at ``/metrics`` (core.views.metrics).

Each serving process keeps its own registry, in its memory: nothing is shared between
processes, so each ``commonroom serve`` process is scraped on its own port (run one uvicorn
process per port, ``--workers 1``, when scraping). A scrape reads the task queue from the
database; everything else is counted as it happens.

- HTTP requests, counted and timed by :class:`~commonroom.core.asgi_observe.RequestObserver`
  around the whole ASGI application, labelled by method, the URL pattern's route (never the raw
  path: the labels stay few) and the status class (``2xx``...);
- uploads stored (documents' ``blob_store``) and their bytes;
- the live sockets open in this process and the live events sent on them (live's consumers),
  and the events its embedded relay announced (live.relay);
- the waiting tasks of the queues apps name with :func:`queue_watched` (previews names its own),
  and the age of the oldest, read from django-tasks-db's table at each scrape.

Who may read it: only a peer whose address is in ``COMMONROOM_METRICS_ALLOW`` (addresses or
networks), and never a request that came through a proxy (it carries ``X-Forwarded-For``,
``X-Real-IP`` or ``Forwarded``): the proxy sits on loopback too, so the peer alone would let
anyone in through it. Anyone else gets 404.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

# No "_created" series beside each counter: a process's start time says as much.
disable_created_metrics()

HTTP_REQUESTS = Counter(
    "commonroom_http_requests",
    "HTTP requests answered, by method, URL route and status class.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "commonroom_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer's body, in seconds.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0),
)
UPLOADS = Counter("commonroom_uploads", "Uploaded files stored (known bytes sent again too).")
UPLOAD_BYTES = Counter("commonroom_upload_bytes", "Bytes of the uploaded files stored.")
LIVE_SOCKETS = Gauge("commonroom_live_sockets", "Live websockets open in this process.")
LIVE_EVENTS_SENT = Counter(
    "commonroom_live_events_sent", "Live events sent on this process's sockets (each socket once)."
)
LIVE_EVENTS_RELAYED = Counter(
    "commonroom_live_events_relayed",
    "Events of other processes the embedded relay announced here (without Redis).",
)

# HTTP methods as labels: any other (a client may send anything) is counted as "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# The route of a request no URL pattern matched (a 404, or one refused before Django).
UNMATCHED = "unmatched"
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED")

# Queues watched at each scrape: label -> the prefix of its tasks' paths (queue_watched).
_queues: dict[str, str] = {}


def queue_watched(name: str, *, task_path_prefix: str) -> None:
    """Report the waiting tasks whose path starts with ``task_path_prefix`` as the queue
    ``name`` (its depth and its oldest task's age)."""
    _queues[name] = task_path_prefix


def request_counted(*, method: str, route: str, status: int, seconds: float) -> None:
    labels = (method if method in METHODS else "other", route, f"{status // 100}xx")
    HTTP_REQUESTS.labels(*labels).inc()
    HTTP_LATENCY.labels(*labels).observe(seconds)


def upload_counted(size: int) -> None:
    UPLOADS.inc()
    UPLOAD_BYTES.inc(max(size, 0))


class TaskQueueCollector(Collector):
    """The watched queues' depth and oldest waiting task, read when scraped."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "commonroom_task_queue_depth", "Tasks waiting to run, by queue.", labels=["queue"]
        )
        oldest = GaugeMetricFamily(
            "commonroom_task_queue_oldest_seconds",
            "Age of the oldest waiting task, by queue (0 when none waits).",
            labels=["queue"],
        )
        for name, (count, age) in queue_state(_queues).items():
            depth.add_metric([name], count)
            oldest.add_metric([name], age)
        yield depth
        yield oldest


def queue_state(queues: Mapping[str, str]) -> dict[str, tuple[int, float]]:
    """Each queue's waiting tasks and its oldest's age in seconds. A database that does not
    answer leaves them out of this scrape (the scrape itself still answers)."""
    if not queues:
        return {}
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    waiting = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    aggregates: dict[str, Count | Min] = {}
    for name, prefix in queues.items():
        q = Q(task_path__startswith=prefix)
        aggregates[f"n_{name}"] = Count("id", filter=q)
        aggregates[f"at_{name}"] = Min("enqueued_at", filter=q)
    try:
        row = waiting.aggregate(**aggregates)
    except DatabaseError:
        return {}
    now = timezone.now()
    return {
        name: (
            int(row[f"n_{name}"] or 0),
            (now - row[f"at_{name}"]).total_seconds() if row[f"at_{name}"] else 0.0,
        )
        for name in queues
    }


REGISTRY.register(TaskQueueCollector())


def exposition() -> tuple[bytes, str]:
    """This process's metrics in Prometheus's text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


@lru_cache(maxsize=8)
def _networks(
    entries: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def may_read(peer: str, meta: Mapping[str, object]) -> bool:
    """Whether a request from ``peer`` with these headers (Django's ``META``) may read the
    metrics: a peer in ``COMMONROOM_METRICS_ALLOW``, and no sign of a proxy."""
    if any(meta.get(name) for name in PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in _networks(tuple(allowed_entries())))


def allowed_entries() -> Iterable[str]:
    return settings.COMMONROOM_METRICS_ALLOW
