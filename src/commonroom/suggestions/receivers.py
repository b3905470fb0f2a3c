"""What suggestions follow.

- ``documents.hooks``: every new version of a document, inside the transaction that adds it.
  Suggestions an accept in that transaction made it from name it; each open suggestion moves
  to it when its file still has the suggestion's paragraph, else it is outdated by it
  (``services.suggestions_follow_version``).
- ``comments.hooks``: a new thread, inside the comment's transaction; when it is the thread of
  a suggestion being made, the suggestion is written with it
  (``services.suggestion_thread_started``). Suggestions' threads are named to comments as
  followed here (``selectors.suggestion_threads``), so comments do not move their passages.
- Live screens: a suggestion made, accepted or outdated is published
  (``services.suggestion_published``) in the transaction that did it, as a
  ``live.events.SuggestionEvent`` (a rejection by ``services.suggestion_reject`` itself, so
  the page and the API alike).
- The Comments list: a suggestion's change and state at the top of its thread
  (``comments.hooks.add_thread_parts``).
- The document page: its suggestions and what the reader may do (``documents.hooks``), and
  each open one's change as a redline after its block of the preview (``previews.hooks``);
  to those who decide, "Accept all tracked changes" when the latest version is a Word file
  whose preview counted tracked changes in it (``previews.selectors.tracked_revisions``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.template.loader import render_to_string

from commonroom.accounts.selectors import people_digest
from commonroom.comments import hooks as comments
from commonroom.core.fragments import Fragment
from commonroom.documents import hooks
from commonroom.live.events import SuggestionEventKind
from commonroom.live.selectors import page_revision
from commonroom.previews import hooks as previews
from commonroom.previews.selectors import preview_blocks, tracked_revisions
from commonroom.suggestions.models import Kind, State, Suggestion
from commonroom.suggestions.permissions import (
    may_carry,
    may_decide,
    may_download,
    may_suggest,
    version_format,
)
from commonroom.suggestions.selectors import (
    carry_offer,
    document_suggestions,
    state_sentence,
    suggestion_block,
    suggestion_threads,
    thread_suggestions,
)
from commonroom.suggestions.services import (
    suggestion_published,
    suggestion_thread_started,
    suggestions_follow_version,
)

if TYPE_CHECKING:
    from commonroom.comments.models import Comment
    from commonroom.documents.selectors import DocumentAccess


def _publish(
    suggestion: Suggestion, kind: SuggestionEventKind, version: int, actor_id: int
) -> None:
    suggestion_published(suggestion, kind, version=version, actor_id=actor_id)


def on_version_added(change: hooks.VersionAdded) -> None:
    if change.document_created:
        return  # a new document has no suggestions
    suggestions_follow_version(actor=change.actor, document=change.document, version=change.version)


def on_comment_added(change: comments.CommentAdded) -> None:
    suggestion_thread_started(change.comment)
    made = Suggestion.objects.filter(comment=change.comment).select_related("applies_to").first()
    if made is not None:
        _publish(made, "suggestion.created", made.applies_to.number, made.author_id)


def document_page(page: hooks.DocumentPage) -> Mapping[str, Any]:
    """The page's Suggestions section, drawn again only when the workspace's newest live event,
    the latest version, the reader or what they may do, or a name shown has changed since it
    was last drawn for this reader (``core.fragments``): every suggestion made, accepted,
    rejected or outdated is an event of its workspace, and so is the latest version's preview
    made (its paragraphs and tracked changes, which the section offers). And the offer to
    carry a stale copy's changes, shown above, in the "amendments crossed" callout."""
    doc_access, access = page.doc_access, page.doc_access.access
    latest = page.versions[0] if page.versions else None
    key = page.reader_key(page_revision(access=access), latest.pk if latest is not None else None)
    return {
        "suggestions_fragment": Fragment(
            name="suggestions.section",
            key=key,
            build=lambda token: _section_html(page, token),
            people=people_digest,
        ),
        "carry_offer": carry_offer(latest)
        if latest is not None and may_carry(doc_access, latest)
        else None,
    }


def _section_context(page: hooks.DocumentPage) -> dict[str, Any]:
    """What ``suggestions/_section.html`` shows: the page's suggestions (each with its state in
    words), whether the reader may suggest and decide, and the latest preview's paragraphs (the
    form's choice without a script)."""
    doc_access = page.doc_access
    latest = page.versions[0] if page.versions else None
    found = document_suggestions(doc_access=doc_access)
    for suggestion in found:
        suggestion.state_sentence = state_sentence(suggestion)  # type: ignore[attr-defined]
    suggest = latest is not None and may_suggest(doc_access, latest)
    blocks = preview_blocks(doc_access=doc_access, version=latest) if suggest and latest else None
    paragraphs = [
        (b.id, " ".join(b.text.split())[:80])
        for b in blocks or []
        if not b.aside and b.text.strip()
    ]
    decide = may_decide(doc_access)
    # The latest version's own tracked changes (made in Word), offered to those who decide.
    tracked = None
    if decide and latest is not None and version_format(latest) == "docx":
        count = tracked_revisions(doc_access=doc_access, version=latest)
        if count:
            tracked = {"number": latest.number, "count": count, "next": latest.number + 1}
    return {
        "workspace": doc_access.access.workspace,
        "document": doc_access.document,
        "suggestions": found,
        "may_suggest": suggest,
        "may_decide": decide,
        "tracked_changes": tracked,
        "suggest_paragraphs": paragraphs,
        "suggestion_kinds": Kind.choices,
        # The Word round trip: the latest version with the suggestions as tracked changes.
        "tracked_version": (
            latest.number
            if latest is not None and may_download(doc_access) and version_format(latest) == "docx"
            else None
        ),
    }


def _section_html(page: hooks.DocumentPage, csrf_token: str) -> str:
    return render_to_string(
        "suggestions/_section.html", {**_section_context(page), "csrf_token": csrf_token}
    )


def preview_redlines(shown: previews.PreviewShown) -> Mapping[str, str]:
    """After each block of the shown version holding open suggestions: their change as a
    redline (struck and inserted words), linking to each suggestion."""
    found: dict[str, str] = {}
    blocks: dict[Any, Any] = {}  # each version's preview read once, however many suggestions
    for suggestion in document_suggestions(doc_access=shown.doc_access, state=State.OPEN):
        if suggestion.applies_to_id != shown.version.pk:
            continue
        block = suggestion_block(
            doc_access=shown.doc_access, suggestion=suggestion, version=shown.version, blocks=blocks
        )
        if block is None:
            continue
        html = render_to_string("suggestions/_redline.html", {"s": suggestion})
        found[block] = found.get(block, "") + html
    return found


def thread_parts(doc_access: DocumentAccess, threads: Sequence[Comment]) -> Mapping[uuid.UUID, str]:
    """At the top of each suggestion's thread in the Comments list: its change (struck and
    inserted words, as the Suggestions section shows them) and its state in words (open,
    accepted in version N, rejected with the reason, outdated)."""
    found = thread_suggestions(doc_access=doc_access, thread_ids=[t.pk for t in threads])
    return {
        thread_id: render_to_string("suggestions/_thread_part.html", {"s": suggestion})
        for thread_id, suggestion in found.items()
    }


def connect() -> None:
    hooks.subscribe(hooks.VersionAdded, on_version_added)
    comments.subscribe(comments.CommentAdded, on_comment_added)
    hooks.add_page_part(document_page)
    previews.add_block_marks(preview_redlines)
    comments.add_thread_parts(thread_parts)
    comments.add_threads_followed_elsewhere(suggestion_threads)
