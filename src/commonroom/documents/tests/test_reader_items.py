"""``{% reader_items %}``: the "Who has read it" lists drawn as their template markup drew them,
each name escaped, a guest marked as such, the time in the installation's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from django.template import Context, Template

from commonroom.accounts.tests.factories import GuestFactory, UserFactory
from commonroom.documents.selectors import Reader

pytestmark = pytest.mark.django_db

TEMPLATE = Template(
    "{% load people %}<ul>\n      {% for r in read %}\n        <li>{% person r.person %} <span "
    'class="nhsuk-body-s cr-meta">{{ r.read.get_read_by_display }}, '
    '{{ r.read.read_at|date:"j M Y, H:i" }}</span></li>\n      {% empty %}\n        <li>Nobody '
    "yet.</li>\n      {% endfor %}\n      </ul><ul>\n      {% for r in unread %}\n        <li>"
    "{% person r.person %}</li>\n      {% empty %}\n        <li>Everyone has read it.</li>\n"
    "      {% endfor %}\n      </ul>"
)
TAG = Template(
    '{% load reader_items %}<ul>\n      {% reader_items read "Nobody yet." %}\n      </ul><ul>\n'
    '      {% reader_items unread "Everyone has read it." %}\n      </ul>'
)


def _receipt(how: str, when: datetime) -> Any:
    return SimpleNamespace(get_read_by_display=lambda: how, read_at=when)


@pytest.mark.parametrize("empty", ["read", "unread", "neither"])
def test_the_lists_read_as_the_template_wrote_them(empty: str) -> None:
    people: list[Any] = [
        UserFactory(email="priya@example.org", full_name="Priya <Shah> & co"),
        UserFactory(email="o'brien@example.org", full_name=""),
        GuestFactory(email="ann@partner.example", full_name='Ann "Guest" Lee'),
    ]
    read = [
        Reader(
            people[0],
            "manager",
            _receipt("Read on screen", datetime(2026, 1, 5, 23, 30, tzinfo=UTC)),
        ),
        Reader(
            people[2], "viewer", _receipt("Approved <it>", datetime(2026, 7, 1, 9, 5, tzinfo=UTC))
        ),
    ]
    unread = [Reader(people[1], "editor", None), Reader(people[2], "viewer", None)]
    context = {
        "read": [] if empty == "read" else read,
        "unread": [] if empty == "unread" else unread,
    }
    drawn = TAG.render(Context(context))
    assert drawn == TEMPLATE.render(Context(context))
    if empty != "read":
        assert "Priya &lt;Shah&gt; &amp; co" in drawn and "Guest · partner.example" in drawn


COMPOSER_LOOP = Template(
    '{% for v in versions %}<option value="{{ v.number }}"{% if v.number == current %} selected'
    "{% endif %}>{{ v.number }}{% if v.number == current %} (latest){% endif %}</option>"
    "{% endfor %}"
)
READERS_LOOP = Template(
    '{% for v in versions %}<option value="{{ v.number }}"{% if v.number == shown %} selected'
    "{% endif %}>Version {{ v.number }}{% if forloop.first %} (latest){% endif %}</option>"
    "{% endfor %}"
)
COMPOSER_TAG = Template('{% load version_items %}{% version_options versions current "" current %}')
READERS_TAG = Template(
    '{% load version_items %}{% version_options versions shown "Version " versions.0.number %}'
)


@pytest.mark.parametrize("shown", [3, 1, 7])
def test_the_version_choices_read_as_their_loops_wrote_them(shown: int) -> None:
    context = {
        "versions": [SimpleNamespace(number=n) for n in (3, 2, 1)],
        "current": 3,
        "shown": shown,
    }
    assert COMPOSER_TAG.render(Context(context)) == COMPOSER_LOOP.render(Context(context))
    assert READERS_TAG.render(Context(context)) == READERS_LOOP.render(Context(context))
