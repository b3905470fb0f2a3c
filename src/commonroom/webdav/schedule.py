"""WebDAV's scheduled job (see ``core.scheduling``): clients' leftovers swept once per
installation every housekeeping period: scratch files untouched for a day (an owner file Word
left when it crashed) and expired locks."""

from __future__ import annotations

from django.conf import settings

from commonroom.core.scheduling import Job, every
from commonroom.webdav.services import leftovers_sweep


def _housekeeping_seconds() -> float:
    return float(settings.COMMONROOM_HOUSEKEEPING_SECONDS)


JOBS = [Job("webdav-leftovers-sweep", every(_housekeeping_seconds), leftovers_sweep)]
