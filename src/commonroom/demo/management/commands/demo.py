"""``commonroom demo``: seed the demo workspace once and print how to sign in."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from commonroom.demo.seed import PEOPLE, seed_demo


class Command(BaseCommand):
    help = "Seed the demo (people priya, tom, aisha, sam, nina, dev @example.org). Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        result = seed_demo(password=os.environ.get("COMMONROOM_DEMO_PASSWORD") or None)
        url = settings.SITE_URL
        if result.created:
            self.stdout.write(self.style.SUCCESS(f"Demo seeded: workspace “{result.workspace}”."))
        else:
            self.stdout.write(f"Demo already seeded: workspace “{result.workspace}” kept as it is.")
        self.stdout.write(f"Sign in at {url}/accounts/login/ as:")
        for p in PEOPLE:
            what = "administrator" if p.admin else f"{p.role}, {p.kind}"
            self.stdout.write(f"  {p.email:<22} ({p.full_name}, {what})")
        if result.password:
            self.stdout.write(f"Password for all of them: {result.password}")
            if result.created and not os.environ.get("COMMONROOM_DEMO_PASSWORD"):
                self.stdout.write("(printed once; set COMMONROOM_DEMO_PASSWORD to choose it)")
        else:
            self.stdout.write(
                "Passwords were printed when the demo was first seeded; set "
                "COMMONROOM_DEMO_PASSWORD and run `commonroom demo` again to reset them."
            )
