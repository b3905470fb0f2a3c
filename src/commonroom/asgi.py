"""The ASGI application uvicorn serves: Django behind an early request-size guard."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonroom.settings")

from django.conf import settings
from django.core.asgi import get_asgi_application

from commonroom.core.asgi_limits import RequestSizeLimit

django_application = get_asgi_application()
# Django's ASGI handler spools each request body (over 1 MiB) to a temporary file. Put those
# beside the uploads on the data disk, never on a memory-backed /tmp, so memory stays flat.
tempfile.tempdir = str(settings.FILE_UPLOAD_TEMP_DIR)
application = RequestSizeLimit(django_application)  # type: ignore[arg-type]
