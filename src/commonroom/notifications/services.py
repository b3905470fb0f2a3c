"""Every write to notifications, follows, settings and "seen" marks.

The followers (:func:`comment_posted`, :func:`version_uploaded`, :func:`message_posted`, and
the edit and delete followers that keep the quoted excerpt true to the source) are called from
``receivers``, which follows the comments', documents' and conversations' hooks, inside the
change's transaction: the notifications commit with it or not at all. Each person gets one
notification per source item (the strongest reason wins: mention, then reply or conversation,
then new comment or version), never for their own action, and only while they are a member of
the workspace. Open screens are nudged and "immediate" emails enqueued after the commit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    CharField,
    DateField,
    Exists,
    OuterRef,
    PositiveIntegerField,
    Q,
    QuerySet,
    UUIDField,
)
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from commonroom.comments.selectors import earlier_thread_author_ids
from commonroom.conversations.selectors import earlier_message_author_ids
from commonroom.core.addresses import reverse_kept
from commonroom.core.exceptions import ApplicationError, NotFound
from commonroom.core.prepared import Prepared, insert_new
from commonroom.core.text import plain_text
from commonroom.documents.selectors import DocumentAccess
from commonroom.live.services import nudge_user
from commonroom.notifications.models import (
    DocumentSeen,
    EmailChoice,
    Follow,
    Kind,
    Notification,
    NotificationSettings,
)
from commonroom.notifications.selectors import (
    NOBODY,
    PLACES,
    people_placed,
    shown_words,
    unread_counts,
    visible_notifications,
)
from commonroom.workspaces.selectors import active_memberships, parse_uuid
from commonroom.workspaces.services import lock_access

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.approvals.models import ApprovalRequest, Approver
    from commonroom.comments.models import Comment
    from commonroom.conversations.models import Message
    from commonroom.documents.models import Document, Version
    from commonroom.workspaces.models import Membership, Workspace

log = logging.getLogger(__name__)

MAX_TEXT = 300
# A digest goes out once a day. The gap allowed is a little under 24 h so that a digest run at
# the same hour every day is not skipped when one run started a few seconds later than the
# previous one, or on the day the clocks change.
DIGEST_MIN_GAP = timedelta(hours=23)
DIGEST_MAX_ITEMS = 50

# Which reason wins when one item concerns a person in several ways.
PRIORITY = {
    Kind.MENTION: 0,
    Kind.REPLY: 1,
    Kind.CONVERSATION: 1,
    Kind.NEW_COMMENT: 2,
    Kind.NEW_VERSION: 2,
}


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cleaned as all stored text is (one line: ``core.text.plain_text``), then cut to
    ``limit`` characters, the last one an ellipsis when anything was cut."""
    text = plain_text(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _member_ids(workspace_id: Any, user_ids: Iterable[Any]) -> set[int]:
    """Of ``user_ids``, those who are active members of the workspace now."""
    ids = {int(pk) for pk in user_ids if pk is not None}
    if not ids:
        return set()
    return set(
        active_memberships(workspace_id=workspace_id)
        .filter(user_id__in=ids)
        .values_list("user_id", flat=True)
    )


# In the document's place when nobody is told as a follower: no document has this id (a
# document's is a random, version 4, UUID, never the nil one).
NO_DOCUMENT = uuid.UUID(int=0)


def _recipients(
    workspace_id: Any,
    user_ids: Iterable[Any],
    key: str,
    *,
    followers_of: Any = None,
    actor_id: Any = None,
) -> dict[int, bool]:
    """Who is to get the notification ``key``, each with whether they want it emailed at once
    (their setting is "immediate"): of ``user_ids`` and, with ``followers_of``, the followers
    of that document, the active members of the workspace now, never the actor, who have no
    notification under ``key`` yet. One statement built once per process and list size
    (:data:`_TO_TELL`, ``selectors.people_placed``) for up to the largest list of people named
    (the document's followers asked with the first)."""
    ids = sorted({int(pk) for pk in user_ids if pk is not None})
    if not ids and followers_of is None:
        return {}
    ask: dict[str, Any] = {
        "workspace_id": parse_uuid(workspace_id),
        "key": key,
        "actor_id": NOBODY if actor_id is None else int(actor_id),
        "today": timezone.localdate(),
    }
    found: dict[int, bool] = {}
    document_id = NO_DOCUMENT if followers_of is None else parse_uuid(followers_of)
    for size, people in people_placed(ids):
        rows = _TO_TELL[size].tuples(document_id=document_id, **ask, **people)
        found.update((int(pk), email == EmailChoice.IMMEDIATE) for pk, email in rows)
        document_id = NO_DOCUMENT  # the followers are the first statement's
    return found


def _followers(document_id: Any) -> Q:
    return Q(user_id__in=Follow.objects.filter(document_id=document_id).values("user_id"))


def _to_tell(
    *, workspace_id: Any, who: Q, key: str, actor_id: Any, today: date | None = None
) -> QuerySet[Membership, tuple[Any, Any]]:
    """The people ``who`` names who are to be told under ``key``: active members of the
    workspace today, never the actor, not told under ``key`` yet; each with their email
    setting. Plain subqueries and the settings' row joined (not EXISTS against the outer row):
    the same answer, and a third cheaper to build in the ORM, which is most of what it costs."""
    return (
        active_memberships(workspace_id=workspace_id, today=today)
        .filter(who)
        .exclude(user_id=actor_id)
        .exclude(user_id__in=Notification.objects.filter(dedupe_key=key).values("recipient_id"))
        # By its own column (a fixed order, as a prepared query needs): not the default
        # ordering, which joins the users for their address.
        .order_by("user_id")
        .values_list("user_id", "user__notification_settings__email")
    )


def _named_or_following(
    *, workspace_id: Any, document_id: Any, key: str, actor_id: Any, today: date, **people: Any
) -> QuerySet[Membership, tuple[Any, Any]]:
    """:func:`_to_tell` of ``people`` (by id) and the followers of ``document_id``."""
    return _to_tell(
        workspace_id=workspace_id,
        who=Q(user_id__in=list(people.values())) | _followers(document_id),
        key=key,
        actor_id=actor_id,
        today=today,
    )


# Asked for every notification (every new version, comment, message, approval):
# :func:`_named_or_following`, its SQL built once per process for each size of list.
_TO_TELL = {
    size: Prepared(
        f"notifications.to_tell.{size}",
        _named_or_following,
        workspace_id=UUIDField(),
        document_id=UUIDField(),
        key=CharField(),
        actor_id=BigIntegerField(),
        today=DateField(),
        **{f"person_{n}": BigIntegerField() for n in range(size)},
    )
    for size in PLACES
}


def _merge(reasons: dict[int, str], user_ids: Iterable[Any], kind: str) -> None:
    for pk in user_ids:
        if pk is None:
            continue
        pk = int(pk)
        if pk not in reasons or PRIORITY[Kind(kind)] < PRIORITY[Kind(reasons[pk])]:
            reasons[pk] = kind


def _follow_ids(user_ids: Iterable[Any], document_id: Any) -> None:
    insert_new([Follow(user_id=pk, document_id=document_id) for pk in user_ids])


def _nudge(user_ids: Iterable[int]) -> None:
    """Tell each person's open screens their new unread count (after the commit)."""
    for pk, unread in unread_counts(user_ids).items():
        nudge_user(user_id=pk, kind="notifications", data={"unread": unread})


def _notify(
    *,
    reasons: dict[int, str],
    workspace_id: Any,
    actor: User | None,
    document_id: Any,
    target_url: str,
    summaries: dict[str, str],
    excerpt: str,
    key: str,
    emailed: bool = False,
    email_all: bool = False,
    followers: str | None = None,
) -> list[Notification]:
    """Create the notifications (members only, never the actor, once per person and ``key``),
    nudge the recipients' screens and enqueue the immediate emails after commit (none when
    ``emailed``: its email is sent by the app it is about; every one of them with
    ``email_all``: a reminder someone asked for is emailed whatever the setting).
    ``followers``: the document's followers get it too, for that reason (``reasons`` wins for
    a follower it names: every reason given with followers ranks above following). Who gets
    it, and who is emailed at once, is read in one query (:func:`_recipients`)."""
    actor_id = getattr(actor, "pk", None)
    if actor_id is not None:
        reasons.pop(actor_id, None)
    recipients_found = _recipients(
        workspace_id,
        reasons,
        key,
        followers_of=document_id if followers is not None else None,
        actor_id=actor_id,
    )
    # Whoever the query found and ``reasons`` does not name is there as a follower.
    kinds = {pk: reasons.get(pk) or str(followers) for pk in recipients_found}
    # Each text cleaned and cut once, not once per person: the same words for everyone told
    # for the same reason.
    clipped = {kind: _clip(summaries[kind]) for kind in set(kinds.values())}
    excerpt = _clip(excerpt)
    new = [
        Notification(
            recipient_id=pk,
            workspace_id=workspace_id,
            kind=kinds[pk],
            actor_id=actor_id,
            document_id=document_id,
            target_url=target_url[:500],
            summary=clipped[kinds[pk]],
            excerpt=excerpt,
            dedupe_key=key,
            emailed_at=timezone.now() if emailed else None,
        )
        for pk in sorted(recipients_found)
    ]
    if not new:
        return []
    # Written unless the person has it already (its key): the statement says which it wrote.
    written = set(insert_new(new))
    created = [(n.pk, n.recipient_id) for n in new if n.pk in written]
    recipients = [r for _, r in created]
    _nudge(recipients)
    ids = (
        []
        if emailed
        else [str(pk) for pk, r in created if email_all or recipients_found.get(r, False)]
    )
    if ids:
        transaction.on_commit(lambda: _enqueue_emails(ids), robust=True)
    return [n for n in new if n.pk in {pk for pk, _ in created}]


def _enqueue_emails(ids: list[str]) -> None:
    from commonroom.notifications.tasks import send_notification_emails

    send_notification_emails.enqueue(ids)


def _doc_url(workspace_id: Any, document_id: Any) -> str:
    # Reversed as ``{% url %}`` reverses it, kept (core.addresses): a document's
    # address is worked out again for each of its new versions and comments.
    return reverse_kept("document_detail", [workspace_id, document_id], {}, None)


# --- Following other apps' changes (``receivers``) ----------------------------------------------


def comment_posted(*, comment: Comment, mentioned: list[Any]) -> list[Notification]:
    """A comment (a new thread or a reply) was written. Call inside its transaction.

    Mentioned members get "mention"; the authors of earlier comments in the same thread "reply";
    the document's followers "new_comment". The author follows the document from now on."""
    doc = comment.document
    root_id = comment.thread_id or comment.pk
    reasons: dict[int, str] = {}
    _merge(reasons, [u.pk for u in mentioned], Kind.MENTION)
    _merge(reasons, earlier_thread_author_ids(comment), Kind.REPLY)
    _follow_ids([comment.author_id], doc.pk)
    who = comment.author.display_name
    return _notify(
        reasons=reasons,
        workspace_id=doc.workspace_id,
        actor=comment.author,
        document_id=doc.pk,
        target_url=f"{_doc_url(doc.workspace_id, doc.pk)}#thread-{root_id}",
        summaries={
            Kind.MENTION: f"{who} mentioned you on {doc.name}",
            Kind.REPLY: f"{who} replied in your thread on {doc.name}",
            Kind.NEW_COMMENT: f"{who} commented on {doc.name}",
        },
        excerpt=shown_words(comment),
        key=f"comment:{comment.pk}",
        followers=Kind.NEW_COMMENT,
    )


def suggestion_made(*, comment: Comment, quote: str, new_text: str) -> int:
    """The thread ``comment`` opens carries a suggested change (told after ``comment_posted``,
    in the same transaction): its followers' notifications say "X suggested a change to
    <document>" and quote the change. Mentions keep their wording. Returns how many changed."""
    doc = comment.document
    if not new_text:
        change = f"Delete “{_clip(quote, 200)}”"
    else:
        change = f"“{_clip(quote, 200)}” → “{_clip(new_text, 200)}”"
    return Notification.objects.filter(
        dedupe_key=f"comment:{comment.pk}", kind=Kind.NEW_COMMENT
    ).update(
        summary=_clip(f"{comment.author.display_name} suggested a change to {doc.name}", 300),
        excerpt=_clip(change),
    )


def version_uploaded(*, version: Version) -> list[Notification]:
    """A new version was added (upload or restore). Call inside its transaction: the document's
    followers get "new_version"; the uploader follows the document and has seen this version."""
    doc = version.document
    _follow_ids([version.author_id], doc.pk)
    if version.number == 1:
        # A document's first version comes in the transaction that made the document: nobody
        # else can follow it or have seen it yet, so there is nobody to tell.
        insert_new([DocumentSeen(user_id=version.author_id, document_id=doc.pk, version_number=1)])
        return []
    _mark_seen(version.author_id, doc.pk, version.number, new=True)
    verb = (
        f"restored version {version.restored_from_number} as version {version.number} of"
        if getattr(version, "restored_from_number", None)
        else f"uploaded version {version.number} of"
    )
    return _notify(
        reasons={},
        workspace_id=doc.workspace_id,
        actor=version.author,
        document_id=doc.pk,
        target_url=f"{_doc_url(doc.workspace_id, doc.pk)}#v{version.number}",
        summaries={Kind.NEW_VERSION: f"{version.author.display_name} {verb} {doc.name}"},
        excerpt=version.note,
        key=f"version:{version.pk}",
        followers=Kind.NEW_VERSION,
    )


def member_added(
    *, actor: User, workspace_id: Any, user_id: int, open_path: str, open_label: str,
    workspace_name: str, access_until: date | None = None,
) -> list[Notification]:  # fmt: skip
    """Someone with an account added at once when invited: "Priya added you to <workspace> to
    read <document>" (", until 9 January 2027" when their access has a last day), linking to
    what they were invited to read. Its email is the one the workspace sends
    (workspaces.services), so it is marked emailed: no second one, no digest."""
    where = f" to read {open_label}" if open_label else ""
    if access_until is not None:
        where += f", until {access_until:%-d %B %Y}"
    made = _notify(
        reasons={int(user_id): Kind.ADDED},
        workspace_id=workspace_id,
        actor=actor,
        document_id=None,
        target_url=open_path or reverse("workspace_detail", args=[workspace_id]),
        summaries={Kind.ADDED: f"{actor.display_name} added you to {workspace_name}{where}"},
        excerpt="",
        key=f"added:{workspace_id}:{user_id}:{timezone.now().timestamp()}",
        emailed=True,
    )
    return made


def readers_reminded(
    *, document: Document, version: Version, user_ids: Iterable[Any], actor: User
) -> list[Notification]:
    """Those who had not read ``version`` were reminded (once a day at most per document,
    ``documents.services.document_readers_remind``): a notification and an email each."""
    return _notify(
        reasons={pk: Kind.READ_REMINDER for pk in user_ids},
        workspace_id=document.workspace_id,
        actor=actor,
        document_id=document.pk,
        target_url=_doc_url(document.workspace_id, document.pk),
        summaries={
            Kind.READ_REMINDER: f"{actor.display_name} asks you to read version "
            f"{version.number} of {document.name}"
        },
        excerpt="",
        key=f"read-reminder:{document.pk}:{timezone.localdate():%Y-%m-%d}",
        email_all=True,
    )


def _approval_notify(
    request: ApprovalRequest, user_ids: Iterable[Any], actor: User | None, summary: str,
    excerpt: str, key: str,
) -> list[Notification]:  # fmt: skip
    doc = request.document
    return _notify(
        reasons={pk: Kind.APPROVAL for pk in user_ids},
        workspace_id=doc.workspace_id,
        actor=actor,
        document_id=doc.pk,
        target_url=f"{_doc_url(doc.workspace_id, doc.pk)}#approval-{request.pk}",
        summaries={Kind.APPROVAL: summary},
        excerpt=excerpt,
        key=key,
    )


def _due_words(request: ApprovalRequest) -> str:
    return f" by {request.due_date:%-d %B %Y}" if request.due_date else ""


def approval_asked(
    *, request: ApprovalRequest, user_ids: Iterable[Any], actor: User
) -> list[Notification]:
    """People asked to approve a version: "Priya asked you to approve version 2 of <doc>"."""
    return _approval_notify(
        request,
        user_ids,
        actor,
        f"{actor.display_name} asked you to approve version {request.version.number} of "
        f"{request.document.name}{_due_words(request)}",
        request.message,
        f"approval:{request.pk}",
    )


def approval_reminded(
    *, request: ApprovalRequest, user_ids: Iterable[Any], actor: User | None, why: str
) -> list[Notification]:
    """A reminder to those still to decide (each reminder notifies again)."""
    what = f"version {request.version.number} of {request.document.name}"
    if why == "overdue":
        summary = f"Overdue: you are asked to approve {what}"
    elif actor is None:
        summary = f"Reminder: you are asked to approve {what}{_due_words(request)}"
    else:
        summary = f"{actor.display_name} reminds you to approve {what}{_due_words(request)}"
    return _approval_notify(
        request,
        user_ids,
        actor,
        summary,
        request.message,
        f"approval-reminder:{request.pk}:{why}:{timezone.now().timestamp():.0f}",
    )


def approval_decided(*, request: ApprovalRequest, approver: Approver) -> list[Notification]:
    """The requester hears each decision."""
    verb = "approved" if approver.decision == "approved" else "declined to approve"
    return _approval_notify(
        request,
        [request.requested_by_id],
        approver.user,
        f"{approver.user.display_name} {verb} version {request.version.number} of "
        f"{request.document.name}",
        approver.reason,
        f"approval-decision:{approver.pk}",
    )


def approval_ended(*, request: ApprovalRequest, actor: User | None) -> list[Notification]:
    """Everyone on the request (the requester and the approvers still on it) hears how it
    ended."""
    people = {request.requested_by_id} | set(
        request.approvers.exclude(decision="removed").values_list("user_id", flat=True)
    )
    what = f"version {request.version.number} of {request.document.name}"
    if request.state == "approved":
        summary = f"Approved: {what} is the final record"
    else:
        summary = f"The approval request for {what} ended"
    return _approval_notify(
        request, people, actor, summary, request.end_note, f"approval-end:{request.pk}"
    )


def message_posted(*, message: Message, mentioned: list[Any]) -> list[Notification]:
    """A message was written in a conversation. Call inside its transaction.

    Mentioned members get "mention"; earlier writers in the conversation "conversation"."""
    conversation = message.conversation
    workspace_id = conversation.workspace_id
    reasons: dict[int, str] = {}
    _merge(reasons, [u.pk for u in mentioned], Kind.MENTION)
    _merge(reasons, earlier_message_author_ids(message), Kind.CONVERSATION)
    try:
        url = reverse("conversation_detail", args=[workspace_id, conversation.pk])
    except NoReverseMatch:  # pragma: no cover - only before the conversations pages exist
        url = reverse("workspace_detail", args=[workspace_id])
    title = _clip(getattr(conversation, "title", "") or "", 80)
    where = f"in “{title}”" if title else "in a conversation"
    who = message.author.display_name
    return _notify(
        reasons=reasons,
        workspace_id=workspace_id,
        actor=message.author,
        document_id=getattr(message, "document_id", None),
        target_url=f"{url}#message-{message.pk}",
        summaries={
            Kind.MENTION: f"{who} mentioned you {where}",
            Kind.CONVERSATION: f"{who} wrote {where}",
        },
        excerpt=shown_words(message),
        key=f"message:{message.pk}",
    )


COMMENT_DELETED = "This comment was deleted."
MESSAGE_DELETED = "This message was deleted."


def _set_excerpt(key: str, excerpt: str) -> int:
    """Every notification of the source item ``key`` now quotes ``excerpt`` (after an edit or
    a deletion: a deleted text must not linger in anyone's notifications or digest)."""
    return Notification.objects.filter(dedupe_key=key).update(excerpt=_clip(excerpt))


def comment_edited(*, comment: Comment) -> int:
    """A comment's text changed: its notifications quote the new text. Call inside the edit's
    transaction."""
    return _set_excerpt(f"comment:{comment.pk}", shown_words(comment))


def comment_deleted(*, comment: Comment) -> int:
    """A comment was deleted: its notifications no longer quote it. Call inside the deletion's
    transaction."""
    return _set_excerpt(f"comment:{comment.pk}", COMMENT_DELETED)


def message_edited(*, message: Message) -> int:
    """A message's text changed: its notifications quote the new text."""
    return _set_excerpt(f"message:{message.pk}", shown_words(message))


def message_deleted(*, message: Message) -> int:
    """A message was deleted: its notifications no longer quote it."""
    return _set_excerpt(f"message:{message.pk}", MESSAGE_DELETED)


# --- A person's own notifications ---------------------------------------------------------------


def _own(user: User, notification_id: Any) -> Notification:
    found = visible_notifications(user).filter(pk=parse_uuid(notification_id)).first()
    if found is None:
        raise NotFound()
    return found


@transaction.atomic
def mark_read(*, user: User, notification_id: Any) -> Notification:
    """Mark one of the person's notifications read (someone else's does not exist: 404)."""
    notification = _own(user, notification_id)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
        _nudge([user.pk])
    return notification


@transaction.atomic
def mark_all_read(*, user: User, workspace: Any = None) -> int:
    """Mark all the person's unread notifications read (in one workspace, if given)."""
    # The same notifications the person is shown (members' workspaces only), no others.
    qs = visible_notifications(user).filter(read_at__isnull=True)
    if workspace is not None:
        qs = qs.filter(workspace_id=getattr(workspace, "pk", workspace))
    changed = qs.update(read_at=timezone.now())
    if changed:
        _nudge([user.pk])
    return changed


@transaction.atomic
def follow(*, user: User, doc_access: DocumentAccess) -> None:
    """Follow a document the person can see (they are its member: ``doc_access`` says so)."""
    # Membership read again in this transaction: a person removed a moment ago gets 404.
    lock_access(actor=user, access=doc_access.access)
    _follow_ids([user.pk], doc_access.document.pk)


@transaction.atomic
def unfollow(*, user: User, doc_access: DocumentAccess) -> None:
    lock_access(actor=user, access=doc_access.access)
    Follow.objects.filter(user=user, document_id=doc_access.document.pk).delete()


def settings_for(user: User) -> NotificationSettings:
    """The person's settings (the defaults, unsaved, if they never chose)."""
    found = NotificationSettings.objects.filter(user=user).first()
    return found or NotificationSettings(user=user)


@transaction.atomic
def settings_update(*, user: User, email: str) -> NotificationSettings:
    if email not in EmailChoice.values:
        raise ApplicationError(
            "Choose when to be emailed: immediate, digest or none.", code="invalid_email_choice"
        )
    found, _ = NotificationSettings.objects.get_or_create(user=user)
    if found.email != email:
        found.email = email
        found.save(update_fields=["email"])
    return found


def _seen_since(*, user_id: int, document_id: Any, number: int) -> QuerySet[DocumentSeen]:
    """The person's mark on the document if it says version ``number`` or a later one."""
    return DocumentSeen.objects.filter(
        user_id=user_id, document_id=document_id, version_number__gte=number
    )


# Asked by every document page (:func:`document_seen`): :func:`_seen_since`, its SQL built once
# per process (one row at most: a person's mark on a document is one row).
_SEEN_SINCE = Prepared(
    "notifications.seen_since",
    _seen_since,
    user_id=BigIntegerField(),
    document_id=UUIDField(),
    number=PositiveIntegerField(),
)


def _mark_seen(user_id: Any, document_id: Any, number: int, *, new: bool = False) -> None:
    """Version ``number`` of the document is seen by the person. ``new``: it was made just now,
    so nobody can have seen it yet and the read that spares a page read again its write is
    left out."""
    if not new and _SEEN_SINCE.count(user_id=user_id, document_id=document_id, number=number):
        return  # seen already (a page read again): no write for nothing
    row = DocumentSeen(user_id=user_id, document_id=document_id, version_number=number)
    sql, fields = _mark_seen_sql()
    # As save() does: a failed statement marks the transaction for rollback, even in an
    # atomic block without a savepoint.
    with transaction.mark_for_rollback_on_error(), connection.cursor() as cursor:
        cursor.execute(
            sql, [f.get_db_prep_save(f.pre_save(row, add=True), connection) for f in fields]
        )


# :func:`_mark_seen`'s statement and the fields it writes, built once per process and database
# (it runs on every new version and every document page).
_MARK_SEEN: dict[tuple[str, str], tuple[str, tuple[Any, ...]]] = {}


def _mark_seen_sql() -> tuple[str, tuple[Any, ...]]:
    """One statement: the person's row made, or moved up to this version (never down), as an
    update of an older row and else an insert skipped if one is there meanwhile would."""
    key = (connection.alias, connection.vendor)
    found = _MARK_SEEN.get(key)
    if found is None:
        fields = tuple(f for f in DocumentSeen._meta.concrete_fields if not f.primary_key)
        quote = connection.ops.quote_name
        table = quote(DocumentSeen._meta.db_table)
        number_column, seen_column = quote("version_number"), quote("seen_at")
        sql = (
            f"INSERT INTO {table} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608 - our table, our columns
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            f"ON CONFLICT ({quote('user_id')}, {quote('document_id')}) DO UPDATE SET "
            f"{number_column} = excluded.{number_column}, {seen_column} = excluded.{seen_column} "
            f"WHERE {table}.{number_column} < excluded.{number_column}"
        )
        found = _MARK_SEEN[key] = (sql, fields)
    return found


def document_seen(*, user: User, document: Document) -> None:
    """The person has the document's page in front of them: its latest version is seen."""
    if document.current_version_number:
        _mark_seen(user.pk, document.pk, document.current_version_number)


# --- Email ----------------------------------------------------------------------------------------


def absolute(url: str) -> str:
    return settings.SITE_URL + url


def _send(*, to: str, subject: str, template: str, context: dict[str, Any]) -> None:
    context = {**context, "site_url": settings.SITE_URL}
    email = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"notifications/email/{template}.txt", context),
        to=[to],
    )
    email.attach_alternative(
        render_to_string(f"notifications/email/{template}.html", context), "text/html"
    )
    email.send()


def access_ending(*, workspace: Workspace, user_id: int, access_until: date) -> None:
    """Inside the transaction that claims the notice (workspaces' job, once per end date):
    email the person that their access to ``workspace`` ends after ``access_until``, once
    committed, whatever their notification settings. A failure is logged: the notice is not
    claimed again."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return
    days = (access_until - timezone.localdate()).days
    context = {
        "user": user,
        "workspace": workspace,
        "access_until": access_until,
        "days": days,
        "url": absolute(reverse("workspace_detail", args=[workspace.pk])),
        "time_zone": settings.TIME_ZONE,
    }

    def send() -> None:
        try:
            _send(
                to=user.email,
                subject=f"Your access to {workspace.name} ends on {access_until:%-d %B %Y}",
                template="access_ending",
                context=context,
            )
        except Exception:
            log.exception("could not email %s that their access ends", user.email)

    transaction.on_commit(send, robust=True)


def send_notification_emails(notification_ids: list[str]) -> int:
    """Email each of these notifications not emailed yet whose recipient is still a member
    (the immediate setting). Safe to run twice: each is claimed under its row lock."""
    sent = 0
    for pk in notification_ids:
        with transaction.atomic():
            n = (
                Notification.objects.select_for_update(of=("self",))
                .select_related("recipient")
                .filter(pk=parse_uuid(pk), emailed_at__isnull=True)
                .first()
            )
            if n is None or not _member_ids(n.workspace_id, [n.recipient_id]):
                continue
            try:
                _send(
                    to=n.recipient.email,
                    subject=_clip(n.summary, 150),
                    template="notification",
                    context={"n": n, "url": absolute(n.target_url)},
                )
            except Exception:
                log.exception("could not email notification %s", n.pk)
                continue
            n.emailed_at = timezone.now()
            n.save(update_fields=["emailed_at"])
            sent += 1
    return sent


def _digest_items(user: User, choice: str, since: datetime | None) -> Any:
    qs = visible_notifications(user).filter(read_at__isnull=True, emailed_at__isnull=True)
    if since is not None:
        qs = qs.filter(created_at__gt=since)
    if choice == EmailChoice.NONE:
        qs = qs.filter(kind=Kind.MENTION)
    return qs.select_related("workspace").order_by("-created_at")


def send_digests(now: datetime | None = None) -> int:
    """Send each person whose setting is "digest" (or "none", for mentions only) one email
    with their unread notifications not emailed yet, at most once a day. Returns the number of
    emails sent."""
    now = now or timezone.now()
    from django.contrib.auth import get_user_model

    users = (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Exists(
                Notification.objects.filter(
                    recipient_id=OuterRef("pk"), read_at__isnull=True, emailed_at__isnull=True
                )
            )
        )
        .exclude(notification_settings__email=EmailChoice.IMMEDIATE)
    )
    sent = 0
    for user in users.iterator():
        with transaction.atomic():
            prefs, _ = NotificationSettings.objects.select_for_update().get_or_create(user=user)
            if prefs.email == EmailChoice.IMMEDIATE:
                continue
            if prefs.last_digest_at is not None and now - prefs.last_digest_at < DIGEST_MIN_GAP:
                continue
            qs = _digest_items(user, prefs.email, prefs.last_digest_at)
            items = list(qs[:DIGEST_MAX_ITEMS])
            if not items:
                continue
            total = qs.count()
            try:
                _send(
                    to=user.email,
                    subject=(
                        f"Commonroom: {total} notification{'s' if total != 1 else ''} "
                        "since your last digest"
                    ),
                    template="digest",
                    context={
                        "user": user,
                        "items": [(n, absolute(n.target_url)) for n in items],
                        "more": total - len(items),
                        "list_url": absolute(reverse("notification_list")),
                        "settings_url": absolute(reverse("notification_settings")),
                    },
                )
            except Exception:
                log.exception("could not send the digest to %s", user.pk)
                continue
            qs.update(emailed_at=now)
            prefs.last_digest_at = now
            prefs.save(update_fields=["last_digest_at"])
            sent += 1
    return sent
