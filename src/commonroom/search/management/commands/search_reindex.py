"""``commonroom search_reindex``: rebuild the search index from the data (after a restore from
backup, or to pick up previews made before search existed)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from commonroom.search.services import reindex_all


class Command(BaseCommand):
    help = "Rebuild the search index from documents, comments and conversations."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            count = reindex_all()
        self.stdout.write(f"Search index rebuilt: {count} entries.")
