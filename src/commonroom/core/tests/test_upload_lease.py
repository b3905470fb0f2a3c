"""An upload's slot is free by the time its client has the whole answer, so a client that sends
its uploads one after another, on any process, is never refused for the one it just finished."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.core.cache import cache

from commonroom.core.asgi_limits import Message, RequestSizeLimit
from commonroom.core.upload_slots import slot_key

PERSON = 4242


async def _identify(bearer: str, session_key: str) -> int | None:
    return PERSON if bearer == "good" else None


def _scope() -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/workspaces/w/documents",
        "headers": [(b"authorization", b"Bearer good"), (b"content-length", b"5")],
    }


def _held() -> bool:
    return cache.get(slot_key(PERSON, 0)) is not None


@pytest.fixture(autouse=True)
def one_slot(settings: Any) -> Any:
    settings.COMMONROOM_MAX_CONCURRENT_UPLOADS = 1
    cache.delete(slot_key(PERSON, 0))
    yield
    cache.delete(slot_key(PERSON, 0))


def _run(app: Any) -> list[tuple[str, bool, bool]]:
    """Each message ``app`` sends through the guard: its type, whether it is the last part of
    the answer, and whether the slot was held as it reached the client."""
    seen: list[tuple[str, bool, bool]] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"hello", "more_body": False}

    async def send(message: Message) -> None:
        last = message["type"] == "http.response.body" and not message.get("more_body", False)
        seen.append((message["type"], last, await asyncio.to_thread(_held)))

    asyncio.run(RequestSizeLimit(app, identify=_identify)(_scope(), receive, send))
    return seen


def test_the_slot_is_given_back_before_the_last_part_of_the_answer_is_sent() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        await send({"type": "http.response.body", "body": b"}"})

    seen = _run(app)
    assert seen == [
        ("http.response.start", False, True),  # held while the answer is being sent
        ("http.response.body", False, True),
        ("http.response.body", True, False),  # free by the time the client has all of it
    ]
    assert not _held()


def test_the_slot_is_given_back_once_when_the_application_fails_after_answering() -> None:
    """An application that raises after its answer: the slot, given back before the answer's
    end, is not given back again (another upload may hold that key by then)."""
    taken_after: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})
        # Another upload of the same person's takes the slot now free...
        taken_after.append(cache.add(slot_key(PERSON, 0), "another", timeout=60))
        raise RuntimeError("after the answer")

    with pytest.raises(RuntimeError):
        _run(app)
    assert taken_after == [True]
    # ...and keeps it: the first upload's end did not take it away.
    assert cache.get(slot_key(PERSON, 0)) == "another"


def test_a_request_that_never_answers_gives_its_slot_back_at_its_end() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        assert _held()

    assert _run(app) == []
    assert not _held()
