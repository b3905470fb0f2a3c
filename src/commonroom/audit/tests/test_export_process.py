"""The audit CSV from a real server process: 200,000 events streamed with the server's memory
where it was. (Django's ASGI handler reads a synchronous iterator whole before sending; the
export's asynchronous iterator sends part by part: ``audit.export``.)"""

from __future__ import annotations

import csv
import io
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse

from commonroom.accounts.tests.factories import PASSWORD
from commonroom.audit.models import AuditEvent
from commonroom.core.tests.serving import Browser, serving
from commonroom.workspaces.tests.factories import upload_document

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

EVENTS = 200_000
# The CSV of 200,000 events is about 75 MB; held whole (as a list of its rows, as Django does
# with a synchronous iterator) it costs the server several times that.
GROWTH_BOUND_MB = 40
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/141.0.0.0 Safari/537.36 Edg/141.0.0.0"
)


def fill_trail(workspace: Any, count: int) -> None:
    """``count`` more events in the workspace's trail, copies of a real one (the export reads
    rows; whether their hashes chain is ``audit verify``'s business), numbered far beyond the
    chain's head so that what the server records meanwhile (the sign-in) never meets them.
    One INSERT ... SELECT over a counter: seconds, where 200,000 saves would take minutes."""
    real = AuditEvent.objects.filter(workspace_id=workspace.pk).order_by("-seq").first()
    assert real is not None
    q = connection.ops.quote_name
    columns = [f.column for f in AuditEvent._meta.concrete_fields if not f.primary_key]
    given = {"ip": "203.0.113.7", "user_agent": USER_AGENT}
    chosen, params = [], []
    for column in columns:
        if column == "seq":
            chosen.append(f"{10**12} + n.i")
        elif column in given:
            chosen.append("%s")
            params.append(given[column])
        else:
            chosen.append(f"e.{q(column)}")
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "  # noqa: S608 - our column names
            f"INSERT INTO {q(AuditEvent._meta.db_table)} ({', '.join(q(c) for c in columns)}) "
            f"SELECT {', '.join(chosen)} FROM {q(AuditEvent._meta.db_table)} e, n "
            f"WHERE e.{q('id')} = %s",
            [count, *params, real.pk],
        )


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


class Sampler:
    """The highest resident size of ``pid`` seen, every 10 ms, while running."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.01):
            self.peak = max(self.peak, rss_kib(self.pid))

    def __enter__(self) -> Sampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def test_200000_events_stream_from_a_server_at_constant_memory(team: Any, tmp_path: Path) -> None:
    upload_document(team.workspace, team.manager, name="minutes.txt")
    filling = time.monotonic()
    fill_trail(team.workspace, EVENTS)
    print(f"{EVENTS} events written in {time.monotonic() - filling:.1f} s")
    expected = AuditEvent.objects.filter(workspace_id=team.workspace.pk).count()
    url = reverse("workspace_audit", args=[team.workspace.pk])

    with serving(tmp_path, "--no-worker") as server, Browser(server.url) as manager:
        manager.sign_in(team.manager.email, PASSWORD)
        assert manager.signed_in(), "the manager could not sign in"
        # Warm: the trail's page and a small export, so what is measured is the large one.
        assert manager.http.get(url).status_code == 200
        assert manager.http.get(url + "?format=csv&person=nobody@example.org").status_code == 200
        pid = server.process.pid
        before = rss_kib(pid)

        received = bytearray()
        began = time.monotonic()
        with Sampler(pid) as sampler, manager.http.stream("GET", url + "?format=csv") as answer:
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/csv")
            first_part_after = None
            for chunk in answer.iter_bytes():
                if first_part_after is None:
                    first_part_after = time.monotonic() - began
                received += chunk
        took = time.monotonic() - began
        peak = max(sampler.peak, before)

    table = list(csv.reader(io.StringIO(received.decode())))
    growth_mb = (peak - before) / 1024
    print(
        f"audit CSV of {len(table) - 1} events ({len(received) / 1e6:.1f} MB) in {took:.1f} s, "
        f"first bytes after {first_part_after:.2f} s; server RSS {before / 1024:.0f} MB before, "
        f"peak {peak / 1024:.0f} MB during (+{growth_mb:.1f} MB)"
    )
    assert table[0][0] == "seq"
    assert len(table) - 1 == expected >= EVENTS
    assert growth_mb < GROWTH_BOUND_MB
