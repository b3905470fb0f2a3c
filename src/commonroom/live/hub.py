"""One database read for all of a process's sockets on a workspace.

When an event is announced, every open socket of the workspace asks for the events after its
last id, with its person's membership and its credential (the token or session it was opened
with) checked again. Asked one socket at a time that is several queries per socket per event;
here the sockets' questions that arrive together are answered by one read of the log, one of the
memberships (``selectors.events_for_readers``) and one per kind of credential
(``selectors.still_signed_in``), and each socket gets the answer it would have got alone. A
question that read cannot answer exactly (more missed than one catch-up replays) is asked alone.
Sockets that saw the same last event are handed the same events (the same objects), so each
event's message is written once for all of them (``consumers.event_frame``).
"""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async

from commonroom.accounts.selectors import Credential
from commonroom.live import selectors
from commonroom.live.models import Event
from commonroom.live.selectors import Batch, events_after, events_for_readers, still_signed_in

# How long the first question waits for the others that the same announcement brings.
GATHER_SECONDS = 0.002

Question = tuple[int, Credential, int, "asyncio.Future[Batch]"]
_waiting: dict[str, list[Question]] = {}
_running: set[asyncio.Task[None]] = set()


async def events_for(
    *, workspace_id: str, user_id: int, credential: Credential, after: int
) -> Batch:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[Batch] = loop.create_future()
    questions = _waiting.get(workspace_id)
    if questions is None:
        questions = _waiting[workspace_id] = []
        task = loop.create_task(_answer(workspace_id))
        _running.add(task)  # held until done, so it is never collected mid-flight
        task.add_done_callback(_running.discard)
    questions.append((user_id, credential, after, answer))
    return await answer


async def _answer(workspace_id: str) -> None:
    await asyncio.sleep(GATHER_SECONDS)
    questions = _waiting.pop(workspace_id, [])
    if not questions:
        return
    try:
        events, members, valid = await database_sync_to_async(_read)(
            workspace_id=workspace_id,
            after=min(after for _, _, after, _ in questions),
            user_ids={user_id for user_id, _, _, _ in questions},
            credentials={credential for _, credential, _, _ in questions},
        )
        complete = len(events) <= selectors.CATCH_UP_LIMIT
        # Sockets that saw the same last event get the same (immutable) answer: one list of
        # events for them all, not one each.
        batches: dict[int, Batch] = {}
        for user_id, credential, after, answer in questions:
            if answer.done():
                continue
            if credential not in valid:
                answer.set_result(Batch(allowed=False, events=[], last_id=after, signed_in=False))
            elif user_id not in members:
                answer.set_result(Batch(allowed=False, events=[], last_id=after))
            elif complete:
                batch = batches.get(after)
                if batch is None:
                    mine = [e for e in events if e.pk > after]
                    batch = batches[after] = Batch(
                        allowed=True, events=mine, last_id=mine[-1].pk if mine else after
                    )
                answer.set_result(batch)
            else:
                alone = await database_sync_to_async(events_after)(
                    user_id=user_id, workspace_id=workspace_id, after=after
                )
                answer.set_result(alone)
    except Exception as exc:  # every waiting socket hears of it, none hangs
        for _, _, _, answer in questions:
            if not answer.done():
                answer.set_exception(exc)


def _read(
    *, workspace_id: str, after: int, user_ids: set[int], credentials: set[Credential]
) -> tuple[list[Event], set[int], set[Credential]]:
    events, members = events_for_readers(workspace_id=workspace_id, after=after, user_ids=user_ids)
    return events, members, still_signed_in(credentials)
