"""The ASGI application uvicorn serves: Django (behind an early request-size guard) for http,
the live consumers for websockets."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonroom.settings")

from django.conf import settings
from django.core.asgi import get_asgi_application

django_application = get_asgi_application()

# Imported after Django is set up: they load models.
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from commonroom.core.asgi_limits import RequestSizeLimit  # noqa: E402
from commonroom.live.auth import SocketAuth  # noqa: E402
from commonroom.live.routing import websocket_urlpatterns  # noqa: E402

# Django's ASGI handler spools each request body (over 1 MiB) to a temporary file. Put those
# beside the uploads on the data disk, never on a memory-backed /tmp, so memory stays flat.
tempfile.tempdir = str(settings.FILE_UPLOAD_TEMP_DIR)
application = ProtocolTypeRouter(
    {
        "http": RequestSizeLimit(django_application),  # type: ignore[arg-type]
        "websocket": SocketAuth(URLRouter(websocket_urlpatterns)),
    }
)
