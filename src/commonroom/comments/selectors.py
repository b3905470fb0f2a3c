"""Reading comments as a person who can see the document sees them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery

from commonroom.accounts.selectors import mentioned_put, person_columns
from commonroom.comments import hooks
from commonroom.comments.models import Comment, PassageState, ThreadPassage
from commonroom.comments.passages import PassageShown, Place
from commonroom.comments.permissions import comment_abilities
from commonroom.core.exceptions import NotFound
from commonroom.core.pagination import Page
from commonroom.documents.selectors import DocumentAccess
from commonroom.workspaces.selectors import membership_exists, parse_uuid

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.documents.models import Version


def _threads(doc_access: DocumentAccess, *, mentions: bool = True) -> Any:
    """The document's threads with their replies and passages. Authors and versions are read
    once each (``prefetch_related``: a few people write most comments, on a few versions), not
    once per comment; who each comment mentions only when asked (``mentions``: the API shows
    it, the page does not)."""
    mentioned = ["mentioned"] if mentions else []
    replies = Comment.objects.prefetch_related("author", "version", *mentioned).order_by(
        "created_at"
    )
    passages = ThreadPassage.objects.select_related("version").order_by("version__number")
    return (
        Comment.objects.filter(document=doc_access.document, thread__isnull=True)
        .select_related("resolved_by")
        .prefetch_related(
            "author",
            "version",
            *mentioned,
            Prefetch("replies", queryset=replies, to_attr="thread_replies"),
            Prefetch("passages", queryset=passages, to_attr="thread_passages"),
        )
        .order_by("created_at")
    )


def passage_shown(thread: Comment, *, latest: int) -> PassageShown | None:
    """Where the passage of ``thread`` (a first comment read by :func:`_threads`) is on the
    document's latest version (number ``latest``), or why it is not known there; ``None`` when
    the thread is not anchored to a passage."""
    position = thread.anchor_position
    if not isinstance(position, dict):
        return None
    here = str(position.get("block", "")) if thread.version.number == latest else ""
    changed_in = unchecked_in = None
    why = ""
    for row in getattr(thread, "thread_passages", []):  # oldest version first
        number = row.version.number
        unchecked_in, why = None, ""
        if row.state == PassageState.FOUND and number == latest:
            here = row.block
        elif row.state == PassageState.CHANGED:
            changed_in = number
        elif row.state in (PassageState.NO_PREVIEW, PassageState.UNREADABLE):
            unchecked_in, why = number, str(row.state)
    return PassageShown(here, changed_in, unchecked_in, why)


def _with_passages(threads: list[Comment], doc_access: DocumentAccess) -> list[Comment]:
    latest = doc_access.document.current_version_number
    for thread in threads:
        thread.passage = passage_shown(thread, latest=latest)
    return threads


def document_threads(*, doc_access: DocumentAccess, mentions: bool = True) -> list[Comment]:
    """Every thread on the document (the page's; the API reads a page of them as rows,
    :func:`thread_rows`), on any version, oldest first, each with its replies (as
    ``thread_replies``) and where its passage is on the latest version (``passage``), and who
    each comment mentions unless ``mentions`` is False: the same number of queries however many
    there are."""
    return _with_passages(list(_threads(doc_access, mentions=mentions)), doc_access)


# What the API shows of a comment (``comments.api.comment_row_out``), as columns of
# ``values()``: its author and resolver joined in, so that a page of threads is read as rows
# rather than some six hundred model instances.
COMMENT_COLUMNS = (
    "id",
    "thread_id",
    "version__number",
    "body",
    "body_html",
    "created_at",
    "edited_at",
    "deleted_at",
    "resolved_at",
    "anchor_quote",
    "anchor_position",
    "client_key",
    *person_columns("author__"),
    *person_columns("resolved_by__"),
)
PASSAGE_COLUMNS = ("thread_id", "version__number", "state", "block", "start", "end")


def thread_rows(*, doc_access: DocumentAccess, page: Page) -> list[dict[str, Any]]:
    """``page``'s window of the threads on the document (the API's list), oldest first, as
    :func:`document_threads` finds them, each a row of :data:`COMMENT_COLUMNS` with its replies
    (``replies``: rows, oldest first), its passages on later versions (``passages``: rows of
    :data:`PASSAGE_COLUMNS`, oldest version first) and, on every comment, the ids of those it
    mentions (``mentioned``, ascending). Four queries however many threads and replies."""
    roots = page.window(
        Comment.objects.filter(document=doc_access.document, thread__isnull=True).values(
            *COMMENT_COLUMNS
        )
    )
    ids = [root["id"] for root in roots]
    replies = list(
        Comment.objects.filter(thread_id__in=ids).order_by("created_at").values(*COMMENT_COLUMNS)
    )
    mentioned_put([*roots, *replies], Comment.mentioned)
    by_root: dict[Any, dict[str, Any]] = {}
    for root in roots:
        root.update(replies=[], passages=[])
        by_root[root["id"]] = root
    for reply in replies:
        by_root[reply["thread_id"]]["replies"].append(reply)
    passages = ThreadPassage.objects.filter(thread_id__in=ids).order_by("version__number")
    for passage in passages.values(*PASSAGE_COLUMNS):
        by_root[passage["thread_id"]]["passages"].append(passage)
    return roots


def thread_get(*, doc_access: DocumentAccess, comment_id: Any) -> Comment:
    """The thread that ``comment_id`` starts (or, for a reply, belongs to), with its replies."""
    pk = parse_uuid(comment_id)
    root_id = (
        Comment.objects.filter(pk=pk, document=doc_access.document)
        .values_list("thread_id", flat=True)
        .first()
    )
    if root_id is None and not Comment.objects.filter(pk=pk, document=doc_access.document).exists():
        raise NotFound()
    thread = _threads(doc_access).filter(pk=root_id or pk).first()
    if thread is None:
        raise NotFound()
    return _with_passages([thread], doc_access)[0]


def with_abilities(
    threads: list[Comment], *, doc_access: DocumentAccess, user: User
) -> list[Comment]:
    """Each comment of ``threads`` (and of their replies) with what ``user`` may do to it, as
    ``can`` (a dict of :func:`comment_abilities`)."""
    for root in threads:
        for comment in [root, *getattr(root, "thread_replies", [])]:
            comment.can = comment_abilities(doc_access, comment, user)
    return threads


def with_parts(threads: list[Comment], *, doc_access: DocumentAccess) -> list[Comment]:
    """Each of ``threads`` with what other apps show at the top of its card, as ``parts`` (HTML,
    empty for most; ``hooks.thread_parts``): a suggestion's change and state on its thread."""
    found = hooks.thread_parts(doc_access, threads)
    for thread in threads:
        thread.parts = found.get(thread.pk, "")
    return threads


def comment_get(*, doc_access: DocumentAccess, comment_id: Any) -> Comment:
    comment = (
        Comment.objects.select_related("version", "author")
        .filter(pk=parse_uuid(comment_id), document=doc_access.document)
        .first()
    )
    if comment is None:
        raise NotFound()
    return comment


def anchored_blocks(*, doc_access: DocumentAccess, version_id: Any) -> dict[str, list[str]]:
    """The open threads whose passage is on ``version_id``'s preview, by block id (``"p-12"``):
    those started on it at a passage, and those whose passage was found there again
    (:class:`ThreadPassage`); each block's thread ids, oldest thread first. Two queries."""
    open_threads = Comment.objects.filter(
        document=doc_access.document,
        thread__isnull=True,
        deleted_at__isnull=True,
        resolved_at__isnull=True,
    )
    started = open_threads.filter(version_id=version_id, anchor_position__isnull=False)
    found: list[tuple[Any, Any, Any]] = [
        (created, pk, position.get("block") if isinstance(position, dict) else None)
        for pk, created, position in started.values_list("pk", "created_at", "anchor_position")
    ]
    found += [
        (created, pk, block)
        for pk, created, block in ThreadPassage.objects.filter(
            version_id=version_id, state=PassageState.FOUND, thread__in=open_threads
        ).values_list("thread_id", "thread__created_at", "block")
    ]
    blocks: dict[str, list[str]] = {}
    for _, pk, block in sorted(found, key=lambda row: (row[0], str(row[1]))):
        if isinstance(block, str):
            blocks.setdefault(block, []).append(str(pk))
    return blocks


# --- For the search index (which reads every comment, never as a member) --------------------


def live_comments_on(document_id: Any) -> QuerySet[Comment]:
    """The document's comments and replies not deleted."""
    return Comment.objects.filter(document_id=document_id, deleted_at__isnull=True)


def comment_find(pk: Any) -> Comment | None:
    """The comment with this id and its document (one query), or None if it is gone; a deleted
    comment is returned, its ``is_deleted`` set."""
    return Comment.objects.filter(pk=pk).select_related("document").first()


# --- For notifications (which decide who is told, and what needs a person's answer) ----------


def earlier_thread_author_ids(comment: Comment) -> QuerySet[Comment, Any]:
    """The authors of the comments of ``comment``'s thread written before it (its first comment
    included, ``comment`` itself not), as a list of ids to read or a subquery."""
    root_id = comment.thread_id or comment.pk
    return (
        Comment.objects.filter(Q(pk=root_id) | Q(thread_id=root_id))
        .exclude(pk=comment.pk)
        .filter(created_at__lte=comment.created_at)
        .values_list("author_id", flat=True)
    )


def threads_waiting_on(*, user: User, limit: int) -> list[Comment]:
    """Unresolved threads ``user`` took part in whose latest comment is someone else's, most
    recent first, on documents not in the trash of workspaces they belong to now (one query),
    each with its document, workspace and author."""
    in_thread = Comment.objects.filter(Q(pk=OuterRef("pk")) | Q(thread_id=OuterRef("pk")))
    latest = in_thread.order_by("-created_at", "-pk")
    return list(
        Comment.objects.filter(thread__isnull=True, resolved_at__isnull=True)
        .filter(document__deleted_at__isnull=True)
        .filter(
            Q(author=user) | Exists(Comment.objects.filter(thread_id=OuterRef("pk"), author=user))
        )
        .filter(membership_exists(workspace_id=OuterRef("document__workspace_id"), user_id=user.pk))
        .annotate(
            latest_author_id=Subquery(latest.values("author_id")[:1]),
            latest_at=Subquery(latest.values("created_at")[:1]),
        )
        .exclude(latest_author_id=user.pk)
        .select_related("document", "document__workspace", "author")
        .order_by("-latest_at")[:limit]
    )


# --- For a Word file with the document's threads as its own comments -------------------------


def open_threads_on_version(
    *, doc_access: DocumentAccess, version: Version
) -> list[tuple[Comment, Place | None]]:
    """The open threads (neither resolved nor deleted) anchored to a passage and written on
    ``version`` or an earlier one, oldest first, each with its replies not deleted (as
    ``thread_replies``) and where its passage is on ``version``'s preview: where it was
    written, on that version; where it was found again (:class:`ThreadPassage`), on a later
    one; ``None`` when it was not found there (it changed, or was not looked for)."""
    threads = _threads(doc_access).filter(
        deleted_at__isnull=True,
        resolved_at__isnull=True,
        anchor_position__isnull=False,
        version__number__lte=version.number,
    )
    found: list[tuple[Comment, Place | None]] = []
    for thread in threads:
        thread.thread_replies = [r for r in thread.thread_replies if not r.is_deleted]
        position = thread.anchor_position
        place: Place | None = None
        if thread.version_id == version.pk and isinstance(position, dict):
            start, end = position.get("start"), position.get("end")
            if isinstance(start, int) and isinstance(end, int):
                place = Place(str(position.get("block", "")), start, end)
        else:
            for row in thread.thread_passages:
                if (
                    row.version_id == version.pk
                    and row.state == PassageState.FOUND
                    and row.start is not None
                    and row.end is not None
                ):
                    place = Place(row.block, row.start, row.end)
        found.append((thread, place))
    return found
