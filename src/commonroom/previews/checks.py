"""System checks (``commonroom check``, run by ``serve`` too) for the preview sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks

from commonroom.core.confine import readable_folders


@checks.register(checks.Tags.security)
def data_dir_outside_what_previews_read(**kwargs: Any) -> list[checks.CheckMessage]:
    """The preview child may read the folders Python and the system libraries live in; the data
    directory (every workspace's files, the secret key) must not be beneath one of them."""
    data = Path(settings.DATA_DIR).resolve()
    for folder in readable_folders():
        folder = folder.resolve()
        if folder == data or folder in data.parents:
            return [
                checks.Warning(
                    f"COMMONROOM_DATA_DIR ({data}) is inside {folder}, which the preview "
                    "converter may read: a converter taken over by a hostile file could read "
                    "other workspaces' files.",
                    hint="Move the data directory out of Python's and the system's folders "
                    "(for example to /var/lib/commonroom).",
                    id="previews.W001",
                )
            ]
    return []
