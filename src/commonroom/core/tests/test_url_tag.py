"""``{% url %}`` with its reversals kept (``core/templatetags/urls.py``) writes what Django's
tag writes: names with and without arguments, namespaced, ``as`` a variable, failing, under
another script prefix, URL configuration (the request's or the setting) and language, an
argument that is not plain; and only plain arguments are kept."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.template import Context, Engine, engines
from django.test import RequestFactory, override_settings
from django.urls import NoReverseMatch, set_script_prefix, set_urlconf
from django.utils import translation

from commonroom.core import addresses
from commonroom.core.templatetags.urls import KeptURLNode

WS, DOC = uuid.uuid4(), uuid.uuid4()

TEMPLATES = [
    "{% url 'home' %}",
    "{% url 'workspace_detail' ws %}",
    "{% url 'document_detail' ws doc %}",
    "{% url 'document_detail' workspace_id=ws document_id=doc %}",
    "{% url 'document_detail' ws_text doc_text %}",
    "{% url 'api:reading_record' ws doc 3 %}",
    "{% url 'trash_action' ws 'a&b' doc %}",
    "{% url 'invitation_accept' 'x y?z#<é>' %}",
    "{% url 'home' as there %}[{{ there }}]",
    "{% url 'nowhere' as there %}[{{ there }}]",
    "{% url name ws %}",
    "{% autoescape off %}{% url 'trash_action' ws 'a&b' doc %}{% endautoescape %}",
]


def _context() -> dict[str, Any]:
    return {
        "ws": WS,
        "doc": DOC,
        "ws_text": str(WS),
        "doc_text": str(DOC),
        "name": "workspace_detail",
    }


def _both(source: str) -> tuple[str, str]:
    """The source drawn by the site's engine (this tag) and by a plain one (Django's)."""
    request = RequestFactory().get("/")
    mine = engines["django"].from_string(source).render(_context(), request)
    django = Engine().from_string(source).render(Context(_context()))
    return mine, django


def test_every_template_url_is_this_tag() -> None:
    template = engines["django"].from_string("{% url 'home' %}")
    assert isinstance(template.template.nodelist[0], KeptURLNode)  # type: ignore[attr-defined]


@pytest.mark.parametrize("source", TEMPLATES)
def test_it_writes_what_djangos_tag_writes_drawn_again_too(source: str) -> None:
    first, django = _both(source)
    again, _ = _both(source)
    assert first == again == django
    # Something written, but where nothing reverses ``as`` a variable (nothing set).
    assert first == "[]" if "nowhere" in source else first.strip("[]")


def test_a_name_that_reverses_to_nothing_fails_as_djangos_does_and_is_not_kept() -> None:
    before = addresses._reversed.cache_info().currsize
    with pytest.raises(NoReverseMatch):
        engines["django"].from_string("{% url 'nowhere' %}").render({})
    with pytest.raises(NoReverseMatch):
        Engine().from_string("{% url 'nowhere' %}").render(Context())
    assert addresses._reversed.cache_info().currsize == before


def test_an_argument_that_is_not_plain_is_reversed_each_time() -> None:
    class Named:
        def __init__(self, text: str) -> None:
            self.text = text

        def __str__(self) -> str:
            return self.text

    source = "{% url 'invitation_accept' token %}"
    addresses._reversed.cache_clear()
    token = Named("first")
    mine = engines["django"].from_string(source)
    assert mine.render({"token": token}) == "/invitations/first/"
    token.text = "second"  # the same object, another text: not an address kept for the first
    assert mine.render({"token": token}) == "/invitations/second/"
    assert Engine().from_string(source).render(Context({"token": token})) == "/invitations/second/"
    assert addresses._reversed.cache_info().currsize == 0


def test_another_script_prefix_is_another_address() -> None:
    source = "{% url 'document_detail' ws doc %}"
    plain, _ = _both(source)
    set_script_prefix("/sub/")
    try:
        mine, django = _both(source)
    finally:
        set_script_prefix("/")
    assert mine == django == "/sub" + plain
    assert _both(source) == (plain, plain)


def test_another_url_configuration_is_another_address() -> None:
    assert _both("{% url 'home' %}") == ("/", "/")
    # The request's own (a middleware's request.urlconf, set for the thread).
    set_urlconf("commonroom.core.tests.urls_elsewhere")
    try:
        assert _both("{% url 'home' %}") == ("/elsewhere/", "/elsewhere/")
    finally:
        set_urlconf(None)
    # The setting, changed (in a test): in the key, and the memo emptied.
    with override_settings(ROOT_URLCONF="commonroom.core.tests.urls_elsewhere"):
        assert addresses._reversed.cache_info().currsize == 0
        assert _both("{% url 'home' %}") == ("/elsewhere/", "/elsewhere/")
    assert _both("{% url 'home' %}") == ("/", "/")


def test_the_language_is_in_the_key() -> None:
    with translation.override("fr"):
        mine, django = _both("{% url 'home' %}")
        assert mine == django
        key = addresses._reversed.cache_info()
    assert key.currsize >= 1
    assert _both("{% url 'home' %}") == ("/", "/")
