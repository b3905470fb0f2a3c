from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def commonroom(request: HttpRequest) -> dict[str, Any]:
    return {
        "max_upload_bytes": settings.COMMONROOM_MAX_UPLOAD_BYTES,
        "service_name": "Commonroom",
        # The installation's public address (COMMONROOM_SITE_URL), for addresses to copy.
        "site_url": settings.SITE_URL,
    }
