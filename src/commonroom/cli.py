"""The ``commonroom`` console command: Django's management commands with our settings.

``commonroom serve``, ``createadmin``, ``demo``, ``audit verify``, ``fsck``, ``token create``,
``gc`` and every Django command (``migrate``, ``check --deploy``...).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonroom.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["commonroom", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
