"""Each request's id, in its answer and in every log record made while it is served; the log's
format (``COMMONROOM_LOG_FORMAT``: ``text``, the default, or ``json``).

The id is the request's ``X-Request-ID`` when it is well formed (1-64 of ``A-Z a-z 0-9 . _ -``;
the reverse proxy passes its own on, e.g. nginx's ``$request_id``), otherwise a new one (a
uuid4's hex): a hostile header (too long, a newline, quotes) is replaced, never logged. It lives
in a context variable, which asgiref copies into the thread a request's sync code runs in, and
:class:`RequestIdFilter` writes it on each record as ``request_id`` ("-" outside a request).
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

REQUEST_ID: ContextVar[str] = ContextVar("commonroom_request_id", default="-")
REQUEST_ID_HEADER = "X-Request-ID"
WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Where the ASGI application keeps a request's id and route in its scope, for Django and back.
SCOPE_ID = "commonroom.request_id"
SCOPE_ROUTE = "commonroom.route"


def request_id_from(given: str | bytes | None) -> str:
    """The id a request carries when it is well formed, otherwise a new one."""
    if isinstance(given, bytes):
        given = given.decode("latin-1")
    if given and WELL_FORMED.fullmatch(given):
        return given
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (``request_id``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


def logging_config(*, log_format: str, level: str) -> dict[str, object]:
    """Django's ``LOGGING``: one console handler, its records carrying their request's id;
    with ``json`` each line is one JSON object (time, level, logger, message, request_id and
    anything passed in ``extra``), and the access lines (``commonroom.access``) and uvicorn's
    own lines are written too."""
    formatter: dict[str, object] = (
        {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
            # uvicorn's copy of its message with terminal colours: not for a log store.
            "reserved_attrs": [*_json_reserved(), "color_message"],
        }
        if log_format == "json"
        else {"format": "%(message)s"}
    )
    config: dict[str, object] = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "commonroom.core.request_log.RequestIdFilter"}},
        "formatters": {"main": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "filters": ["request_id"],
                "formatter": "main",
            }
        },
        "root": {"handlers": ["console"], "level": level},
    }
    if log_format == "json":
        config["loggers"] = {
            "commonroom.access": {"level": "INFO"},
            # uvicorn's lines through the same handler (serve leaves its logging to ours).
            "uvicorn": {"level": "INFO"},
            "uvicorn.access": {"level": "WARNING"},
        }
    return config


def _json_reserved() -> list[str]:
    from pythonjsonlogger.core import RESERVED_ATTRS

    return list(RESERVED_ATTRS)
