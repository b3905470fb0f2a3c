from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from commonroom.accounts.permissions import account_abilities


def commonroom(request: HttpRequest) -> dict[str, Any]:
    return {
        "account_abilities": account_abilities(getattr(request, "user", None)),
        "max_upload_bytes": settings.COMMONROOM_MAX_UPLOAD_BYTES,
        "service_name": "Commonroom",
    }
