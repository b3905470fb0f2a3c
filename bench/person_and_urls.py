"""``python -m bench.person_and_urls DIR``: the document page's CPU with Django's own
``auth.get_user`` and ``reverse`` put back in place of ``accounts.signed_in.session_user`` and
the kept ``{% url %}`` (decision 46), and with them, alternately in one process.

``DIR`` is a data directory seeded by ``bench.page_html`` (seeded here first if it is new): the
heavy document with six suggestions, its manager, a commenter and a viewer. Each reader's page
is asked 5 times to warm up; then ``BENCH_ROUNDS`` rounds (default 12) of 30 requests of each
page in each arrangement, one after the other, ``time.process_time`` around each request. It
prints each page's CPU p50 and mean per arrangement, and the person's read alone (500 calls of
each, three rounds). Nothing is written to docs/benchmarks.md: its seventh round cites it.
Alternating in one process keeps apart what a second process's spread would hide (its heap laid
out otherwise): about as much as the millisecond measured.

    PYTHONPATH=src:. python -m bench.person_and_urls /tmp/pages
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.page_html import environment, seeded

READERS = ("manager", "commenter", "viewer")
ARRANGEMENTS = ("django", "kept")


def _p50_mean(values: list[float]) -> str:
    p50, mean = statistics.median(values) * 1000, statistics.fmean(values) * 1000
    return f"p50 {p50:.2f} ms (mean {mean:.2f})"


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m bench.person_and_urls DATA_DIR")
    data_dir = Path(sys.argv[1])
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(environment(data_dir))
    readers = seeded(data_dir)
    import django

    django.setup()
    from django.contrib import auth
    from django.contrib.auth import get_user_model
    from django.test import Client, RequestFactory
    from django.urls import reverse

    from commonroom.accounts import middleware
    from commonroom.core import addresses
    from commonroom.core.heap import settle_for_serving

    kept_reverse, kept_user = addresses.reverse_kept, middleware.session_user

    def plain_reverse(view_name: Any, args: Any, kwargs: Any, current_app: Any) -> str:
        return reverse(view_name, args=args, kwargs=kwargs, current_app=current_app)

    def arrange(kind: str) -> None:
        addresses.reverse_kept = kept_reverse if kind == "kept" else plain_reverse  # type: ignore[assignment]
        middleware.session_user = kept_user if kind == "kept" else auth.get_user

    clients: dict[str, Any] = {}
    for reader in READERS:
        client: Any = Client()
        client.force_login(get_user_model().objects.get(email=readers[reader]))
        for _ in range(5):
            client.get(readers["path"])
        clients[reader] = client
    settle_for_serving()
    spent: dict[tuple[str, str], list[float]] = {}
    for _ in range(int(os.environ.get("BENCH_ROUNDS", "") or 12)):
        for kind in ARRANGEMENTS:
            arrange(kind)
            for reader, client in clients.items():
                client.get(readers["path"])
                for _ in range(30):
                    started = time.process_time()
                    response = client.get(readers["path"])
                    spent.setdefault((reader, kind), []).append(time.process_time() - started)
                    if response.status_code != 200:
                        raise SystemExit(f"{reader}: {response.status_code}")
    arrange("kept")
    for reader in READERS:
        cells = "; ".join(f"{kind}: {_p50_mean(spent[(reader, kind)])}" for kind in ARRANGEMENTS)
        print(f"document page, {reader}: {cells}")

    # The person alone: a request carrying the manager's session, read 500 times by each.
    signed_in = clients["manager"]
    key = signed_in.cookies["sessionid"].value

    def request() -> Any:
        made = RequestFactory().get("/")
        made.session = signed_in.session.__class__(session_key=key)
        made.session.load()
        return made

    def timed(find: Callable[[Any], Any]) -> list[float]:
        out = []
        for _ in range(500):
            made = request()
            started = time.process_time()
            person = find(made)
            out.append(time.process_time() - started)
            if not person.is_authenticated:
                raise SystemExit("the session signs nobody in")
        return out

    for n in range(3):
        print(
            f"the person, round {n + 1}: auth.get_user {_p50_mean(timed(auth.get_user))}; "
            f"session_user {_p50_mean(timed(kept_user))}"
        )


if __name__ == "__main__":
    main()
