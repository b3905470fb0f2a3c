"""core.pagination on its own: a cursor gives back exactly the values it was made from, only to
the list that made it, and a page starts right after them in either direction."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.test import RequestFactory

from commonroom.core.exceptions import ApplicationError
from commonroom.core.pagination import Keyset, PageIn, page_for

VALUES = (
    datetime(2026, 12, 5, 4, 30, 1, 250, tzinfo=UTC),
    date(2027, 1, 31),
    uuid.UUID("0e10baea-761b-48b1-a735-2c0ebda17a96"),
    "Board minutes.docx",
    42,
    True,
)
FIELDS = ("-at", "due", "-id", "name", "n", "flag")


class Row:
    def __init__(self, values: tuple[Any, ...]) -> None:
        for field, value in zip(FIELDS, values, strict=True):
            setattr(self, field.lstrip("-"), value)


def name_of(row: Any) -> Any:
    return row.name


def cursor_for(keyset: Keyset, scope: str, values: tuple[Any, ...]) -> str:
    """The cursor a page of one row (``values``) and more gives out."""
    page = page_for(PageIn(limit=1), keyset=keyset, scope=scope)
    request = RequestFactory().get("/api/v1/x", {"state": "open"})
    answer = page.answer(request, [Row(values), Row(values)], name_of)
    assert answer["items"] == [values[3]]
    assert answer["next"].startswith("/api/v1/x?state=open&")
    return str(answer["next"].split("cursor=")[1].split("&")[0])


def test_a_cursor_gives_back_each_value_with_its_type():
    from urllib.parse import unquote

    keyset = Keyset(FIELDS)
    cursor = unquote(cursor_for(keyset, "test:a", VALUES))

    page = page_for(PageIn(cursor=cursor), keyset=keyset, scope="test:a")

    assert page.after == VALUES
    assert [type(v) for v in page.after] == [type(v) for v in VALUES]


def test_a_cursor_is_refused_by_any_other_scope():
    from urllib.parse import unquote

    keyset = Keyset(FIELDS)
    cursor = unquote(cursor_for(keyset, "test:a", VALUES))

    with pytest.raises(ApplicationError) as refused:
        page_for(PageIn(cursor=cursor), keyset=keyset, scope="test:b")

    assert (refused.value.code, refused.value.status) == ("bad_cursor", 400)


def test_a_page_starts_after_the_cursor_in_each_fields_direction():
    q = Keyset(("-at", "name", "pk")).after_q(["T", "N", 7])

    # at <= T, and: at < T, or at = T and name > N, or at = T, name = N and pk > 7.
    assert str(q) == (
        "(AND: ('at__lte', 'T'), (OR: ('at__lt', 'T'), (AND: ('at', 'T'), ('name__gt', 'N')), "
        "(AND: ('at', 'T'), ('name', 'N'), ('pk__gt', 7))))"
    )


@pytest.mark.parametrize("limit", [0, -5, 201])
def test_a_limit_outside_1_to_200_is_refused(limit):
    with pytest.raises(ApplicationError) as refused:
        page_for(PageIn(limit=limit), keyset=Keyset(("pk",)), scope="test")

    assert refused.value.code == "bad_limit"


def test_a_page_is_written_exactly_as_the_apis_own_encoder_writes_it():
    import json
    from datetime import timedelta, timezone

    from ninja.renderers import JSONRenderer

    from commonroom.core.pagination import PageEncoder

    page = {
        "items": [
            {
                "at": datetime(2026, 12, 5, 4, 30, 1, 250, tzinfo=UTC),
                "whole_second": datetime(2026, 12, 5, 4, 30, 1, tzinfo=UTC),
                "elsewhere": datetime(
                    2026, 7, 1, 9, 0, 0, 999999, tzinfo=timezone(timedelta(hours=1))
                ),
                "naive": datetime(2026, 1, 2, 3, 4, 5, 6),  # noqa: DTZ001 (written as it is)
                "due": date(2027, 1, 31),
                "id": uuid.UUID("0e10baea-761b-48b1-a735-2c0ebda17a96"),
                "none": None,
                "nested": {"ids": [uuid.UUID(int=7)], "n": 3, "ok": True, "name": "Ré"},
            }
        ],
        "next": None,
    }

    assert json.dumps(page, cls=PageEncoder) == json.dumps(page, cls=JSONRenderer.encoder_class)


def test_the_page_encoder_is_the_api_renderers_own():
    from ninja.renderers import JSONRenderer

    from commonroom.core.pagination import PageEncoder

    assert issubclass(PageEncoder, JSONRenderer.encoder_class)
