"""The daily trigger of the digest: ``commonroom serve`` runs :func:`run_digest_schedule` in a
thread beside the server, and it enqueues the digest task each day at
``COMMONROOM_DIGEST_HOUR`` o'clock (server time zone). The worker sends it; a digest that is not
due yet for someone (already sent within the day) is skipped, so an extra run is harmless."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from django.utils import timezone

from commonroom.notifications.services import next_digest_time

log = logging.getLogger(__name__)


def enqueue_digests() -> None:
    """The day's digests, and the day's housekeeping: the live event log pruned, lost preview
    tasks enqueued again."""
    from commonroom.live.tasks import prune_events
    from commonroom.notifications.tasks import send_digests
    from commonroom.previews.tasks import requeue_stuck_previews

    send_digests.enqueue()
    prune_events.enqueue()
    requeue_stuck_previews.enqueue()


def run_digest_schedule(
    stop: threading.Event,
    hour: int,
    *,
    clock: Callable[[], datetime] = timezone.now,
    enqueue: Callable[[], None] = enqueue_digests,
) -> None:
    """Until ``stop`` is set: sleep until the next ``hour``:00, then enqueue the digests."""
    while True:
        due = next_digest_time(clock(), hour)
        if stop.wait(max(0.0, (due - clock()).total_seconds())):
            return
        try:
            enqueue()
        except Exception:  # a database hiccup must not end the schedule
            log.exception("could not enqueue the notification digests")


def start_digest_schedule(hour: int) -> threading.Event:
    """Start the schedule in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(
        target=run_digest_schedule, args=(stop, hour), name="digest-schedule", daemon=True
    ).start()
    return stop
