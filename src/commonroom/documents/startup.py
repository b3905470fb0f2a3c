"""The documents app's steps when ``commonroom serve`` starts (:mod:`commonroom.core.startup`)."""

from __future__ import annotations

from commonroom.core.startup import Step
from commonroom.documents.services import storage_sweep


def sweep_upload_temporaries() -> None:
    """Upload temporaries a crash left; a named one still in use is locked and kept."""
    storage_sweep(blobs=False)


AT_SERVE_START: list[Step] = [sweep_upload_temporaries]
