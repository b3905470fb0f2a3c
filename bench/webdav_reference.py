"""WsgiDAV's own filesystem provider, served the way ``/dav/`` is (uvicorn, a2wsgi's threads,
the same block size), for ``bench.webdav`` to measure Commonroom's endpoint beside:

    python -m uvicorn bench.webdav_reference:app --port N

``BENCH_DAV_ROOT`` is the folder it serves at ``/dav/``; ``BENCH_DAV_USER`` and
``BENCH_DAV_PASSWORD`` the one account, asked with HTTP Basic on every request as ours is. Locks
and properties are WsgiDAV's in-memory ones."""

from __future__ import annotations

import os

from a2wsgi import WSGIMiddleware
from wsgidav.fs_dav_provider import FilesystemProvider
from wsgidav.wsgidav_app import WsgiDAVApp

BLOCK_SIZE = 1024 * 1024  # as commonroom.webdav.app
THREADS = 10  # as commonroom.webdav.asgi


def reference_app() -> WsgiDAVApp:
    user = os.environ["BENCH_DAV_USER"]
    return WsgiDAVApp(
        {
            "provider_mapping": {"/dav": FilesystemProvider(os.environ["BENCH_DAV_ROOT"])},
            "http_authenticator": {
                "domain_controller": None,  # WsgiDAV's SimpleDomainController
                "accept_basic": True,
                "accept_digest": False,
                "default_to_digest": False,
                "trusted_auth_header": None,
            },
            "simple_dc": {
                "user_mapping": {"*": {user: {"password": os.environ["BENCH_DAV_PASSWORD"]}}}
            },
            "lock_storage": True,
            "property_manager": True,
            "dir_browser": {"enable": False},
            "block_size": BLOCK_SIZE,
            "verbose": 1,
            "logging": {"enable": False},
        }
    )


app = WSGIMiddleware(reference_app(), workers=THREADS)
