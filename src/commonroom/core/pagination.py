"""Keyset pagination for the API's lists: one way to ask for a page, one way to answer it.

A list is read in a fixed order over fields that together name each row once (``Keyset``: for
example the name, then the id). A page is at most ``limit`` rows; its answer is
``{"items": [...], "next": <URL of the next page> | null}``. The next page starts after the last
row sent, found by its values, not by an offset: so a row added or removed between two pages
moves no other row into or out of the pages still to come.

Invariants:
- the cursor is the last row's ordering values signed with the installation's secret key and a
  salt naming the list and its scope (the workspace, the document, the person): a cursor that
  was garbled, forged, or given out by another list or for another workspace is refused with 400
  ``bad_cursor`` and a sentence, never read;
- a limit outside 1 to ``MAX_LIMIT`` is refused with 400 ``bad_limit``, as a message page's is;
- every row is still read through its app's selector, which checks the person's access as it
  did before: a page is a window over what the person may see, never a way round it;
- the number of queries a page takes does not depend on how many rows the list has;
- a page answered by :meth:`Page.respond` is written as JSON straight from the dicts its list
  builds, without the per-item validation of the operation's response schema: each list's
  dicts hold exactly the schema's fields with the types it declares, so the bytes are those the
  validation would have produced (``tests/api/test_api_page_output.py`` holds every list to that,
  and the OpenAPI schema is unchanged: the operation still declares it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import reduce
from operator import or_
from typing import Any, Protocol, TypeVar

from django.core import signing
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from ninja import Schema
from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder
from pydantic import Field, create_model

from commonroom.core.exceptions import ApplicationError

DEFAULT_LIMIT = 100
MAX_LIMIT = 200
SALT = "commonroom.api.page"

R = TypeVar("R")


class PageIn(Schema):
    """The two query parameters every list takes."""

    limit: int = Field(
        default=DEFAULT_LIMIT,
        description=(
            f"How many items to send, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}); any other "
            "number is refused with 400 `bad_limit`."
        ),
    )
    cursor: str | None = Field(
        default=None,
        max_length=1000,
        description=(
            "Where the page starts: leave it out for the first page, then follow `next`, which "
            "carries it. Opaque: a cursor that was changed, or given out by another list, is "
            "refused with 400 `bad_cursor`."
        ),
    )


def limit_check(limit: int) -> None:
    """A page's ``limit``, 1 to ``MAX_LIMIT``, or 400 ``bad_limit`` with a sentence: the same
    rule for every list, a conversation's message page included."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ApplicationError(f"The limit must be between 1 and {MAX_LIMIT}.", code="bad_limit")


def page_schema(item: type[Schema], name: str, **extra: Any) -> type[Schema]:
    """The envelope of a list of ``item``: ``items`` and ``next``, and any ``extra`` fields
    (given as pydantic field definitions) the list already had."""
    fields: dict[str, Any] = {
        **extra,
        "items": (list[item], Field(description="This page's items, in the list's order.")),  # type: ignore[valid-type]
        "next": (
            str | None,
            Field(
                description=(
                    "The next page's address (root-relative, with its `cursor` and `limit`); "
                    "null on the last page."
                )
            ),
        ),
    }
    model: type[Schema] = create_model(name, __base__=Schema, **fields)
    model.__doc__ = f"A page of a list (see `limit` and `cursor`). {item.__doc__ or ''}".strip()
    return model


@dataclass(frozen=True)
class Keyset:
    """A list's order: field names as ``order_by`` takes them (``-`` for descending), the last
    of them unique (usually ``pk``), and none of them ever null."""

    fields: tuple[str, ...]

    def values_of(self, row: Any) -> tuple[Any, ...]:
        """The ordering values of ``row``: a model instance, or a dict of ``values()`` (which
        names ``pk`` ``id``)."""
        values = []
        for field in self.fields:
            name = field.lstrip("-")
            if isinstance(row, Mapping):
                values.append(row["id" if name == "pk" else name])
                continue
            value = row
            for part in name.split("__"):
                value = getattr(value, part)
            values.append(value)
        return tuple(values)

    def after_q(self, values: Sequence[Any]) -> Q:
        """The rows that come after the row whose ordering values are ``values``: (a > x) or
        (a = x and b > y)..., and, said again on its own, a >= x, so that an index in the list's
        order is entered at the cursor rather than read from its start."""
        branches = []
        for i, field in enumerate(self.fields):
            name = field.lstrip("-")
            equal = {f.lstrip("-"): v for f, v in zip(self.fields[:i], values[:i], strict=True)}
            lookup = "lt" if field.startswith("-") else "gt"
            branches.append(Q(**equal, **{f"{name}__{lookup}": values[i]}))
        first = self.fields[0]
        bound = Q(
            **{f"{first.lstrip('-')}__{'lte' if first.startswith('-') else 'gte'}": values[0]}
        )
        return bound & reduce(or_, branches)


def _encode(value: Any) -> list[str]:
    # Tagged, so that a value comes back as the type it went in as.
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    if isinstance(value, date):
        return ["d", value.isoformat()]
    if isinstance(value, uuid.UUID):
        return ["u", str(value)]
    if isinstance(value, bool):
        return ["b", "1" if value else ""]
    if isinstance(value, int):
        return ["i", str(value)]
    if isinstance(value, str):
        return ["s", value]
    raise TypeError(f"A page cannot start after a {type(value).__name__}.")


_DECODERS: dict[str, Callable[[str], Any]] = {
    "t": datetime.fromisoformat,
    "d": date.fromisoformat,
    "u": uuid.UUID,
    "b": bool,
    "i": int,
    "s": str,
}


def _decode(tagged: Any) -> Any:
    tag, text = tagged
    return _DECODERS[tag](text)


BAD_CURSOR = (
    "This cursor is not one this list gave out (it was changed, or belongs to another list): "
    "start again from the first page."
)


@dataclass(frozen=True)
class Page:
    """One request's page of one list: where it starts and how many rows it may have."""

    keyset: Keyset
    scope: str
    limit: int
    after: tuple[Any, ...] | None

    def window(self, rows: QuerySet[Any, R]) -> list[R]:
        """This page's rows of ``rows`` (a selector's queryset, of model instances or of
        ``values()`` dicts), with one more if there is a next page: ordered by the keyset,
        starting after the cursor, in one query."""
        rows = rows.order_by(*self.keyset.fields)
        if self.after is not None:
            rows = rows.filter(self.keyset.after_q(self.after))
        return list(rows[: self.limit + 1])

    def answer(
        self,
        request: HttpRequest,
        rows: Sequence[R],
        out: Callable[[R], Any],
        **extra: Any,
    ) -> dict[str, Any]:
        """The envelope: ``items`` (the page's ``rows`` as ``out`` shows each, the extra row
        dropped), the next page's address, made from the last row sent, and ``extra``."""
        sent = [out(row) for row in rows[: self.limit]]
        next_url = None
        if len(rows) > self.limit:
            cursor = signing.dumps(
                [_encode(v) for v in self.keyset.values_of(rows[self.limit - 1])],
                salt=f"{SALT}:{self.scope}",
            )
            query: QueryDict = request.GET.copy()
            query["cursor"] = cursor
            query["limit"] = str(self.limit)
            next_url = f"{request.path}?{query.urlencode()}"
        return {**extra, "items": sent, "next": next_url}

    def respond(
        self,
        request: HttpRequest,
        rows: Sequence[R],
        out: Callable[[R], Any],
        **extra: Any,
    ) -> HttpResponse:
        """:meth:`answer`, written as JSON now (:func:`json_response`): for a list whose ``out``
        gives each item's dict exactly as the operation's schema declares it, so that a page of a
        hundred is not validated again field by field (a third of a page's time)."""
        return json_response(self.answer(request, rows, out, **extra))


class Row(Protocol):
    """What a list's item writer reads: a dict of ``values()`` columns, or :class:`AsRow`."""

    def __getitem__(self, column: str, /) -> Any: ...


@dataclass(frozen=True, slots=True)
class AsRow:
    """A model instance read by the names ``values()`` gives its columns (``author__email``
    follows the relation; past a missing one, None, as a left join reads): one item writer
    serves a list's rows and a single object alike."""

    instance: Any

    def __getitem__(self, column: str) -> Any:
        value = self.instance
        for part in column.split("__"):
            if value is None:
                return None
            value = getattr(value, part)
        return value


class PageEncoder(NinjaJSONEncoder):
    """The API's JSON encoder (ninja's ``JSONRenderer.encoder_class``, Django's beneath it),
    with the two types a page holds hundreds of, times and ids, written first, exactly as
    Django's encoder writes them, before the chain of checks for types a page never holds."""

    def default(self, o: Any) -> Any:
        kind = type(o)
        if kind is datetime:
            # As django.core.serializers.json.DjangoJSONEncoder (ECMA-262's format).
            r = o.isoformat()
            if o.microsecond:
                r = r[:23] + r[26:]
            if r.endswith("+00:00"):
                r = r.removesuffix("+00:00") + "Z"
            return r
        if kind is uuid.UUID:
            return str(o)
        return super().default(o)


def json_response(data: Any) -> HttpResponse:
    """``data`` written as the API's JSON renderer writes an answer (ninja's ``JSONRenderer``: its
    encoder, its content type), for an answer whose dicts already hold what its schema says."""
    return HttpResponse(
        json.dumps(data, cls=PageEncoder, **JSONRenderer.json_dumps_params),
        content_type=f"{JSONRenderer.media_type}; charset={JSONRenderer.charset}",
    )


def page_for(params: PageIn, *, keyset: Keyset, scope: str) -> Page:
    """Read a request's ``limit`` and ``cursor`` for the list ``scope`` names (its kind and
    whatever it is a list of: ``documents:<workspace id>:<folder id>``)."""
    limit_check(params.limit)
    after = None
    if params.cursor is not None:
        try:
            tagged = signing.loads(params.cursor, salt=f"{SALT}:{scope}")
            after = tuple(_decode(t) for t in tagged)
        except (signing.BadSignature, ValueError, TypeError, KeyError) as exc:
            raise ApplicationError(BAD_CURSOR, code="bad_cursor") from exc
        if len(after) != len(keyset.fields):
            raise ApplicationError(BAD_CURSOR, code="bad_cursor")
    return Page(keyset=keyset, scope=scope, limit=params.limit, after=after)
