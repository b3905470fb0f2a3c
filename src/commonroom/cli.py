"""The ``commonroom`` console command: Django's management commands with our settings.

``commonroom serve``, ``createadmin``, ``demo``, ``audit verify``, ``fsck``, ``token create``,
``gc`` and every Django command (``migrate``, ``check --deploy``...).
"""

from __future__ import annotations

import os
import sys

# The processes that serve requests or run tasks borrow PostgreSQL connections from a pool of
# this many (settings.DB_POOL_SIZE); set DB_POOL_SIZE to change it, 0 for none.
SERVING_POOL_SIZE = 20
POOLED_COMMANDS = frozenset({"serve", "worker"})


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonroom.settings")
    if args and args[0] in POOLED_COMMANDS:
        os.environ.setdefault("DB_POOL_SIZE", str(SERVING_POOL_SIZE))
    from django.core.management import execute_from_command_line

    execute_from_command_line(["commonroom", *args])


if __name__ == "__main__":
    main()
