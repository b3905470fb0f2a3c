"""An upload's API token is read once: the guard in front of the application reads its row to
decide how large the body may be, and the request's own sign-in judges that row again (revoked,
person active, guests' tokens allowed, write scope) instead of reading it again, when it was
read for that very secret a moment ago (``accounts.selectors.TokenRead``, decision 42)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import httpx
import pytest

from commonroom.accounts import selectors
from commonroom.accounts.selectors import TOKEN_READ, TokenRead, token_read_for
from commonroom.accounts.services import token_create
from commonroom.core.tests.http_server import Server

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="serves on a socket"),
]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server()
    srv.start()
    yield srv
    srv.stop()


def _read(secret: str, token: Any, *, age: float = 0.0) -> None:
    TOKEN_READ.set(TokenRead(secret=secret, token=token, at=time.monotonic() - age))


def test_the_guards_read_is_taken_for_its_own_secret_once_and_only_while_fresh(team: Any) -> None:
    made = token_create(actor=team.editor, name="script", scope="write")
    row = selectors._token_matching(made.secret)
    assert row is not None
    _read(made.secret, row)
    assert token_read_for(made.secret) is row
    assert token_read_for(made.secret) is None  # taken once: a second sign-in reads again
    _read(made.secret, row)
    assert token_read_for(made.secret + "x") is None  # another secret never takes it
    _read(made.secret, row, age=selectors.TOKEN_READ_FRESH_SECONDS + 0.5)
    assert token_read_for(made.secret) is None  # too old: read again
    TOKEN_READ.set(None)
    assert token_read_for(made.secret) is None


def test_a_row_handed_over_is_judged_as_a_row_read_now(team: Any) -> None:
    """What the guard read is judged again: a token revoked, or whose person was deactivated,
    after it was read (the row says so) still signs nobody in."""
    made = token_create(actor=team.editor, name="script", scope="write")
    row = selectors._token_matching(made.secret)
    assert row is not None
    assert selectors.token_authenticate(made.secret, read=row) == row
    row.user.is_active = False
    assert selectors.token_authenticate(made.secret, read=row) is None


def _counted() -> Any:
    return mock.patch.object(selectors, "_token_matching", wraps=selectors._token_matching)


def test_a_served_upload_reads_its_token_once(server: Server, team: Any) -> None:
    secret = token_create(actor=team.editor, name="script", scope="write").secret
    url = f"http://127.0.0.1:{server.port}/api/v1/workspaces/{team.workspace.pk}/documents"
    headers = {"Authorization": f"Bearer {secret}"}
    with _counted() as matching:
        answer = httpx.post(
            url, headers=headers, files={"file": ("notes.txt", b"Notes.\n" * 500)}, timeout=30
        )
    assert answer.status_code == 201, answer.text[:300]
    assert matching.call_count == 1
    # A request the guard does not stand in front of (not an upload) reads it itself.
    with _counted() as matching:
        me = httpx.get(f"http://127.0.0.1:{server.port}/api/v1/me", headers=headers, timeout=30)
    assert me.status_code == 200
    assert matching.call_count == 1


def test_a_served_upload_with_a_read_only_token_is_still_refused(server: Server, team: Any) -> None:
    """The guard reads a read-only token, decides it may not send a whole file, and hands the
    row on: the sign-in refuses the write as it did when it read the row itself."""
    secret = token_create(actor=team.editor, name="reader", scope="read").secret
    url = f"http://127.0.0.1:{server.port}/api/v1/workspaces/{team.workspace.pk}/documents"
    with _counted() as matching:
        answer = httpx.post(
            url,
            headers={"Authorization": f"Bearer {secret}"},
            files={"file": ("notes.txt", b"Notes.\n")},
            timeout=30,
        )
    assert answer.status_code == 403, answer.text[:300]
    assert answer.json()["code"] == "read_only_token"
    assert matching.call_count == 1
