"""``commonroom digest``: send the daily notification digests that are due now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from commonroom.notifications.services import send_digests


class Command(BaseCommand):
    help = "Email each person their unread notifications since their last digest (once a day)."

    def handle(self, *args: Any, **options: Any) -> None:
        n = send_digests()
        self.stdout.write(f"sent {n} digest(s)")
