"""What a serving process holds before a request needs it: the heavy libraries only some requests
use are loaded by those requests, not by the application's import (docs/benchmarks.md, "Memory
of the serving process"). Measured in a process of its own, as the server loads itself: the ASGI
application, then the URL map with every view, as the first request and the first reversed
address load it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Each with what loads it when it is needed.
LOADED_WHEN_NEEDED = {
    "wsgidav": "the first request to /dav/ (webdav.asgi.DavEndpoint)",
    "commonroom.webdav.app": "the first request to /dav/",
    "commonroom.webdav.resources": "the first request to /dav/",
    "commonroom.webdav.locks": "the first request to /dav/",
    "lxml": "the first Office file opened or changed (office.package, office.wordedit)",
    "jwt": "the first sign-in through the identity provider (accounts.sso)",
    "fpdf": "the first certificate drawn (certificates.drawing)",
    "fontTools": "the first certificate drawn",
    "pyhanko": "the first certificate signed (certificates.signing)",
    "pypdf": "the first certificate signed",
    "openpyxl": "the first two sheets compared (previews.compare)",
    "PIL": "the first picture watermarked (previews.watermark)",
    "fido2": "the first passkey ceremony (allauth.mfa.webauthn.internal.auth, deferred)",
    "cryptography": "the first passkey ceremony, ID token checked or certificate signed",
    "django.test.client": "the first name asked of django.test (deferred; ninja imports only "
    "django.test.signals)",
    "unittest": "the first name asked of django.test",
    "jinja2": "the first name asked of django.test",
    "sqlparse.engine": "the first SQL script split or a table introspected (deferred sqlparse)",
    "requests.sessions": "the first call to the identity provider (deferred requests; allauth's "
    "OAuth2 views take only RequestException, answered from requests.exceptions)",
    "idna": "the first call to the identity provider (requests)",
    "certifi": "the first call to the identity provider (requests)",
    "charset_normalizer.api": "the first name asked of charset_normalizer (deferred; requests "
    "imports it)",
}

SCRIPT = """
import json, sys
import commonroom.asgi
import commonroom.urls
from django.urls import get_resolver
get_resolver().reverse_dict
print(json.dumps(sorted(m for m in json.loads(sys.argv[1]) if m in sys.modules)))
"""


def test_the_served_application_loads_no_library_before_a_request_needs_it(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "COMMONROOM_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "commonroom.settings",
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(sorted(LOADED_WHEN_NEEDED))],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == [], {m: LOADED_WHEN_NEEDED[m] for m in loaded}


# A passkey sign-in's first step as allauth's view takes it (a challenge, its state kept in the
# session), in a process that loaded the application without fido2: the module allauth imported
# runs then, whole.
FIRST_USE = """
import json, sys
import commonroom.asgi
import commonroom.urls
from django.urls import get_resolver
get_resolver().reverse_dict
before = sorted(
    m for m in ("fido2", "django.test.client", "sqlparse.engine", "requests.sessions")
    if m in sys.modules
)
from allauth.socialaccount.providers.oauth2 import views as oauth2_views
from allauth.core import context
from allauth.mfa.webauthn.internal import flows
from django.test import Client, RequestFactory
request = RequestFactory().get("/", HTTP_HOST="localhost")
request.session = {}
with context.request_context(request):
    options = flows.auth.begin_authentication()
import sqlparse
statements = sqlparse.split("select 1; select 2;")
import requests
import requests.exceptions
session = requests.Session()
print(json.dumps({
    "before": before,
    "rp": options["publicKey"]["rpId"],
    "challenge": bool(options["publicKey"]["challenge"]),
    "state": sorted(request.session),
    "client": Client.__module__,
    "statements": statements,
    "session": type(session).__module__,
    "caught": oauth2_views.RequestException is requests.exceptions.RequestException
    and requests.RequestException is requests.exceptions.RequestException,
    "detector": requests.compat.chardet.__name__ + " " + requests.compat.chardet.__version__[:1],
}))
"""


def test_what_was_left_for_later_runs_whole_on_its_first_use(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "COMMONROOM_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "commonroom.settings",
    }
    done = subprocess.run(
        [sys.executable, "-c", FIRST_USE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "before": [],
        "rp": "localhost",
        "challenge": True,
        "state": ["mfa.webauthn.state"],
        "client": "django.test.client",
        "statements": ["select 1;", "select 2;"],
        "session": "requests.sessions",
        "caught": True,
        "detector": "charset_normalizer 3",
    }
