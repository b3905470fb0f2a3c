"""What a request's sync code runs in under the ASGI handler (core.asgi_body.StreamingASGIHandler):
its middleware and view in one thread of its own, off the event loop; that thread kept for the
next request; a request arriving while another is in its view never waiting for that one's
thread; a thread with a call still running never kept; and no more views running at once
than the handler allows, the rest waiting their turn on the event loop. The streamed upload
bodies' own rules are in test_asgi_body.py and test_upload_bodies.py."""

from __future__ import annotations

import asyncio
import threading
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone, translation

from commonroom.core.asgi_body import StreamingASGIHandler, _RequestThread, _RequestThreads

# (where, thread) of each middleware call and view, in order.
seen: list[tuple[str, int]] = []
slow_view_may_end = threading.Event()
slow_view_started = threading.Event()


class Recording:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        seen.append(("middleware", threading.get_ident()))
        return self.get_response(request)


def quick(request: HttpRequest) -> HttpResponse:
    seen.append(("view", threading.get_ident()))
    return HttpResponse("quick")


def slow(request: HttpRequest) -> HttpResponse:
    seen.append(("slow view", threading.get_ident()))
    slow_view_started.set()
    slow_view_may_end.wait(timeout=30)
    return HttpResponse("slow")


def unsettling(request: HttpRequest) -> HttpResponse:
    """A view that leaves its thread's language and time zone changed, as a careless one could."""
    translation.activate("fr")
    timezone.activate(zoneinfo.ZoneInfo("Asia/Tokyo"))
    seen.append(("unsettling view", threading.get_ident()))
    return HttpResponse("changed")


def settings_seen(request: HttpRequest) -> HttpResponse:
    seen.append(("settings view", threading.get_ident()))
    return HttpResponse(f"{translation.get_language()} {timezone.get_current_timezone_name()}")


urlpatterns = [
    path("quick/", quick),
    path("slow/", slow),
    path("unsettling/", unsettling),
    path("settings/", settings_seen),
]


@pytest.fixture
def handler(settings: Any) -> Iterator[StreamingASGIHandler]:
    settings.ROOT_URLCONF = __name__
    settings.MIDDLEWARE = [f"{__name__}.Recording"]
    seen.clear()
    slow_view_may_end.clear()
    slow_view_started.clear()
    made = StreamingASGIHandler(streamed=lambda scope: False)
    yield made
    slow_view_may_end.set()
    made.threads.drop_idle()  # no idle thread left behind for the rest of the run


def scope_of(url: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": url,
        "raw_path": url.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def ask(
    handler: StreamingASGIHandler, url: str, *, client_goes: asyncio.Event | None = None
) -> list[dict[str, Any]]:
    """One GET through the handler as uvicorn hands it over; the messages sent back. The
    client stays until the answer, or goes when ``client_goes`` is set."""
    sent: list[dict[str, Any]] = []
    body_given = False
    goes = client_goes or asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal body_given
        if not body_given:
            body_given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await goes.wait()
        return {"type": "http.disconnect"}

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(dict(message))

    await handler(scope_of(url), receive, send)
    return sent


def status_of(sent: list[dict[str, Any]]) -> int:
    return int(sent[0]["status"])


def body_of(sent: list[dict[str, Any]]) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_a_requests_sync_code_runs_in_one_thread_off_the_loop_kept_for_the_next(handler):
    async def main() -> tuple[int, int]:
        loop_thread = threading.get_ident()
        first = await ask(handler, "/quick/")
        started = threading.active_count()
        second = await ask(handler, "/quick/")
        assert status_of(first) == status_of(second) == 200
        return loop_thread, threading.active_count() - started

    loop_thread, new_threads = asyncio.run(main())
    assert [where for where, _ in seen] == ["middleware", "view"] * 2
    threads = {thread for _, thread in seen}
    # One thread for both requests' middleware and views, not the event loop's; the second
    # request started none.
    assert len(threads) == 1
    assert loop_thread not in threads
    assert new_threads == 0


def test_a_request_arriving_while_another_is_in_its_view_runs_at_once_in_another_thread(
    handler,
):
    """Requests share no thread while they run, as with Django's own handler: one waiting in
    its view (even one whose client went: the handler waits for the view) holds up no other."""

    async def main() -> None:
        client_goes = asyncio.Event()
        waiting = asyncio.create_task(ask(handler, "/slow/", client_goes=client_goes))
        await asyncio.to_thread(slow_view_started.wait, 10)
        client_goes.set()
        answered = await asyncio.wait_for(ask(handler, "/quick/"), 10)
        assert status_of(answered) == 200
        assert not waiting.done()
        slow_view_may_end.set()
        await asyncio.wait_for(waiting, 10)

    asyncio.run(main())
    slow_thread = next(thread for where, thread in seen if where == "slow view")
    quick_thread = next(thread for where, thread in seen if where == "view")
    assert quick_thread != slow_thread


def test_views_past_the_number_at_once_wait_their_turn(handler):
    """With two views at once allowed, two of five slow requests reach their view and three
    wait (one whose client goes while it waits is dropped). When the views may end, the
    waiting ones run and every request still there is answered."""
    handler.views_at_once = 2

    def in_view() -> int:
        return sum(1 for where, _ in seen if where == "slow view")

    async def main() -> list[int]:
        gone = asyncio.Event()
        tasks = [asyncio.create_task(ask(handler, "/slow/")) for _ in range(4)]
        leaving = asyncio.create_task(ask(handler, "/slow/", client_goes=gone))
        deadline = asyncio.get_running_loop().time() + 10
        while in_view() < 2 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # time for a third to have reached its view, were it let
        assert in_view() == 2
        gone.set()
        await asyncio.wait_for(leaving, 10)
        slow_view_may_end.set()
        return [status_of(sent) for sent in await asyncio.wait_for(asyncio.gather(*tasks), 30)]

    assert asyncio.run(main()) == [200] * 4
    assert in_view() == 4  # the one whose client went never ran its view


def test_a_thread_is_kept_only_with_nothing_left_running_in_it_and_up_to_the_number_kept():
    threads = _RequestThreads(keep=1)
    may_end = threading.Event()
    busy = threads.take()
    running = busy.submit(may_end.wait, 10)
    threads.give_back(busy)  # still running: not kept (it ends once its call is over)
    idle = threads.take()
    assert idle is not busy
    assert idle.submit(threading.get_ident).result(timeout=10) != 0
    threads.give_back(idle)
    other = _RequestThread()
    threads.give_back(other)  # one kept already: this one ends
    assert threads.take() is idle
    assert threads.take() is not other
    may_end.set()
    assert running.result(timeout=10) is True


def test_a_kept_thread_carries_no_language_or_time_zone_into_the_next_request(handler, settings):
    """The next request in a kept thread starts from the settings' language and time zone,
    whatever the last one in that thread activated."""

    async def main() -> bytes:
        assert status_of(await ask(handler, "/unsettling/")) == 200
        return body_of(await ask(handler, "/settings/"))

    answer = asyncio.run(main())
    assert len({thread for _, thread in seen}) == 1  # the same kept thread
    assert answer.decode() == f"{settings.LANGUAGE_CODE} {settings.TIME_ZONE}"


def test_a_request_cancelled_while_its_view_runs_leaves_its_thread_unkept(handler):
    """uvicorn cancels a request's task when its connection is lost: the view goes on in its
    thread, and that thread is not given to the next request, which would wait behind it."""

    async def main() -> None:
        task = asyncio.create_task(ask(handler, "/slow/"))
        await asyncio.to_thread(slow_view_started.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        slow_thread = next(thread for where, thread in seen if where == "slow view")
        kept = [t.submit(threading.get_ident).result(timeout=10) for t in handler.threads._idle]
        assert slow_thread not in kept
        answered = await asyncio.wait_for(ask(handler, "/quick/"), 10)
        assert status_of(answered) == 200
        slow_view_may_end.set()

    asyncio.run(main())
    quick_thread = next(thread for where, thread in seen if where == "view")
    slow_thread = next(thread for where, thread in seen if where == "slow view")
    assert quick_thread != slow_thread
