"""A clock the tests move: ``django.utils.timezone.now`` patched, which ``timezone.localdate``
(the day access ends by) and every service reading the time ask."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


class Clock:
    """Stands at ``start`` (the installation's wall clock) until moved."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at

    def set(self, day: date, hour: int = 12, minute: int = 0) -> None:
        self.at = local(day, hour, minute)

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


def local(day: date, hour: int = 12, minute: int = 0) -> datetime:
    """``hour:minute`` on ``day`` on the installation's wall clock, as an aware datetime."""
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(settings.TIME_ZONE))


def stopped_clock(monkeypatch: object, start: datetime) -> Clock:
    clock = Clock(start)
    monkeypatch.setattr(timezone, "now", clock)  # type: ignore[attr-defined]
    return clock
