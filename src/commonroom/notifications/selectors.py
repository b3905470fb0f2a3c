"""Reading a person's notifications, follows and "what needs me" lists. Every read is scoped to
the person and to the workspaces they are a member of now."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

from django.db.models import (
    BigIntegerField,
    Count,
    DateField,
    Exists,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    UUIDField,
)
from django.utils import timezone

from commonroom.comments.selectors import threads_waiting_on
from commonroom.core.markup import as_text
from commonroom.core.prepared import Prepared
from commonroom.core.text import plain_text
from commonroom.documents.selectors import live_documents
from commonroom.notifications.models import DocumentSeen, Follow, Kind, Notification
from commonroom.workspaces.selectors import membership_exists

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.documents.models import Document

HOME_LIMIT = 10


def _visible(*, today: date | None = None) -> QuerySet[Notification]:
    """Notifications whose recipient is still a member of their workspace (filter by person):
    the one definition of a notification a person sees, for the lists, the badge's count and the
    counts sent to open screens alike. ``today``: as ``workspaces.models.current_q`` takes it."""
    return Notification.objects.filter(
        membership_exists(
            workspace_id=OuterRef("workspace_id"), user_id=OuterRef("recipient_id"), today=today
        )
    )


def shown_words(item: Any) -> str:
    """A comment's or message's words as a reader sees them: no Markdown marks, mentions by
    name, on one line ("" once deleted)."""
    return plain_text(as_text(item.body_html) or item.body)


def visible_notifications(user: User) -> QuerySet[Notification]:
    """The person's notifications in workspaces they are still a member of."""
    return _visible().filter(recipient=user)


# The sizes of a statement's list of people by id (``core.prepared`` builds one statement per
# size): people are asked in the smallest list that holds them all, the rest of its places
# :data:`NOBODY`; more than the largest, in as many of the largest as it takes. So a statement
# or two however many people, and a few statements built per process.
PLACES = (4, 32, 256)
# In a place of a list there is nobody to name: no account has this id (the database numbers
# them from 1).
NOBODY = 0


def people_placed(ids: list[int]) -> Iterator[tuple[int, dict[str, Any]]]:
    """``ids`` in lists of :data:`PLACES`: each list's size and its places (``person_0`` ...),
    filled with :data:`NOBODY`; one list of nobody when there are no ids."""
    for start in range(0, max(len(ids), 1), PLACES[-1]):
        some = ids[start : start + PLACES[-1]]
        size = next(places for places in PLACES if places >= len(some))
        some += [NOBODY] * (size - len(some))
        yield size, {f"person_{n}": pk for n, pk in enumerate(some)}


def _unread_of(*, today: date, **people: int) -> QuerySet[Notification, Any]:
    """Each of ``people``'s unread visible notifications counted (:func:`_unread`'s rows for
    each), one row per person who has any, by their id."""
    return (
        _visible(today=today)
        .filter(recipient_id__in=list(people.values()), read_at__isnull=True)
        .values("recipient_id")
        .annotate(n=Count("id"))
        .order_by("recipient_id")
        .values_list("recipient_id", "n")
    )


# Asked for the people a new notification is for, to nudge their screens: :func:`_unread_of`,
# its SQL built once per process for each size of :data:`PLACES`.
_UNREAD_OF = {
    size: Prepared(
        f"notifications.unread_of.{size}",
        _unread_of,
        today=DateField(),
        **{f"person_{n}": BigIntegerField() for n in range(size)},
    )
    for size in PLACES
}


def unread_counts(user_ids: Iterable[int]) -> dict[int, int]:
    """How many unread notifications each of these people has (the header badge's number), for
    any number of people: one statement for up to the largest of :data:`PLACES` of them, built
    once per process (``core.prepared``), counting :func:`_unread`'s rows as the badge does."""
    ids = sorted({int(pk) for pk in user_ids})
    if not ids:
        return {}
    today = timezone.localdate()
    found: dict[int, int] = {}
    for size, people in people_placed(ids):
        found.update((int(pk), int(n)) for pk, n in _UNREAD_OF[size].tuples(today=today, **people))
    return {pk: found.get(pk, 0) for pk in ids}


def _unread(*, user_id: int, today: date | None = None) -> QuerySet[Notification]:
    return _visible(today=today).filter(recipient_id=user_id, read_at__isnull=True)


# The header's badge, on every page: :func:`_unread`, its SQL built once per process.
_UNREAD_COUNT = Prepared(
    "notifications.unread_count", _unread, user_id=BigIntegerField(), today=DateField()
)


def unread_count(user: User) -> int:
    """How many unread notifications the person has (the header's badge on every page): what
    :func:`unread_counts` says for them (the same definition, :func:`_visible`), its SQL built
    once per process (``core.prepared``)."""
    return _UNREAD_COUNT.count(user_id=user.pk, today=timezone.localdate())


def notification_list(*, user: User, unread_only: bool = False) -> QuerySet[Notification]:
    """Newest first, with what a row shows."""
    qs = visible_notifications(user).select_related("actor", "workspace", "document")
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created_at")


# What the API shows of a notification, as columns of ``values()`` (the actor's address joined
# in): a page of a hundred read as rows rather than instances with their actor, workspace and
# document.
NOTIFICATION_COLUMNS = (
    "id",
    "kind",
    "workspace_id",
    "document_id",
    "actor__email",
    "summary",
    "excerpt",
    "target_url",
    "created_at",
    "read_at",
)


def notification_rows(*, user: User, unread_only: bool = False) -> QuerySet[Notification, Any]:
    """:func:`notification_list` as rows of :data:`NOTIFICATION_COLUMNS`."""
    return notification_list(user=user, unread_only=unread_only).values(*NOTIFICATION_COLUMNS)


def _follows(*, user_id: int, document_id: Any) -> QuerySet[Follow]:
    return Follow.objects.filter(user_id=user_id, document_id=document_id)


# Asked by every document page (its "Follow" button): :func:`_follows`, its SQL built once per
# process (one row at most: a person follows a document once).
_FOLLOWS = Prepared(
    "notifications.follows", _follows, user_id=BigIntegerField(), document_id=UUIDField()
)


def is_following(*, user: User, document: Document) -> bool:
    return _FOLLOWS.count(user_id=user.pk, document_id=document.pk) > 0


def unread_mentions(*, user: User, limit: int = HOME_LIMIT) -> list[Notification]:
    return list(notification_list(user=user, unread_only=True).filter(kind=Kind.MENTION)[:limit])


def threads_waiting(*, user: User, limit: int = HOME_LIMIT) -> list[Any]:
    """Unresolved threads the person took part in whose latest comment is someone else's,
    most recent first (on live documents of workspaces they belong to), each with ``text``: the
    first comment's words without Markdown marks."""
    found: list[Any] = threads_waiting_on(user=user, limit=limit)
    for thread in found:
        thread.text = shown_words(thread)
    return found


def documents_changed(*, user: User, limit: int = HOME_LIMIT) -> list[Document]:
    """Documents with a version newer than the one the person last had on screen, and those they
    follow but never opened; most recently updated first."""
    base = live_documents().filter(
        membership_exists(workspace_id=OuterRef("workspace_id"), user_id=user.pk)
    )
    seen = DocumentSeen.objects.filter(user=user, document_id=OuterRef("pk"))
    newer = base.filter(
        pk__in=DocumentSeen.objects.filter(
            user=user, document__current_version_number__gt=F("version_number")
        ).values("document_id")
    ).annotate(seen_number=Subquery(seen.values("version_number")[:1]))
    never_seen = base.filter(pk__in=Follow.objects.filter(user=user).values("document_id")).exclude(
        Exists(seen)
    )
    found = [
        *newer.select_related("workspace").order_by("-updated_at")[:limit],
        *never_seen.select_related("workspace").order_by("-updated_at")[:limit],
    ]
    found.sort(key=lambda d: d.updated_at, reverse=True)
    return found[:limit]
