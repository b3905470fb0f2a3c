"""``core.fragments``: the one CSRF field every drawn form writes, as Django's own tag does;
a page drawn with its kept fragments put into its bytes (``render_page``) as ``render`` draws it."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.shortcuts import render
from django.template import Context, Template
from django.test import RequestFactory, override_settings

from commonroom.core import fragments
from commonroom.core.fragments import (
    _MARK,
    CSRF_HOLE,
    Fragment,
    cache_key,
    csrf_field,
    nobody,
    render_page,
)


@pytest.mark.parametrize("token", ["abc123", 'a"<b>', "", None])
def test_the_csrf_field_is_what_the_template_tag_writes(token: str | None) -> None:
    drawn = Template("{% csrf_token %}").render(Context({"csrf_token": token}))
    assert str(csrf_field(token)) == drawn


def test_the_hole_is_written_as_a_token_is() -> None:
    drawn = Template("{% csrf_token %}").render(Context({"csrf_token": CSRF_HOLE}))
    assert str(csrf_field(CSRF_HOLE)) == drawn


def test_no_field_for_a_request_without_a_token() -> None:
    """Django's context value when a request has no token: its tag writes nothing."""
    assert str(csrf_field("NOTPROVIDED")) == ""


# A page drawn by ``render_page``: the same bytes as ``django.shortcuts.render``'s.

_PAGE = (
    "{% load fragments %}<title>Plan \u2013 “Q3”</title>{% csrf_token %}"
    "<main>{% fragment first %}</main>{% for _ in twice %}<p>{% fragment second %}</p>{% endfor %}"
    "{% fragment none %}<footer>…</footer>"
)


def _fragment(name: str, html: str, built: list[str]) -> Fragment:
    def build(token: str) -> str:
        built.append(name)
        return html.replace("TOKEN", str(csrf_field(token)))

    return Fragment(name=f"test.{name}", key=(secrets.token_hex(8),), build=build, people=nobody)


def _context(built: list[str]) -> dict[str, Any]:
    return {
        "first": _fragment("first", "<form>TOKEN «un» TOKEN</form><em>€</em>", built),
        "second": _fragment("second", "<i>plain</i>TOKEN", built),
        "none": None,
        "twice": [1, 2],
    }


@pytest.fixture
def page_template(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "page.html").write_text(_PAGE, encoding="utf-8")
    with override_settings(
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [str(tmp_path)],
            }
        ]
    ):
        yield "page.html"


@pytest.mark.parametrize("token", ['tok"<&>en', "", None])
def test_a_page_drawn_with_its_fragments_put_in_is_the_page_render_draws(
    page_template: str, token: str | None
) -> None:
    built: list[str] = []
    context = {**_context(built), "csrf_token": token}
    for _ in range(2):  # built (by render_page, the cache cold), then kept
        request = RequestFactory().get("/")
        drawn = render_page(request, page_template, context)
        expected = render(request, page_template, context).content
        assert drawn.content == expected
        assert drawn["Content-Type"] == "text/html; charset=utf-8"
        assert _MARK.encode() not in drawn.content
        assert CSRF_HOLE.encode() not in drawn.content
    assert built == ["first", "second"]  # each built once: the rest came from the cache
    fields = expected.count(b'name="csrfmiddlewaretoken"')
    assert fields == (5 if token == 'tok"<&>en' else 0)  # the page's own, 2 + 2 kept


def test_a_fragment_built_while_a_page_is_drawn_is_kept_without_marks(
    page_template: str,
) -> None:
    """A kept thing built in the middle of a page (an outer fragment's build drawing an inner
    fragment) holds the inner one's HTML: a mark means nothing to another request."""
    built: list[str] = []
    inner = _fragment("inner", "<b>ü</b>TOKEN", built)
    outer = Fragment(
        name="test.outer",
        key=(secrets.token_hex(8),),
        build=lambda token: "<div>" + inner.html(token) + "</div>",
        people=nobody,
    )
    request = RequestFactory().get("/")
    render_page(request, page_template, {**_context(built), "first": outer, "csrf_token": "t"})
    kept_outer = CSRF_HOLE.encode().join(outer.pieces())
    assert _MARK.encode() not in kept_outer
    assert kept_outer == f"<div><b>ü</b>{csrf_field(CSRF_HOLE)}</div>".encode()


def test_nothing_is_marked_outside_a_page_drawn_by_render_page() -> None:
    built: list[str] = []
    fragment = _fragment("alone", "<p>ß</p>TOKEN", built)
    assert (
        str(fragment.html("tok"))
        == '<p>ß</p><input type="hidden" name="csrfmiddlewaretoken" value="tok">'
    )
    assert str(fragment.html(None)) == str(fragment.html("NOTPROVIDED")) == "<p>ß</p>"


def test_the_template_draws_marks_where_the_kept_bytes_go(
    page_template: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What makes it cheaper: the template's text carries a mark, not the fragment's HTML."""
    seen: list[str] = []
    put_in = fragments.assembled

    def assembled(text: str, held: Any) -> bytes:
        seen.append(text)
        return put_in(text, held)

    monkeypatch.setattr(fragments, "assembled", assembled)
    render_page(RequestFactory().get("/"), page_template, {**_context([]), "csrf_token": "t"})
    assert seen[0].count(_MARK) == 3
    assert "«un»" not in seen[0]


def test_a_key_digest_names_the_key_value_and_its_types() -> None:
    when = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)
    made = [("reader", 1, when, uuid.UUID(int=5), None, ("Ann", "ann@example.org"))] * 2
    again = [("reader", 1, when, uuid.UUID(int=5), None, ("Ann", "ann@example.org"))] * 2
    assert cache_key("f", (made,)) == cache_key("f", (again,))
    for other in (
        [("reader", True, when, uuid.UUID(int=5), None, ("Ann", "ann@example.org"))] * 2,
        [("reader", 1, when, uuid.UUID(int=6), None, ("Ann", "ann@example.org"))] * 2,
        [("reader", 1, when, uuid.UUID(int=5), None, ("Anne", "ann@example.org"))] * 2,
        [("reader", 1, when.replace(second=1), uuid.UUID(int=5), None, ("Ann", "a"))] * 2,
    ):
        assert cache_key("f", (other,)) != cache_key("f", (made,))
    assert cache_key("g", (made,)) != cache_key("f", (made,))
