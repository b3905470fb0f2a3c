"""Reading suggestions, always of a document the reader already has access to
(``documents.selectors.document_access``: 404 for a non-member)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet

from commonroom.core.exceptions import NotFound
from commonroom.core.pagination import Page
from commonroom.documents.selectors import DocumentAccess, version_get
from commonroom.previews.selectors import preview_blocks, tracked_revisions
from commonroom.suggestions import carry
from commonroom.suggestions.models import State, Suggestion
from commonroom.suggestions.passages import usable_text
from commonroom.suggestions.permissions import (
    NotWord,
    may_decide,
    suggestion_abilities,
    version_format,
)
from commonroom.workspaces.selectors import parse_uuid

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.documents.models import Version


def _suggestions(doc_access: DocumentAccess) -> QuerySet[Suggestion]:
    return (
        Suggestion.objects.filter(document=doc_access.document)
        .select_related(
            "author", "version", "applies_to", "decided_by", "accepted_in", "outdated_in"
        )
        .order_by("created_at", "pk")
    )


def document_suggestions(
    *, doc_access: DocumentAccess, state: State | None = None, page: Page | None = None
) -> list[Suggestion]:
    """The document's suggestions (in one state, when given; ``page``'s window of them, when
    given), oldest first, each with its versions and people (one query), and with ``can``:
    what the reader may do to it."""
    found = _suggestions(doc_access)
    if state is not None:
        found = found.filter(state=state)
    return with_abilities(page.window(found) if page else list(found), doc_access=doc_access)


def suggestion_get(*, doc_access: DocumentAccess, suggestion_id: Any) -> Suggestion:
    found = _suggestions(doc_access).filter(pk=parse_uuid(suggestion_id)).first()
    if found is None:
        raise NotFound()
    return with_abilities([found], doc_access=doc_access)[0]


def suggestions_by_thread(*, doc_access: DocumentAccess) -> dict[Any, Suggestion]:
    """The document's suggestions by the id of the comment opening each one's thread (a page
    draws its threads and shows the change in those that carry one)."""
    return {s.comment_id: s for s in document_suggestions(doc_access=doc_access)}


def thread_suggestions(
    *, doc_access: DocumentAccess, thread_ids: Collection[Any]
) -> dict[Any, Suggestion]:
    """The suggestions that ``thread_ids`` (threads of the document) carry, by thread id, each
    with its state in words (``state_sentence``): one query however many."""
    found = _suggestions(doc_access).filter(comment_id__in=list(thread_ids))
    by_thread: dict[Any, Suggestion] = {}
    for suggestion in found:
        suggestion.state_sentence = state_sentence(suggestion)  # type: ignore[attr-defined]
        by_thread[suggestion.comment_id] = suggestion
    return by_thread


def with_abilities(
    suggestions: list[Suggestion], *, doc_access: DocumentAccess
) -> list[Suggestion]:
    for suggestion in suggestions:
        suggestion.can = suggestion_abilities(doc_access, suggestion)
    return suggestions


def state_sentence(suggestion: Suggestion) -> str:
    """The suggestion's state in words, as people read it."""
    if suggestion.state == State.OUTDATED:
        number = suggestion.outdated_in.number if suggestion.outdated_in is not None else "?"
        return f"Outdated — the text it changes was amended in version {number}."
    if suggestion.state == State.ACCEPTED:
        number = suggestion.accepted_in.number if suggestion.accepted_in is not None else "?"
        return f"Accepted in version {number}."
    if suggestion.state == State.REJECTED:
        reason = f": {suggestion.decision_reason}" if suggestion.decision_reason else "."
        return f"Rejected{reason}"
    return f"Open, on version {suggestion.applies_to.number}."


def suggestion_block(
    *,
    doc_access: DocumentAccess,
    suggestion: Suggestion,
    version: Version,
    blocks: dict[Any, list[Any] | None] | None = None,
) -> str | None:
    """The id of the block of ``version``'s preview that shows the suggestion's passage: its own
    block on the version it was made on; on a later one (it moved there), the block reading the
    same, as many blocks reading so after the preview's start as on the first version. ``None``
    while that preview is not ready, or when no block reads so. ``blocks`` keeps each version's
    blocks for the next call (a page placing many suggestions reads each preview once)."""
    if version.pk == suggestion.version_id:
        return suggestion.block_id
    known: dict[Any, list[Any] | None] = {} if blocks is None else blocks

    def blocks_of(v: Version) -> list[Any] | None:
        if v.pk not in known:
            known[v.pk] = preview_blocks(doc_access=doc_access, version=v)
        return known[v.pk]

    first = blocks_of(suggestion.version)
    later = blocks_of(version)
    if first is None or later is None:
        return None

    def same(blocks: list[Any]) -> list[str]:
        return [b.id for b in blocks if not b.aside and usable_text(b) == suggestion.block_text]

    ids = same(first)
    if suggestion.block_id not in ids:
        return None
    rank = ids.index(suggestion.block_id)
    there = same(later)
    return there[rank] if rank < len(there) else None


@dataclass(frozen=True)
class SuggestionEvent:
    """One thing that happened to a suggestion, for the document's activity."""

    at: datetime
    what: str  # "suggested", "accepted", "rejected", "outdated"
    who: User | None
    suggestion: Suggestion


def suggestion_events(*, doc_access: DocumentAccess) -> list[SuggestionEvent]:
    """What happened to the document's suggestions, newest first: each suggested, accepted,
    rejected or outdated (when, and by whom; an outdating is its version's, by its uploader)."""
    events: list[SuggestionEvent] = []
    for s in document_suggestions(doc_access=doc_access):
        events.append(SuggestionEvent(s.created_at, "suggested", s.author, s))
        if s.state in (State.ACCEPTED, State.REJECTED) and s.decided_at is not None:
            events.append(SuggestionEvent(s.decided_at, str(s.state), s.decided_by, s))
        if s.state == State.OUTDATED and s.outdated_in is not None:
            version = s.outdated_in
            events.append(SuggestionEvent(version.created_at, "outdated", None, s))
    return sorted(events, key=lambda e: e.at, reverse=True)


def suggestion_threads(comment_ids: Collection[Any]) -> set[Any]:
    """Which of ``comment_ids`` open a suggestion's thread: comments leave those threads'
    passages to suggestions, which move them with their paragraph or outdate them."""
    return set(
        Suggestion.objects.filter(comment_id__in=list(comment_ids)).values_list(
            "comment_id", flat=True
        )
    )


def carry_offer(version: Version) -> dict[str, Any]:
    """What the page says when it offers to carry a stale copy's (``version``'s) changes onto
    the version before it (``permissions.may_carry`` decides whether it is offered)."""
    base = version.based_on_number or 0
    return {
        "number": version.number,
        "base": base,
        "onto": version.number - 1,
        "between": carry.versions_between(base + 1, version.number - 1),
        "author": version.author,
    }


@dataclass(frozen=True)
class TrackedChanges:
    """A Word version's own tracked changes (made in Word), as its preview counted them
    (``count``: ``None`` while it is not counted: the preview not ready, failed, or made before
    they were counted), and whether the reader may accept them all as a new version."""

    version: int
    count: int | None
    can_accept: bool


def version_tracked_changes(*, doc_access: DocumentAccess, number: Any) -> TrackedChanges:
    """Version ``number``'s tracked changes, for whoever may read the document; accepting them
    is for those who decide (managers and editors, not in an archived workspace), when there
    are some (an older version's too: its new version is flagged as based on it). A version
    that is not a Word file is refused (:class:`NotWord`); a forged number is not found."""
    version = version_get(doc_access=doc_access, number=number)
    if version_format(version) != "docx":
        raise NotWord(version.number)
    count = tracked_revisions(doc_access=doc_access, version=version)
    return TrackedChanges(version.number, count, bool(count) and may_decide(doc_access))
