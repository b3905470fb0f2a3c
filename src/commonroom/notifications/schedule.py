"""The daily digest (see ``core.scheduling``): once per installation a day, at
``COMMONROOM_DIGEST_HOUR`` o'clock (``TIME_ZONE``), the ``send_digests`` task is enqueued, in the
claim's transaction. A digest that is not due yet for someone (already sent within the day) is
skipped, so an extra run (``commonroom digest``) is harmless."""

from __future__ import annotations

from django.conf import settings

from commonroom.core.scheduling import Job, daily
from commonroom.notifications.tasks import send_digests


def _digest_hour() -> int:
    return int(settings.COMMONROOM_DIGEST_HOUR)


JOBS = [Job("notification-digests", daily(_digest_hour), send_digests.enqueue, in_claim=True)]
