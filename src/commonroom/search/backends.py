"""The two search engines behind one interface: SQLite FTS5 and PostgreSQL full-text search.

``backend()`` picks the functions of the database in use (``connection.vendor``). Both take the
same :class:`Filters` (the searcher's id is always one of them: the restriction to their
workspaces is part of the engine's query, never applied to a page of results afterwards) and the
same query words, and answer the same things: a page of ranked entry ids, a capped count, and
for those ids the title and snippet with highlight sentinels around the matched words.

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
class Backend:
    ranked: Callable[[list[str], Filters, int, int], list[int]]
    count: Callable[[list[str], Filters], int]
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


# --- SQLite FTS5 -------------------------------------------------------------------------------

ENTRIES = SearchEntry._meta.db_table


def fts5_query(query_words: list[str]) -> str:
    """Every word as a quoted prefix (``"discharg"*``): FTS5's operators (AND, OR, NOT, NEAR,
    column filters) cannot appear, as each word is letters and digits only."""
    return " ".join(f'"{w}"*' for w in query_words)


def _sqlite_raw(
    query_words: list[str], filters: Filters, limit: int, offset: int
) -> tuple[str, list[Any]]:
    where, params = _where(filters)
    sql = (
        f"SELECT e.id FROM search_fts JOIN {ENTRIES} e ON e.id = search_fts.rowid "  # noqa: S608
        f"WHERE search_fts MATCH %s AND {where} "
        f"ORDER BY bm25(search_fts, {TITLE_WEIGHT}, 1.0), e.updated_at DESC LIMIT %s OFFSET %s"
    )
    return sql, [fts5_query(query_words), *params, limit, offset]


def _sqlite_ranked(query_words: list[str], filters: Filters, limit: int, offset: int) -> list[int]:
    return [row[0] for row in _fetch(*_sqlite_raw(query_words, filters, limit, offset))]


def _sqlite_count(query_words: list[str], filters: Filters) -> int:
    where, params = _where(filters)
    sql = (
        f"SELECT COUNT(*) FROM (SELECT 1 FROM search_fts JOIN {ENTRIES} e "  # noqa: S608
        f"ON e.id = search_fts.rowid WHERE search_fts MATCH %s AND {where} LIMIT %s)"
    )
    return int(_fetch(sql, [fts5_query(query_words), *params, COUNT_CAP + 1])[0][0])


def _sqlite_snippets(query_words: list[str], ids: list[int]) -> dict[int, Snippets]:
    if not ids:
        return {}
    marks = [MARK_START, MARK_END]
    sql = (
        "SELECT rowid, highlight(search_fts, 0, %s, %s), "  # noqa: S608
        f"snippet(search_fts, 1, %s, %s, '{ELLIPSIS}', 24) "
        f"FROM search_fts WHERE search_fts MATCH %s AND rowid IN ({', '.join(['%s'] * len(ids))})"
    )
    rows = _fetch(sql, [*marks, *marks, fts5_query(query_words), *ids])
    return {row[0]: Snippets(title=row[1] or "", body=row[2] or "") for row in rows}


# --- PostgreSQL --------------------------------------------------------------------------------


def tsquery(query_words: list[str]) -> str:
    """``word:*`` for each word, all required. Words are letters and digits only."""
    return " & ".join(f"{w}:*" for w in query_words)


def _pg_raw(
    query_words: list[str], filters: Filters, limit: int, offset: int
) -> tuple[str, list[Any]]:
    where, params = _where(filters)
    sql = (
        f"SELECT e.id FROM {ENTRIES} e, to_tsquery('simple', %s) q "  # noqa: S608
        f"WHERE e.vector @@ q AND {where} "
        "ORDER BY ts_rank(e.vector, q) DESC, e.updated_at DESC LIMIT %s OFFSET %s"
    )
    return sql, [tsquery(query_words), *params, limit, offset]


def _pg_ranked(query_words: list[str], filters: Filters, limit: int, offset: int) -> list[int]:
    return [row[0] for row in _fetch(*_pg_raw(query_words, filters, limit, offset))]


def _pg_count(query_words: list[str], filters: Filters) -> int:
    where, params = _where(filters)
    sql = (
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {ENTRIES} e, to_tsquery('simple', %s) q "  # noqa: S608
        f"WHERE e.vector @@ q AND {where} LIMIT %s) AS found"
    )
    return int(_fetch(sql, [tsquery(query_words), *params, COUNT_CAP + 1])[0][0])


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


SQLITE = Backend(_sqlite_ranked, _sqlite_count, _sqlite_snippets, _sqlite_raw)
POSTGRES = Backend(_pg_ranked, _pg_count, _pg_snippets, _pg_raw)


def backend() -> Backend:
    return POSTGRES if connection.vendor == "postgresql" else SQLITE
