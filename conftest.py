"""Shared fixtures: people in every role, a real SMTP server on loopback, upload helpers."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

ROLES = ["viewer", "commenter", "editor", "manager"]


@pytest.fixture(autouse=True)
def _test_settings(settings: Any, tmp_path: Any, monkeypatch: Any) -> Iterator[None]:
    """Every test gets its own blob storage and upload temp folders, an empty cache (rate-limit
    counters live there), real Argon2 hashes at the cheapest parameters, and static files looked
    up when asked for rather than indexed by every new test client."""
    from django.core.cache import cache

    from commonroom.accounts.tests.hashers import TEST_PASSWORD_HASHERS

    settings.PASSWORD_HASHERS = TEST_PASSWORD_HASHERS
    settings.WHITENOISE_AUTOREFRESH = True
    media = tmp_path / "files"
    settings.MEDIA_ROOT = str(media)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "commonroom.documents.storage.DurableFileSystemStorage",
            "OPTIONS": {"location": str(media)},
        },
    }
    tmp = tmp_path / "upload-tmp"
    tmp.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # The audit checkpoints a test writes outside the database name that test's rows only
    # (and so do those of the servers and workers it starts).
    settings.COMMONROOM_AUDIT_CHECKPOINTS = tmp_path / "audit-checkpoints.jsonl"
    monkeypatch.setenv("COMMONROOM_AUDIT_CHECKPOINTS", str(settings.COMMONROOM_AUDIT_CHECKPOINTS))
    # Background tasks run at once, in the test's thread.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    cache.clear()
    yield
    cache.clear()


@dataclass
class Team:
    """A workspace with one person in each role, plus an outsider who belongs to none."""

    workspace: Any
    manager: Any
    editor: Any
    commenter: Any
    viewer: Any
    outsider: Any
    by_role: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def team(db: Any) -> Team:
    from commonroom.accounts.tests.factories import UserFactory
    from commonroom.workspaces.tests.factories import add_member, make_workspace

    manager = UserFactory(email="priya@example.org", full_name="Priya Shah")
    ws = make_workspace(manager=manager)
    editor = add_member(ws, UserFactory(email="tom@example.org"), "editor")
    commenter = add_member(ws, UserFactory(email="sam@example.org"), "commenter")
    viewer = add_member(ws, UserFactory(email="viewer@example.org"), "viewer")
    outsider = UserFactory(email="outsider@example.org")
    t = Team(ws, manager, editor, commenter, viewer, outsider)
    t.by_role = {
        "manager": manager,
        "editor": editor,
        "commenter": commenter,
        "viewer": viewer,
        "non-member": outsider,
        "anonymous": None,
    }
    return t


def upload_file(
    name: str = "minutes.txt", content: bytes = b"hello", ctype: str = "text/plain"
) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=ctype)


@pytest.fixture
def make_upload() -> Any:
    return upload_file


# --- A real SMTP server on loopback ------------------------------------------------------------


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)
    event: threading.Event = field(default_factory=threading.Event)

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[Message]:
        import time

        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            self.event.wait(0.05)
            self.event.clear()
        assert len(self.messages) >= count, f"expected {count} emails, got {len(self.messages)}"
        return self.messages

    @staticmethod
    def body(message: Message) -> str:
        payload = message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[Mailbox]:
    """aiosmtpd on 127.0.0.1; Django's SMTP backend pointed at it."""
    from aiosmtpd.controller import Controller

    box = Mailbox()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.messages.append(message_from_bytes(envelope.content))
            box.event.set()
            return "250 OK"

    port = _free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    try:
        yield box
    finally:
        controller.stop()


def _database_line() -> str:
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    where = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded"
    return f"commonroom database: {engine} ({where})"


def pytest_report_header(config: Any) -> str:
    return _database_line()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say which database the run used, even in quiet mode: the suite runs on two."""
    terminalreporter.write_line(_database_line())
