"""How other apps follow comments without comments knowing them (``core.hooks``).

Every comments service that writes a comment tells :func:`changed` what it did, as one of the
frozen change types below, inside its transaction, after the change is written and before its
audit row. Search (the comment's entry) and notifications (who is told, and the excerpt they
quote) subscribe from their ``receivers.py``; what they write commits or rolls back with the
comment. So comments imports neither of them: they import comments.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from commonroom.core.hooks import Hook

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.comments.models import Comment
    from commonroom.documents.selectors import DocumentAccess


@dataclass(frozen=True)
class CommentAdded:
    """A comment was written: a new thread (``comment.thread_id`` is None) or a reply.
    ``mentioned``: the members its text mentions."""

    actor: User
    comment: Comment
    mentioned: tuple[User, ...]


@dataclass(frozen=True)
class CommentEdited:
    """Its author changed a comment's text (the earlier text is kept as a revision)."""

    actor: User
    comment: Comment


@dataclass(frozen=True)
class CommentDeleted:
    """A comment became a tombstone: its text is gone, its place in the thread stays."""

    actor: User
    comment: Comment


@dataclass(frozen=True)
class CommentResolved:
    """A thread was resolved (``resolved``), or reopened (not ``resolved``)."""

    actor: User
    comment: Comment
    resolved: bool


Change = CommentAdded | CommentEdited | CommentDeleted | CommentResolved

hook: Hook[Change] = Hook("comments")
subscribe = hook.subscribe
unsubscribe = hook.unsubscribe
subscribed = hook.subscribed
changed = hook.changed


# --- Threads another app follows itself ------------------------------------------------------

ThreadsFollowed = Callable[[Collection[uuid.UUID]], Collection[uuid.UUID]]
_followed_elsewhere: list[ThreadsFollowed] = []


def add_threads_followed_elsewhere(find: ThreadsFollowed) -> None:
    """``find`` names, among the thread ids it is given, those its app follows from version to
    version itself (from its ``ready()``): comments then leave those threads' passages alone,
    so a thread is never moved twice, or moved by one app and outdated by another
    (suggestions: a thread carrying a change moves with its paragraph, or is outdated)."""
    if find not in _followed_elsewhere:
        _followed_elsewhere.append(find)


def threads_followed_elsewhere(thread_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Which of ``thread_ids`` another app follows itself (see above)."""
    found: set[uuid.UUID] = set()
    if thread_ids:
        for find in _followed_elsewhere:
            found.update(find(thread_ids))
    return found


# --- What other apps show on a thread --------------------------------------------------------

ThreadParts = Callable[["DocumentAccess", Sequence["Comment"]], Mapping[uuid.UUID, str]]
_thread_parts: list[ThreadParts] = []


def add_thread_parts(parts: ThreadParts) -> None:
    """``parts`` (added from an app's ``ready()``) is given the threads a reader sees on a
    document page, with the reader's access to the document, and answers HTML to show at the
    top of some of their cards, by thread id: escaped by its maker, made with as few queries
    for many threads as for one (suggestions: a suggestion's change and state on its thread)."""
    if parts not in _thread_parts:
        _thread_parts.append(parts)


def thread_parts(doc_access: DocumentAccess, threads: Sequence[Comment]) -> dict[uuid.UUID, str]:
    """What the other apps show on each of ``threads`` (see above), by thread id."""
    found: dict[uuid.UUID, str] = {}
    if threads:
        for parts in _thread_parts:
            for thread_id, html in parts(doc_access, threads).items():
                found[thread_id] = found.get(thread_id, "") + html
    return found
