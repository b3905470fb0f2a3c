"""Search, as the searcher may see it: only the workspaces they are a member of (restricted in
the engine's query), ranked, with highlighted snippets that are safe to show as they are."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from commonroom.accounts.selectors import person_name, users_in_workspaces
from commonroom.core.exceptions import ApplicationError
from commonroom.search.backends import COUNT_CAP, MARK_END, MARK_START, Filters, backend, words
from commonroom.search.models import Kind, SearchEntry
from commonroom.workspaces.selectors import member_workspace_ids, member_workspaces

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from commonroom.accounts.models import User
    from commonroom.workspaces.models import Workspace

MAX_LIMIT = 100
MAX_OFFSET = 10_000

# What the "type" filter offers: a conversation is found by its topic or by its messages.
KIND_FILTERS: dict[str, tuple[str, ...]] = {
    "document": (Kind.DOCUMENT,),
    "comment": (Kind.COMMENT,),
    "conversation": (Kind.CONVERSATION, Kind.MESSAGE),
    "message": (Kind.MESSAGE,),
}
KIND_LABELS = {
    "document": "Documents",
    "comment": "Comments",
    "conversation": "Conversations",
    "message": "Messages only",
}


def highlighted(text: str) -> SafeString:
    """``text`` with every character escaped except the engine's markers, which become
    ``<mark>``: the only markup a result ever carries."""
    escaped = html.escape(text, quote=True)
    return mark_safe(  # noqa: S308 - escaped above; only our own tags are put back
        escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")
    )


@dataclass(frozen=True)
class Hit:
    kind: str
    title: str
    title_html: SafeString
    url: str
    snippet_html: SafeString
    workspace_id: Any
    workspace_name: str
    author_id: Any
    author_name: str
    date: datetime
    object_id: str


@dataclass(frozen=True)
class Results:
    hits: list[Hit]
    total_estimate: int  # capped: more than backends.COUNT_CAP reads as COUNT_CAP + 1; 0 uncounted
    words: list[str]

    @property
    def more_than(self) -> bool:
        return self.total_estimate > COUNT_CAP


_FIRST_MARKED = re.compile(re.escape(MARK_START) + "(.{1,80}?)" + re.escape(MARK_END), re.S)


def _to_text(body_marked: str) -> str:
    """A text fragment (``#:~:text=``) for the first word the engine marked in a document's text,
    so following the hit scrolls to it and highlights it (the browser opens a folded PDF page's
    text to show it); nothing when only the name matched."""
    found = _FIRST_MARKED.search(body_marked or "")
    if not found:
        return ""
    return "#:~:text=" + quote(found.group(1).strip(), safe="").replace("-", "%2D")


class _Shown(NamedTuple):
    """What a hit shows of its entry and the things it names, read in one query."""

    pk: int
    kind: str
    object_id: str
    title: str
    workspace_id: Any
    workspace_name: str
    document_id: Any
    document_name: str | None
    conversation_id: Any
    conversation_title: str | None
    author_id: Any
    author_full_name: str | None
    author_email: str | None
    updated_at: datetime


# The columns of _Shown, in its order: never an entry's body (up to 200 KB, and the snippets
# are already made) nor PostgreSQL's vector.
_SHOWN_COLUMNS = (
    "pk",
    "kind",
    "object_id",
    "title",
    "workspace_id",
    "workspace__name",
    "document_id",
    "document__name",
    "conversation_id",
    "conversation__title",
    "author_id",
    "author__full_name",
    "author__email",
    "updated_at",
)


def _shown(ids: list[int]) -> dict[int, _Shown]:
    """The entries ``ids`` as hits show them, in one query (plain rows: no model objects)."""
    rows = SearchEntry.objects.filter(pk__in=ids).values_list(*_SHOWN_COLUMNS)
    return {row[0]: _Shown(*row) for row in rows}


def _hit(entry: _Shown, title_marked: str, body_marked: str) -> Hit:
    ws = entry.workspace_id
    if entry.kind == Kind.DOCUMENT:
        title_html = highlighted(title_marked or entry.title)
        title = entry.title
        url = reverse("document_detail", args=[ws, entry.document_id]) + _to_text(body_marked)
    elif entry.kind == Kind.COMMENT:
        title = f"Comment on {entry.document_name or ''}"
        title_html = highlighted(title)
        url = (
            reverse("document_detail", args=[ws, entry.document_id]) + f"#comment-{entry.object_id}"
        )
    elif entry.kind == Kind.CONVERSATION:
        title = entry.title
        title_html = highlighted(title_marked or entry.title)
        url = reverse("conversation_detail", args=[ws, entry.conversation_id])
    else:
        title = f"Message in {entry.conversation_title or ''}"
        title_html = highlighted(title)
        url = (
            reverse("conversation_detail", args=[ws, entry.conversation_id])
            + f"#message-{entry.object_id}"
        )
    author_name = person_name(entry.author_full_name, entry.author_email) if entry.author_id else ""
    return Hit(
        kind=entry.kind,
        title=title,
        title_html=title_html,
        url=url,
        snippet_html=highlighted(body_marked),
        workspace_id=ws,
        workspace_name=entry.workspace_name,
        author_id=entry.author_id,
        author_name=author_name,
        date=entry.updated_at,
        object_id=entry.object_id,
    )


def search(
    *,
    user: User | AnonymousUser,
    q: str,
    workspace: Any = None,
    kind: str | None = None,
    person: Any = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20,
    offset: int = 0,
    counted: bool = True,
) -> Results:
    """What ``user`` may read that matches every word of ``q`` (each as the start of a word),
    best first. ``workspace`` and ``person`` are ids (a workspace they are not a member of finds
    nothing); ``kind`` is a key of ``KIND_FILTERS``; ``since``/``until`` bound the date of the
    thing (a document's last change, a comment's or message's last edit). ``counted=False``
    skips the count (``total_estimate`` is then 0): the header's quick results show none."""
    query_words = words(q or "")
    if not query_words or user is None or not user.is_authenticated:
        return Results([], 0, query_words)
    filters = Filters(
        user_id=user.pk,
        workspace_id=workspace,
        kinds=KIND_FILTERS.get(kind or "", ()),
        author_id=person,
        since=since,
        until=until,
    )
    engine = backend()
    limit = max(1, min(int(limit), MAX_LIMIT))
    offset = max(0, min(int(offset), MAX_OFFSET))
    # The page and the count come from one statement: the count is the candidates' search.
    page = engine.page(query_words, filters, limit, offset)
    ids = page.ids
    total = page.total if counted and (ids or offset) else 0
    marked = engine.snippets(query_words, ids)
    entries = _shown(ids) if ids else {}
    hits = [
        _hit(
            entries[pk],
            marked[pk].title if pk in marked else "",
            marked[pk].body if pk in marked else "",
        )
        for pk in ids
        if pk in entries
    ]
    return Results(hits, total, query_words)


def searchable_workspaces(user: User) -> list[Workspace]:
    return member_workspaces(user=user)


def searchable_people(user: User) -> list[User]:
    """The members of the searcher's workspaces (for the person filter)."""
    return users_in_workspaces(member_workspace_ids(user=user))


@dataclass(frozen=True)
class Params:
    """A search as asked by a page or the API, checked."""

    q: str = ""
    workspace: Any = None
    kind: str | None = None
    person: Any = None
    since: date | None = None
    until: date | None = None

    def as_kwargs(self) -> dict[str, Any]:
        """For :func:`search`: the dates as the start of ``since`` and the end of ``until``."""
        tz = timezone.get_current_timezone()
        return {
            "q": self.q,
            "workspace": self.workspace,
            "kind": self.kind,
            "person": self.person,
            "since": datetime.combine(self.since, time.min, tz) if self.since else None,
            "until": (
                datetime.combine(self.until + timedelta(days=1), time.min, tz)
                if self.until
                else None
            ),
        }


def _bad(message: str) -> ApplicationError:
    return ApplicationError(message, code="invalid_search")


def parse_params(values: Mapping[str, Any]) -> Params:
    """Read the search box and its filters; a malformed filter is a clear 400, never ignored."""
    q = str(values.get("q") or "")[:2000]
    workspace = values.get("workspace") or None
    if workspace is not None:
        try:
            workspace = uuid.UUID(str(workspace))
        except ValueError:
            raise _bad("Choose a workspace from the list.") from None
    kind = values.get("kind") or None
    if kind is not None and kind not in KIND_FILTERS:
        raise _bad(f"The type must be one of: {', '.join(KIND_FILTERS)}.")
    person = values.get("person") or None
    if person is not None:
        try:
            person = int(str(person))
        except ValueError:
            raise _bad("Choose a person from the list.") from None
    dates: dict[str, date | None] = {}
    for name in ("since", "until"):
        raw = values.get(name) or None
        try:
            dates[name] = date.fromisoformat(str(raw)) if raw else None
        except ValueError:
            raise _bad(
                f"Enter the {'from' if name == 'since' else 'to'} date as YYYY-MM-DD."
            ) from None
    return Params(q, workspace, kind, person, dates["since"], dates["until"])
