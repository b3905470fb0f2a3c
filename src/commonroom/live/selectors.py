"""What a socket may be sent: decided again for every event, from the database (the person's
membership, and whether what the socket signed in with still signs them in)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Exists, QuerySet, UUIDField

from commonroom.accounts.selectors import Credential, credentials_valid
from commonroom.core.prepared import Prepared
from commonroom.live.models import Event
from commonroom.workspaces.selectors import active_memberships, parse_uuid

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from commonroom.accounts.models import User
    from commonroom.workspaces.selectors import WorkspaceAccess

# A screen that missed more than this reloads instead of replaying (it says so: "reset").
CATCH_UP_LIMIT = 500


@dataclass(frozen=True)
class Batch:
    """Events after a socket's last id. ``allowed`` is False once the person may no longer see
    the workspace (the socket must close); ``signed_in`` is False once the socket's token was
    revoked or its session signed out (it must close, saying so); ``reset`` when more were
    missed than one catch-up replays, with ``last_id`` the id to continue from."""

    allowed: bool
    events: list[Event]
    reset: bool = False
    last_id: int = 0
    signed_in: bool = True


def may_follow(*, user: User | AnonymousUser | None, workspace_id: Any) -> bool:
    """A socket may follow a workspace's events while its person is an active member."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return (
        active_memberships(workspace_id=parse_uuid(workspace_id)).filter(user_id=user.pk).exists()
    )


def signed_in(*, credential: Credential) -> bool:
    """Whether the token or session a socket was opened with still signs its person in."""
    return credential in credentials_valid([credential])


def still_signed_in(credentials: set[Credential]) -> set[Credential]:
    """Which of many sockets' credentials still sign their people in (at most three queries)."""
    return credentials_valid(credentials)


def _newest_first(*, workspace_id: uuid.UUID) -> QuerySet[Event, Any]:
    """The workspace's events' ids, newest first (read from its ``(workspace, id)`` index)."""
    return Event.objects.filter(workspace_id=workspace_id).order_by("-id").values_list("id")


# Asked on every workspace page (the live cursor, the kept fragments' key): the first of
# :func:`_newest_first`, its SQL built once per process.
_NEWEST = Prepared("live.newest_event", _newest_first, workspace_id=UUIDField())


def latest_event_id(*, workspace_id: Any) -> int:
    """The id of the workspace's newest event, 0 if it has none."""
    found = _NEWEST.window(limit=1, offset=0, workspace_id=parse_uuid(workspace_id))
    return int(found[0]["id"]) if found else 0


# The workspace's newest event as the request's page noted it before its view read anything
# (``middleware.LiveAfterMiddleware``: where its socket continues from), for the page's keys.
_noted: ContextVar[tuple[str, int] | None] = ContextVar("live_page_noted", default=None)


@contextmanager
def page_noted(*, workspace_id: str, latest: int) -> Iterator[None]:
    """Within it (one request), :func:`page_revision` of ``workspace_id`` is ``latest``, read
    a moment ago before the view read anything: not read a second time."""
    token = _noted.set((workspace_id, latest))
    try:
        yield
    finally:
        _noted.reset(token)


def page_revision(*, access: WorkspaceAccess) -> int:
    """The workspace's newest event as one request's page reads it: read once for ``access``
    (that request's) and kept with it, for every fragment of the page it keys
    (``core.fragments``). Read before any of them is built: the one the request noted before
    its view began (:func:`page_noted`), when it did, else read now."""
    found: int | None = access.__dict__.get("_revision")
    if found is None:
        noted = _noted.get()
        if noted is not None and noted[0] == str(access.workspace.pk):
            found = noted[1]
        else:
            found = latest_event_id(workspace_id=access.workspace.pk)
        object.__setattr__(access, "_revision", found)  # frozen, but this is only a memo
    return found


def resume_from(*, workspace_id: Any, after: int | None) -> tuple[int, bool]:
    """Where a connecting socket continues from, and whether it must reload first: with no
    ``after``, or one at or beyond the workspace's latest event (nothing to replay), from the
    latest; with one older than the log's beginning (events since pruned), from the latest,
    after a reset."""
    latest = latest_event_id(workspace_id=workspace_id)
    # A page of a workspace with no event (yet, or left after pruning) says after=0, and the
    # log's beginning is global: without ">=" such a page was told to reload as it opened.
    if after is None or after >= latest:
        return latest, False
    oldest = Event.objects.order_by("id").values_list("id", flat=True).first() or 0
    if after < oldest - 1:
        return latest, True
    return after, False


def events_after(*, user_id: Any, workspace_id: Any, after: int) -> Batch:
    """The workspace's events with ids above ``after``, oldest first, only while ``user_id`` is
    an active member: one query when they are (the membership is part of it), two when the
    answer is empty."""
    pk = parse_uuid(workspace_id)
    membership = active_memberships(workspace_id=pk).filter(user_id=user_id)
    rows = list(
        Event.objects.filter(Exists(membership), workspace_id=pk, id__gt=after)
        .order_by("id")
        .only("id", "kind", "data")[: CATCH_UP_LIMIT + 1]
    )
    if len(rows) > CATCH_UP_LIMIT:
        return Batch(allowed=True, events=[], reset=True, last_id=latest_event_id(workspace_id=pk))
    if rows:
        return Batch(allowed=True, events=rows, last_id=rows[-1].pk)
    return Batch(allowed=membership.exists(), events=[], last_id=after)


def events_for_readers(
    *, workspace_id: Any, after: int, user_ids: set[int]
) -> tuple[list[Event], set[int]]:
    """For many sockets of one workspace at once: its events after ``after`` (oldest first, at
    most ``CATCH_UP_LIMIT + 1``) and which of ``user_ids`` are active members now. Two queries
    however many sockets ask."""
    pk = parse_uuid(workspace_id)
    events = list(
        Event.objects.filter(workspace_id=pk, id__gt=after)
        .order_by("id")
        .only("id", "kind", "data")[: CATCH_UP_LIMIT + 1]
    )
    members = set(
        active_memberships(workspace_id=pk)
        .filter(user_id__in=user_ids)
        .values_list("user_id", flat=True)
    )
    return events, members
