"""Who a socket may send a workspace's events to, asked of the selectors directly: an active
member, never a non-member, a member of another workspace or a person whose account was switched
off (even while their socket still holds the person as they were)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from commonroom.accounts.models import User
from commonroom.live.selectors import events_after, events_for_readers, may_follow
from commonroom.live.services import publish
from commonroom.live.tests.factories import an_event
from commonroom.workspaces.tests.factories import make_workspace

pytestmark = pytest.mark.django_db


def emit(workspace_id: Any, n: int) -> list[int]:
    with transaction.atomic():
        return [publish(workspace_id=workspace_id, event=an_event(i)).pk for i in range(n)]


def test_only_active_members_may_follow_and_read_the_events(team: Any) -> None:
    elsewhere = make_workspace(name="Another").memberships.get().user
    ids = emit(team.workspace.pk, 2)
    # Switched off in the database; the object in hand (as a socket holds it) still says active.
    User.objects.filter(pk=team.commenter.pk).update(is_active=False)
    assert team.commenter.is_active

    for user, allowed in [
        (team.viewer, True),
        (team.commenter, False),
        (team.outsider, False),
        (elsewhere, False),
    ]:
        assert may_follow(user=user, workspace_id=team.workspace.pk) is allowed
        with CaptureQueriesContext(connection) as queries:
            batch = events_after(user_id=user.pk, workspace_id=team.workspace.pk, after=0)
        # A member's events and membership come in one query; a refusal needs a second.
        assert len(queries) == (1 if allowed else 2)
        assert batch.allowed is allowed
        assert [e.pk for e in batch.events] == (ids if allowed else [])
        # Nothing new: the answer comes from the membership alone.
        caught_up = events_after(user_id=user.pk, workspace_id=team.workspace.pk, after=ids[-1])
        assert (caught_up.allowed, caught_up.events, caught_up.last_id) == (allowed, [], ids[-1])

    events, members = events_for_readers(
        workspace_id=team.workspace.pk,
        after=0,
        user_ids={team.viewer.pk, team.commenter.pk, team.outsider.pk, elsewhere.pk},
    )
    assert [e.pk for e in events] == ids
    assert members == {team.viewer.pk}


def test_a_page_of_a_quiet_workspace_is_not_told_to_reload_after_another_is_pruned(
    team: Any,
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from commonroom.live.models import Event
    from commonroom.live.selectors import latest_event_id, resume_from
    from commonroom.live.services import events_prune

    busy = make_workspace(name="Busy").pk
    first, _, last = emit(busy, 3)
    Event.objects.update(created_at=timezone.now() - timedelta(days=31))
    assert events_prune(older_than=timedelta(days=30)) == 2
    # The quiet workspace's page renders after=0 (it has no events); the log now starts at 3.
    assert latest_event_id(workspace_id=team.workspace.pk) == 0
    assert resume_from(workspace_id=team.workspace.pk, after=0) == (0, False)
    # The busy workspace's screen that saw only its first event did miss the pruned second.
    assert resume_from(workspace_id=busy, after=first) == (last, True)


def test_the_newest_event_is_the_logs_after_each_write(team: Any) -> None:
    """latest_event_id (every workspace page's live cursor, its SQL built once per process)
    says what the log's largest id for the workspace is, after events written and deleted
    straight through the ORM, as another process writes them, in it and in another workspace."""
    from django.db.models import Max

    from commonroom.live.models import Event
    from commonroom.live.selectors import latest_event_id

    other = make_workspace(name="Other").pk

    def both() -> tuple[int, int]:
        largest = Event.objects.filter(workspace_id=team.workspace.pk).aggregate(m=Max("id"))
        return latest_event_id(workspace_id=str(team.workspace.pk)), int(largest["m"] or 0)

    assert both() == (0, 0)
    first, second = emit(team.workspace.pk, 2)
    assert both() == (second, second)
    made = Event.objects.create(workspace_id=team.workspace.pk, kind="x", origin="elsewhere")
    Event.objects.create(workspace_id=other, kind="x", origin="elsewhere")
    assert both() == (made.pk, made.pk)
    Event.objects.filter(pk__in=[made.pk, second]).delete()
    assert both() == (first, first)
    Event.objects.filter(workspace_id=team.workspace.pk).delete()
    assert both() == (0, 0)
