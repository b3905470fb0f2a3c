"""The ASGI application uvicorn serves: Django behind an early request-size guard."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonroom.settings")

from django.core.asgi import get_asgi_application

from commonroom.core.asgi_limits import RequestSizeLimit

django_application = get_asgi_application()
application = RequestSizeLimit(django_application)  # type: ignore[arg-type]
