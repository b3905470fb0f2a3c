"""Events written by another process reach a socket that has just opened, on the default
installation (in-memory channel layer, no Redis) and with Redis.

Two real server processes on the test database: sockets are held open on one, comments are
posted through the other within the first second after a socket's ``hello`` or during its
handshake. Without Redis the second process's events cross through the relay of the first
(``live/relay.py``), which goes idle whenever no socket is open: every try here starts from an
idle relay, which is when an event written between a socket's catch-up and the relay's first read
used to be lost. With Redis the announcement itself crosses, and is lost if a socket joins its
groups after its catch-up read."""

from __future__ import annotations

import asyncio
import functools
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from websockets.asyncio.client import ClientConnection, connect

from commonroom.accounts.services import token_create
from commonroom.live import relay
from commonroom.live.models import Event
from commonroom.live.tests.servers import uvicorn_process
from commonroom.workspaces.tests.factories import upload_document

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# When, after the socket's hello, each try posts its comments (seconds), and how much longer than
# the relay needs to go idle each try waits before the next, so that sockets open at every point
# of the relay's interval (receiving through the relay would otherwise lock them to one point).
DELAYS = [round(n % 5 * 0.05, 3) for n in range(10)]
PHASES = [round(n * 0.37 % 1 * relay.INTERVAL, 3) for n in range(10)]
IDLE = relay.INTERVAL + 0.1

T = TypeVar("T")


@dataclass
class Pair:
    """Sockets open on one process, comments posted through the other."""

    ws_url: str
    comments_url: str
    reader: str
    writer: str
    http: httpx.AsyncClient | None = None

    async def open(self) -> tuple[ClientConnection, int]:
        headers = {"Authorization": f"Bearer {self.reader}"}
        socket = await connect(self.ws_url, additional_headers=headers)
        hello = json.loads(await socket.recv())
        assert hello["type"] == "hello"
        return socket, int(hello["id"])

    async def post(self, body: str) -> str:
        assert self.http is not None
        answer = await self.http.post(
            self.comments_url,
            json={"body": body},
            headers={"Authorization": f"Bearer {self.writer}"},
        )
        assert answer.status_code == 201, answer.text
        comment_id: str = answer.json()["id"]
        return comment_id


@contextmanager
def two_processes(team: Any, **env: str) -> Iterator[Pair]:
    document = upload_document(team.workspace, team.manager, name="minutes.txt")
    writer = token_create(actor=team.editor, name="writer", scope="write").secret
    reader = token_create(actor=team.viewer, name="reader", scope="read").secret
    with uvicorn_process(**env) as sockets_here, uvicorn_process(**env) as written_there:
        yield Pair(
            ws_url=sockets_here.replace("http://", "ws://") + f"/ws/w/{team.workspace.pk}/",
            comments_url=f"{written_there}/api/v1/workspaces/{team.workspace.pk}/documents/"
            f"{document.pk}/comments",
            reader=reader,
            writer=writer,
        )


def run(pair: Pair, tries: Callable[[Pair, list[str]], Awaitable[None]]) -> list[str]:
    """Run ``tries(pair, problems)`` with an HTTP client; returns the problems it noted."""
    problems: list[str] = []

    async def body() -> None:
        async with httpx.AsyncClient() as http:
            pair.http = http
            await tries(pair, problems)

    async_to_sync(body)()
    return problems


async def _events(socket: ClientConnection, count: int, timeout: float) -> list[dict[str, Any]]:
    """The next ``count`` messages of type "event" (each within ``timeout`` seconds)."""
    got: list[dict[str, Any]] = []
    while len(got) < count:
        message = json.loads(await asyncio.wait_for(socket.recv(), timeout))
        if message["type"] == "event":
            got.append(message)
    return got


async def after_hello(pair: Pair, problems: list[str]) -> None:
    """Each try: open a socket, post two comments after the try's delay, check the socket is
    sent both, in order, once; then no socket for longer than the relay's interval."""
    for n, (delay, phase) in enumerate(zip(DELAYS, PHASES, strict=True)):
        socket, hello = await pair.open()
        async with socket:
            await asyncio.sleep(delay)
            posted = [await pair.post(f"Try {n}, comment {i}") for i in range(2)]
            try:
                got = await _events(socket, 2, timeout=3)
            except TimeoutError:
                problems.append(f"try {n} (posted {delay} s after hello): not sent")
                got = []
            if got and [m["data"]["comment"] for m in got] != posted:
                problems.append(f"try {n}: sent {got}, posted {posted}")
            if got and not hello < got[0]["id"] < got[1]["id"]:
                problems.append(f"try {n}: ids out of order after {hello}: {got}")
            # Nothing more: each event once, even when the relay announces it again.
            with suppress(TimeoutError):
                problems.append(f"try {n}: sent again {await _events(socket, 1, IDLE + 0.1)}")
        await asyncio.sleep(IDLE + phase)


def _event_id(comment_id: str) -> int:
    return Event.objects.get(kind="comment.created", data__comment=comment_id).pk


async def _timed(step: Callable[[], Awaitable[object]]) -> float:
    started = time.monotonic()
    await step()
    return time.monotonic() - started


async def _later(delay: float, step: Callable[[], Awaitable[T]]) -> T:
    await asyncio.sleep(delay)
    return await step()


async def sweep(pair: Pair, problems: list[str], *, tries: int) -> None:
    """Each try: post a comment and open a socket timed so that the comment commits near the
    end of the socket's handshake, a few milliseconds earlier or later each try, so that over
    the tries it commits at every step of it. The wait starts from the measured time of each
    and follows the boundary: a socket that opened after the comment makes the next wait
    shorter, one that continued from before it makes the next longer (a loaded machine moves
    the boundary; a fixed wait could then miss it every time). If the socket continues from
    before the comment's event, it must be sent it."""

    async def open_close() -> None:
        socket, _ = await pair.open()
        await socket.close()

    posting = sorted([await _timed(lambda: pair.post("Timing")) for _ in range(3)])[1]
    opening = sorted([await _timed(open_close) for _ in range(3)])[1]
    # How long after the comment is sent the socket starts opening; below zero, the socket
    # starts first. Each step follows the boundary, longer while the outcome stays the same
    # side of it (a first estimate far off still reaches it within the tries).
    wait = posting - opening
    straddling = 0
    streak = 0
    before_last: bool | None = None
    for n in range(tries):
        posted, opened = await asyncio.gather(
            _later(max(0.0, -wait), functools.partial(pair.post, f"Sweep {n}")),
            _later(max(0.0, wait), pair.open),
        )
        socket, hello = opened
        event_id = await database_sync_to_async(_event_id)(posted)
        before = hello < event_id
        streak = streak + 1 if before == before_last else 0
        before_last = before
        step = 0.001 * (1 + n % 5) * (1 + streak)
        wait += step if before else -step
        async with socket:
            if before:
                straddling += 1
                try:
                    got = await _events(socket, 1, timeout=3)
                    if got[0]["id"] != event_id:
                        problems.append(f"try {n}: sent {got} instead of {event_id}")
                except TimeoutError:
                    problems.append(f"try {n}: not sent {event_id} (hello {hello})")
    if not straddling:
        problems.append(f"none of {tries} sockets continued from before the comment: untested")


# The embedded installation's relay: several processes on PostgreSQL need Redis.
@pytest.mark.one_run("sqlite")
def test_without_redis_events_from_another_process_reach_sockets_that_just_opened(
    team: Any,
) -> None:
    """The default installation, through the relay, which every try finds idle."""
    with two_processes(team) as pair:
        problems = run(pair, after_hello)
    assert not problems, problems


@pytest.mark.one_run("postgres")  # the production topology's path
def test_with_redis_events_from_another_process_reach_sockets_that_just_opened(
    team: Any, redis_url: str
) -> None:
    """Through Redis: a socket joins its groups before it reads its catch-up, so an event
    committed during its handshake is either read or announced to it."""
    env = {"REDIS_URL": redis_url, "COMMONROOM_CHANNEL_PREFIX": f"test-{uuid.uuid4().hex}"}
    with two_processes(team, **env) as pair:
        problems = run(pair, lambda p, found: sweep(p, found, tries=40))
    assert not problems, problems
