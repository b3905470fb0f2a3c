"""WSGI entry point, for tools that want one (the server is ASGI: ``commonroom serve``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonroom.settings")
application = get_wsgi_application()
