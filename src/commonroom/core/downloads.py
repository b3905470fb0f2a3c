"""What a response carrying stored bytes says about them, so that a browser never runs them.

Every file sent back as a download (a version, a preview's file that is not one of its
pictures, a final record's certificate, a Word file with tracked changes) is an attachment
with ``X-Content-Type-Options: nosniff``, ``Content-Security-Policy: sandbox`` and
``Cross-Origin-Resource-Policy: same-origin``: :func:`attachment`.

An *active* file, one a browser would run as a script or draw as a document that runs scripts
(JavaScript, HTML, SVG, XML, XHTML), by its stored type or by its name, is sent as
``application/octet-stream`` whatever type it was detected as: :func:`served_type`. So a
``<script src>`` on a page of this site pointed at it is refused (nosniff forbids running a
type that is not a script's), an ``<img>`` or ``<iframe>`` gets no document to run, and a
browser that opened it all the same would keep it in a sandbox with no scripts. This holds
for any future injection: what someone uploaded can never become this site's own script.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

from django.http import HttpResponseBase
from django.utils.http import content_disposition_header

SAFE_TYPE = "application/octet-stream"
DOWNLOAD_CSP = "sandbox"

ACTIVE_TYPES = frozenset(
    {
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
        "text/ecmascript",
        "application/ecmascript",
        "text/html",
        "image/svg+xml",
        "application/xhtml+xml",
        "text/xml",
        "application/xml",
        "application/xslt+xml",
    }
)
ACTIVE_SUFFIXES = frozenset(
    {".js", ".mjs", ".cjs", ".html", ".htm", ".shtml", ".svg", ".svgz", ".xml", ".xhtml", ".xht"}
)


def _base(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def is_active(content_type: str, filename: str) -> bool:
    """Whether a browser could run the file, by the type it is stored with or by its name
    (the suffix, or the type the name stands for)."""
    if _base(content_type) in ACTIVE_TYPES:
        return True
    suffix = PurePosixPath(filename.lower()).suffix
    if suffix in ACTIVE_SUFFIXES:
        return True
    by_name = mimetypes.guess_type(filename, strict=False)[0]
    return by_name is not None and _base(by_name) in ACTIVE_TYPES


def served_type(content_type: str, filename: str) -> str:
    """The type to send the file with: its own, or ``application/octet-stream`` if active."""
    return SAFE_TYPE if is_active(content_type, filename) else content_type


def attachment(response: HttpResponseBase, *, filename: str) -> None:
    """Mark ``response`` as a download of ``filename`` that nothing may run or embed elsewhere."""
    response["Content-Disposition"] = str(content_disposition_header(True, filename))
    protect(response)


def protect(response: HttpResponseBase) -> None:
    """The headers every response of stored bytes carries, an attachment or a preview's
    picture alike: a policy already set (a preview's, stricter about what loads) keeps its
    directives and gains the sandbox."""
    response["X-Content-Type-Options"] = "nosniff"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    policy = response.get("Content-Security-Policy", "")
    directives = [part.strip() for part in policy.split(";") if part.strip()]
    if DOWNLOAD_CSP not in directives:
        response["Content-Security-Policy"] = "; ".join([DOWNLOAD_CSP, *directives])
