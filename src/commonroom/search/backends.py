"""The two search engines behind one interface: SQLite FTS5 and PostgreSQL full-text search.

``backend()`` picks the functions of the database in use (``connection.vendor``). Both take the
same :class:`Filters` (the searcher's id is always one of them: the restriction to their
workspaces is part of the engine's query, never applied to a page of results afterwards) and the
same query words, and answer the same things: a page of ranked entry ids with the capped count
(one statement), and for those ids the title and snippet with highlight sentinels around the
matched words. The ranking scores a bounded set of candidates, never every match (see "What both
engines run" below, and docs/decisions/0031-search-ranks-candidates.md).

Words are cut the same way on both (letters and digits: ``words()``), each matched as a prefix,
all of them required; no stemming on either. PostgreSQL uses the ``simple`` configuration, not
``english``: it then matches exactly what FTS5's unicode61 tokeniser matches (the same tests pass
on both), typing part of a word finds it (the english stemmer turns "discharges" into "discharg"
and some prefixes then miss), and names, drug names and codes are never stemmed or dropped as
stop words. Because PostgreSQL's parser reads "ward_rota-2024.xlsx" as one token, the vector is
built from the words as ``words()`` cuts them, and its snippets are made here in Python the same
way (``ts_headline`` would parse the raw text again); SQLite's come from ``snippet()``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Field

from commonroom.search.models import SearchEntry
from commonroom.workspaces.selectors import member_workspace_ids

MAX_WORDS = 10
MAX_WORD_LENGTH = 64
COUNT_CAP = 1000  # "more than 1,000 results" is as precise as anyone needs
TITLE_WEIGHT = 10.0  # bm25: a word in the title counts ten times one in the body

# Around matched words, in place of the engine's markers; swapped for <mark> after escaping.
# Private-use characters: core.text.plain_text removes them from everything people type, and
# ``clean_body`` from everything indexed, so they can only come from the engine.
MARK_START = "\ue000"
MARK_END = "\ue001"
ELLIPSIS = "\u2026"

_WORD = re.compile(r"[^\W_]+")
_UNSAFE = str.maketrans({"\x00": " ", MARK_START: " ", MARK_END: " "})


class _Folds(dict[int, str]):
    """``str.translate``'s table for :func:`fold`: each character's fold, made on first use
    (and kept for the first ``_FOLDS_KEPT`` characters met, so no text can make it grow
    without bound)."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        base = base.lower()
        folded = base if len(base) == 1 else (ch.lower()[:1] or ch)
        if len(self) < _FOLDS_KEPT:
            self[code] = folded
        return folded


_FOLDS_KEPT = 20_000


_FOLDS = _Folds()


def fold(text: str) -> str:
    """Lower case without diacritics, character for character (same length as ``text``). One
    ``str.translate`` (each distinct character folded once): a document's 200,000 characters
    are folded when it is indexed, and again for its snippet on PostgreSQL."""
    return text.translate(_FOLDS)


def words(text: str) -> list[str]:
    """The words of a query: runs of letters and digits, folded; at most ``MAX_WORDS``. Quotes,
    operators, brackets, stars and control characters are separators, so nothing typed is ever
    read as the engine's syntax."""
    found: list[str] = []
    for w in _WORD.findall(fold(text[:2000])):
        w = w[:MAX_WORD_LENGTH]
        if w not in found:
            found.append(w)
        if len(found) == MAX_WORDS:
            break
    return found


def clean_body(text: str) -> str:
    return text.translate(_UNSAFE)


def index_text(text: str) -> str:
    """The words of ``text`` as PostgreSQL indexes them (FTS5 cuts the same words itself)."""
    return " ".join(_WORD.findall(fold(text)))


@dataclass(frozen=True)
class Filters:
    user_id: Any
    workspace_id: Any = None
    kinds: Sequence[str] = ()
    author_id: Any = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass
class Snippets:
    title: str = ""
    body: str = ""


@dataclass(frozen=True)
class Page:
    ids: list[int]  # the entries shown, best first
    total: int  # the matches the searcher may read, counted up to COUNT_CAP + 1


@dataclass(frozen=True)
class Backend:
    page: Callable[[list[str], Filters, int, int], Page]
    snippets: Callable[[list[str], list[int]], dict[int, Snippets]]
    raw_sql: Callable[[list[str], Filters, int, int], tuple[str, list[Any]]] = field(repr=False)


def _prep(field_name: str, value: Any) -> Any:
    """``value`` as the database stores it (a UUID is 32 hex digits on SQLite)."""
    model_field = SearchEntry._meta.get_field(field_name)
    if not isinstance(model_field, Field):  # pragma: no cover - only fields are named here
        raise TypeError(field_name)
    return model_field.get_db_prep_value(value, connection)


def _where(filters: Filters) -> tuple[str, list[Any]]:
    """The conditions on ``e`` (the entries): the searcher's workspaces first, always."""
    # Their ids as the workspaces app reads them, compiled by Django into SQL and parameters.
    members, member_params = (
        member_workspace_ids(user=filters.user_id)
        .query.get_compiler(connection=connection)
        .as_sql()
    )
    # Table names and markers are this module's constants; every value is a parameter.
    sql = [f"e.workspace_id IN ({members})"]
    params: list[Any] = [*member_params]
    if filters.workspace_id is not None:
        sql.append("e.workspace_id = %s")
        params.append(_prep("workspace", filters.workspace_id))
    if filters.kinds:
        sql.append(f"e.kind IN ({', '.join(['%s'] * len(filters.kinds))})")
        params.extend(filters.kinds)
    if filters.author_id is not None:
        sql.append("e.author_id = %s")
        params.append(_prep("author", filters.author_id))
    if filters.since is not None:
        sql.append("e.updated_at >= %s")
        params.append(_prep("updated_at", filters.since))
    if filters.until is not None:
        sql.append("e.updated_at < %s")
        params.append(_prep("updated_at", filters.until))
    return " AND ".join(sql), params


def _fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


# --- What both engines run ---------------------------------------------------------------------
#
# Ranking every match is what made a common word slow: a word in most of 50,000 documents had
# each of them scored and sorted for a page of 20. The engine now ranks a bounded set of
# candidates, chosen through its index without scoring anything:
#
#   found      the newest CANDIDATES matches the searcher may read (newest by entry id, the order
#              the engine's index keeps); their number is also the capped count;
#   titled     the newest CANDIDATES of those whose title holds every word (a document looked
#              for by its name is found however old it is and however common its words).
#
# Both are restricted to the searcher's workspaces inside the engine's query. The candidates are
# ranked as before (bm25 on SQLite, ts_rank on PostgreSQL, then the most recent change), with
# the engine's statistics over the whole index, so they keep the order a full ranking gives
# them. With no more than CANDIDATES matches, ``found`` holds every match and the page is
# exactly what ranking every match gives. Past the candidates, a page continues with the other
# matches newest first (``_tail``), so every match can still be reached.

CANDIDATES = COUNT_CAP + 1


@dataclass(frozen=True)
class _Dialect:
    """The parts of the statements that differ between the engines (table names, markers and
    expressions are this module's constants; every value is a parameter)."""

    found_from: str  # the entries ``e`` matching the words, in the engine's index
    found_id: str  # the entry's id as that index holds it (its order, newest last)
    titled_from: str  # the entries ``e`` whose title holds every word
    titled_id: str
    ranked_from: str  # the candidates, with what scores them
    score: str
    score_order: str  # ASC for bm25 (lower is better), DESC for ts_rank
    match_param: Callable[[list[str]], str]


def _ctes(d: _Dialect, query_words: list[str], filters: Filters) -> tuple[str, list[Any]]:
    where, params = _where(filters)
    match = d.match_param(query_words)
    sql = (
        f"WITH found AS MATERIALIZED (SELECT e.id AS id FROM {d.found_from} "  # noqa: S608
        f"AND {where} ORDER BY {d.found_id} DESC LIMIT {CANDIDATES}), "
        f"titled AS MATERIALIZED (SELECT e.id AS id FROM {d.titled_from} "
        f"AND {where} ORDER BY {d.titled_id} DESC LIMIT {CANDIDATES}), "
        "candidates AS MATERIALIZED (SELECT id FROM found UNION SELECT id FROM titled)"
    )
    return sql, [match, *params, match, *params]


def _ranked(d: _Dialect, query_words: list[str], limit: int, offset: int) -> tuple[str, list[Any]]:
    sql = (
        f"SELECT e.id AS id, {d.score} AS score, e.updated_at AS at FROM {d.ranked_from} "  # noqa: S608
        f"ORDER BY score {d.score_order}, at DESC LIMIT %s OFFSET %s"
    )
    return sql, [d.match_param(query_words), limit, offset]


def _raw(
    d: _Dialect, query_words: list[str], filters: Filters, limit: int, offset: int
) -> tuple[str, list[Any]]:
    """The engine's ranked query alone: the page's ids, as the selector's statement finds them."""
    ctes, cte_params = _ctes(d, query_words, filters)
    ranked, ranked_params = _ranked(d, query_words, limit, offset)
    return f"{ctes} {ranked}", [*cte_params, *ranked_params]


def _page(d: _Dialect, query_words: list[str], filters: Filters, limit: int, offset: int) -> Page:
    """The page's ids and the capped count in one statement (the count is the size of
    ``found``), then, for a page reaching past the candidates, the matches after them."""
    ctes, cte_params = _ctes(d, query_words, filters)
    ranked, ranked_params = _ranked(d, query_words, limit, offset)
    sql = (
        f"{ctes}, page AS MATERIALIZED ({ranked}) "  # noqa: S608
        "SELECT page.id, (SELECT COUNT(*) FROM found), (SELECT COUNT(*) FROM candidates), "
        "(SELECT MIN(id) FROM found) FROM (SELECT 1 AS one) AS one LEFT JOIN page ON 1 = 1 "
        f"ORDER BY page.score {d.score_order}, page.at DESC"
    )
    rows = _fetch(sql, [*cte_params, *ranked_params])
    ids = [row[0] for row in rows if row[0] is not None]
    total, ranked_count, oldest_found = rows[0][1], rows[0][2], rows[0][3]
    if total >= CANDIDATES and len(ids) < limit and offset + limit > ranked_count:
        ids += _tail(
            d, query_words, filters, oldest_found, limit - len(ids), max(0, offset - ranked_count)
        )
    return Page(ids, int(total))


def _tail(
    d: _Dialect, query_words: list[str], filters: Filters, before: int, limit: int, offset: int
) -> list[int]:
    """The matches after the candidates, newest first: older than every one ``found`` holds,
    and not among ``titled`` (already ranked)."""
    where, params = _where(filters)
    ctes, cte_params = _ctes(d, query_words, filters)
    sql = (
        f"{ctes} SELECT e.id FROM {d.found_from} AND {where} AND {d.found_id} < %s "  # noqa: S608
        f"AND e.id NOT IN (SELECT id FROM titled) ORDER BY {d.found_id} DESC LIMIT %s OFFSET %s"
    )
    params = [*cte_params, d.match_param(query_words), *params, before, limit, offset]
    return [row[0] for row in _fetch(sql, params)]


# --- SQLite FTS5 -------------------------------------------------------------------------------

ENTRIES = SearchEntry._meta.db_table


def fts5_query(query_words: list[str]) -> str:
    """Every word as a quoted prefix (``"discharg"*``): FTS5's operators (AND, OR, NOT, NEAR,
    column filters) cannot appear, as each word is letters and digits only."""
    return " ".join(f'"{w}"*' for w in query_words)


# ``search_title_fts`` indexes the titles alone, so the newest title matches are found without
# reading where each word of a long body falls. Ordered by the index's rowid, FTS5 gives its
# matches newest first and stops at the limit. ``+search_fts.rowid``: the candidates are picked
# out as the engine's matches go by, before any row of the entries is read, never looked up one
# by one (each lookup would make bm25 gather its statistics over the whole index again).
SQLITE_DIALECT = _Dialect(
    found_from=(
        f"search_fts JOIN {ENTRIES} e ON e.id = search_fts.rowid WHERE search_fts MATCH %s"
    ),
    titled_from=(
        f"search_title_fts JOIN {ENTRIES} e ON e.id = search_title_fts.rowid "
        "WHERE search_title_fts MATCH %s"
    ),
    found_id="search_fts.rowid",
    titled_id="search_title_fts.rowid",
    ranked_from=(
        f"search_fts JOIN {ENTRIES} e ON e.id = search_fts.rowid WHERE search_fts MATCH %s "  # noqa: S608
        "AND search_fts.rowid >= (SELECT MIN(id) FROM candidates) "
        "AND +search_fts.rowid IN (SELECT id FROM candidates)"
    ),
    score=f"bm25(search_fts, {TITLE_WEIGHT}, 1.0)",
    score_order="ASC",
    match_param=fts5_query,
)


def _sqlite_page(query_words: list[str], filters: Filters, limit: int, offset: int) -> Page:
    return _page(SQLITE_DIALECT, query_words, filters, limit, offset)


def _sqlite_raw(
    query_words: list[str], filters: Filters, limit: int, offset: int
) -> tuple[str, list[Any]]:
    return _raw(SQLITE_DIALECT, query_words, filters, limit, offset)


def _sqlite_snippets(query_words: list[str], ids: list[int]) -> dict[int, Snippets]:
    if not ids:
        return {}
    marks = [MARK_START, MARK_END]
    # The rows picked out of one pass over the matches between the first and the last of them
    # (``+rowid``): looked up one by one, each would have FTS5 gather the words' matches again
    # (all the words a prefix starts, merged).
    sql = (
        "SELECT rowid, highlight(search_fts, 0, %s, %s), "  # noqa: S608
        f"snippet(search_fts, 1, %s, %s, '{ELLIPSIS}', 24) "
        "FROM search_fts WHERE search_fts MATCH %s AND rowid BETWEEN %s AND %s "
        f"AND +rowid IN ({', '.join(['%s'] * len(ids))})"
    )
    rows = _fetch(sql, [*marks, *marks, fts5_query(query_words), min(ids), max(ids), *ids])
    return {row[0]: Snippets(title=row[1] or "", body=row[2] or "") for row in rows}


# --- PostgreSQL --------------------------------------------------------------------------------


def tsquery(query_words: list[str]) -> str:
    """``word:*`` for each word, all required. Words are letters and digits only."""
    return " & ".join(f"{w}:*" for w in query_words)


# ``ts_filter(e.vector, '{a}')``: the title's words (weight A), the expression of the GIN index
# ``search_entry_title_vector``.
POSTGRES_DIALECT = _Dialect(
    found_from=f"{ENTRIES} e WHERE e.vector @@ to_tsquery('simple', %s)",
    titled_from=f"{ENTRIES} e WHERE ts_filter(e.vector, '{{a}}') @@ to_tsquery('simple', %s)",
    found_id="e.id",
    titled_id="e.id",
    ranked_from=(
        f"{ENTRIES} e, to_tsquery('simple', %s) q WHERE e.id IN (SELECT id FROM candidates)"  # noqa: S608
    ),
    score="ts_rank(e.vector, q)",
    score_order="DESC",
    match_param=tsquery,
)


def _pg_page(query_words: list[str], filters: Filters, limit: int, offset: int) -> Page:
    return _page(POSTGRES_DIALECT, query_words, filters, limit, offset)


def _pg_raw(
    query_words: list[str], filters: Filters, limit: int, offset: int
) -> tuple[str, list[Any]]:
    return _raw(POSTGRES_DIALECT, query_words, filters, limit, offset)


def _pg_snippets(query_words: list[str], ids: list[int]) -> dict[int, Snippets]:
    rows = SearchEntry.objects.filter(pk__in=ids).values_list("pk", "title", "body")
    return {
        pk: Snippets(title=mark_words(title, query_words), body=snippet(body, query_words))
        for pk, title, body in rows
    }


# --- Highlighting in Python (PostgreSQL's snippets) --------------------------------------------


def _matches(text: str, query_words: list[str]) -> list[tuple[int, int]]:
    """Spans of the words of ``text`` that start with one of ``query_words``."""
    if not query_words:
        return []
    # A word (a run of letters and digits, as _WORD cuts them) that starts with one of them.
    starts = "|".join(re.escape(w) for w in query_words)
    found = re.compile(rf"(?<![^\W_])(?:{starts})[^\W_]*")
    return [m.span() for m in found.finditer(fold(text))]


def _marked(text: str, spans: list[tuple[int, int]], start: int, end: int) -> str:
    out, at = [], start
    for a, b in spans:
        if a < start or b > end:
            continue
        out += [text[at:a], MARK_START, text[a:b], MARK_END]
        at = b
    out.append(text[at:end])
    return "".join(out)


def mark_words(text: str, query_words: list[str]) -> str:
    return _marked(text, _matches(text, query_words), 0, len(text))


def snippet(text: str, query_words: list[str], *, width: int = 200) -> str:
    """About ``width`` characters of ``text`` around its first match, matches marked, cut at
    word boundaries, with an ellipsis where text was left out."""
    if not text:
        return ""
    spans = _matches(text, query_words)
    if not spans:
        return ""
    first = spans[0][0]
    start = max(0, first - width // 3)
    end = min(len(text), start + width)
    if start > 0:
        space = text.find(" ", start, first)
        start = space + 1 if space != -1 else start
    if end < len(text):
        space = text.rfind(" ", spans[0][1], end)
        end = space if space != -1 else end
    body = _marked(text, spans, start, end).strip()
    return (ELLIPSIS if start > 0 else "") + body + (ELLIPSIS if end < len(text) else "")


SQLITE = Backend(_sqlite_page, _sqlite_snippets, _sqlite_raw)
POSTGRES = Backend(_pg_page, _pg_snippets, _pg_raw)


def backend() -> Backend:
    return POSTGRES if connection.vendor == "postgresql" else SQLITE
