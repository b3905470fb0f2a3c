"""A socket open on a workspace when its person's access reaches its end date: the scheduled job
that removes the membership closes it at once (``MemberRemoved``, as a manager's removal does),
and before the job runs no event is sent to it (membership read with every event)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from channels.db import database_sync_to_async

from commonroom.live.tests.test_consumer import connect, emit, opened, run, token_for
from commonroom.workspaces import services
from commonroom.workspaces.models import Membership
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.tests.clock import local, stopped_clock

pytestmark = pytest.mark.django_db(transaction=True)

LAST_DAY = date(2027, 1, 31)


def test_the_job_closes_an_open_socket_once_the_last_day_is_over(
    team: Any, monkeypatch: Any
) -> None:
    clock = stopped_clock(monkeypatch, local(date(2027, 1, 25), 12))
    services.membership_set_access_until(
        actor=team.manager,
        access=workspace_access(user=team.manager, workspace_id=team.workspace.pk),
        membership_id=Membership.objects.get(workspace=team.workspace, user=team.editor).pk,
        access_until=LAST_DAY,
    )
    token = token_for(team.editor)
    clock.set(LAST_DAY, 23, 58)

    def the_day_ends() -> None:
        clock.set(date(2027, 2, 1), 0, 2)
        assert services.memberships_access_end() == 1

    async def body() -> None:
        comm = connect(team.workspace.pk, token=token)
        await opened(comm)
        await database_sync_to_async(emit)(team.workspace.pk, 1)
        assert (await comm.receive_json_from(timeout=2))["type"] == "event"
        await database_sync_to_async(the_day_ends)()
        out = await comm.receive_output(timeout=2)
        assert out == {"type": "websocket.close", "code": 4403}

    run(body)


def test_before_the_job_runs_an_event_is_not_sent_and_the_socket_closes(
    team: Any, monkeypatch: Any
) -> None:
    clock = stopped_clock(monkeypatch, local(date(2027, 1, 25), 12))
    services.membership_set_access_until(
        actor=team.manager,
        access=workspace_access(user=team.manager, workspace_id=team.workspace.pk),
        membership_id=Membership.objects.get(workspace=team.workspace, user=team.viewer).pk,
        access_until=LAST_DAY,
    )
    token = token_for(team.viewer)
    clock.set(LAST_DAY, 23, 58)

    def midnight_then_an_event() -> None:
        clock.set(date(2027, 2, 1), 0, 0)
        emit(team.workspace.pk, 1)

    async def body() -> None:
        comm = connect(team.workspace.pk, token=token)
        await opened(comm)
        await database_sync_to_async(midnight_then_an_event)()
        out = await comm.receive_output(timeout=3)
        assert out == {"type": "websocket.close", "code": 4403}

    run(body)

    # And a new socket is refused outright.
    async def again() -> None:
        comm = connect(team.workspace.pk, token=token)
        connected, _ = await comm.connect(timeout=5)
        assert not connected

    run(again)
