"""Reading a person's notifications, follows and "what needs me" lists. Every read is scoped to
the person and to the workspaces they are a member of now."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery

from commonroom.core.markup import as_text
from commonroom.core.text import plain_text
from commonroom.documents.models import Document
from commonroom.notifications.models import DocumentSeen, Follow, Kind, Notification
from commonroom.workspaces.models import Membership

HOME_LIMIT = 10


def _member_of(user: Any, workspace_field: str) -> Exists:
    return Exists(Membership.objects.filter(workspace_id=OuterRef(workspace_field), user=user))


def _visible() -> QuerySet[Notification]:
    """Notifications whose recipient is still a member of their workspace (filter by person)."""
    return Notification.objects.filter(
        Exists(
            Membership.objects.filter(
                workspace_id=OuterRef("workspace_id"), user_id=OuterRef("recipient_id")
            )
        )
    )


def shown_words(item: Any) -> str:
    """A comment's or message's words as a reader sees them: no Markdown marks, mentions by
    name, on one line ("" once deleted)."""
    return plain_text(as_text(item.body_html) or item.body)


def visible_notifications(user: Any) -> QuerySet[Notification]:
    """The person's notifications in workspaces they are still a member of."""
    return _visible().filter(recipient=user)


def unread_counts(user_ids: Iterable[int]) -> dict[int, int]:
    """How many unread notifications each of these people has (the header badge's number), for
    any number of people in one query."""
    ids = {int(pk) for pk in user_ids}
    if not ids:
        return {}
    found = dict(
        _visible()
        .filter(recipient_id__in=ids, read_at__isnull=True)
        .values("recipient_id")
        .annotate(n=Count("id"))
        .values_list("recipient_id", "n")
    )
    return {pk: found.get(pk, 0) for pk in ids}


def unread_count(user: Any) -> int:
    """How many unread notifications the person has (one query)."""
    return unread_counts([user.pk])[user.pk]


def notification_list(*, user: Any, unread_only: bool = False) -> QuerySet[Notification]:
    """Newest first, with what a row shows."""
    qs = visible_notifications(user).select_related("actor", "workspace", "document")
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created_at")


def is_following(*, user: Any, document: Document) -> bool:
    return Follow.objects.filter(user=user, document=document).exists()


def unread_mentions(*, user: Any, limit: int = HOME_LIMIT) -> list[Notification]:
    return list(notification_list(user=user, unread_only=True).filter(kind=Kind.MENTION)[:limit])


def threads_waiting(*, user: Any, limit: int = HOME_LIMIT) -> list[Any]:
    """Unresolved threads the person took part in whose latest comment is someone else's,
    most recent first (on live documents of workspaces they belong to), each with ``text``: the
    first comment's words without Markdown marks."""
    from commonroom.comments.models import Comment

    in_thread = Comment.objects.filter(Q(pk=OuterRef("pk")) | Q(thread_id=OuterRef("pk")))
    latest = in_thread.order_by("-created_at", "-pk")
    found: list[Any] = list(
        Comment.objects.filter(thread__isnull=True, resolved_at__isnull=True)
        .filter(document__deleted_at__isnull=True)
        .filter(
            Q(author=user) | Exists(Comment.objects.filter(thread_id=OuterRef("pk"), author=user))
        )
        .filter(_member_of(user, "document__workspace_id"))
        .annotate(
            latest_author_id=Subquery(latest.values("author_id")[:1]),
            latest_at=Subquery(latest.values("created_at")[:1]),
        )
        .exclude(latest_author_id=user.pk)
        .select_related("document", "document__workspace", "author")
        .order_by("-latest_at")[:limit]
    )
    for thread in found:
        thread.text = shown_words(thread)
    return found


def documents_changed(*, user: Any, limit: int = HOME_LIMIT) -> list[Document]:
    """Documents with a version newer than the one the person last had on screen, and those they
    follow but never opened; most recently updated first."""
    base = Document.objects.filter(deleted_at__isnull=True).filter(_member_of(user, "workspace_id"))
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
