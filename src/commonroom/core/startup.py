"""What the apps do when ``commonroom serve`` starts, before it takes requests.

Each app may list steps in its own ``startup.py`` (``AT_SERVE_START``, callables taking no
argument), found the way :mod:`commonroom.core.scheduling` finds ``schedule.py``, so ``core``
names no domain app. A step runs in the serving process, once per start, before uvicorn and the
worker; it must be safe while another server of the installation is already serving.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from django.apps import apps
from django.utils.module_loading import module_has_submodule

Step = Callable[[], object]


def serve_start_steps() -> list[Step]:
    steps: list[Step] = []
    for config in apps.get_app_configs():
        if module_has_submodule(config.module, "startup"):
            steps.extend(getattr(import_module(f"{config.name}.startup"), "AT_SERVE_START", []))
    return steps


def serve_start() -> None:
    for step in serve_start_steps():
        step()
