"""``{% approver_boxes %}`` and ``{% approver_options %}``: the members to choose from drawn as
the approval forms' template markup drew them, each name escaped and a guest marked as such."""

from __future__ import annotations

import re

import pytest
from django.template import Context, Template

from commonroom.accounts.tests.factories import GuestFactory, UserFactory

pytestmark = pytest.mark.django_db

TEMPLATE_BOXES = Template(
    "{% load people %}{% for u in choices %}"
    '<div class="nhsuk-checkboxes__item">\n'
    '                <input class="nhsuk-checkboxes__input" id="approver-{{ u.pk }}" '
    'name="approvers" type="checkbox" value="{{ u.pk }}">\n'
    '                <label class="nhsuk-label nhsuk-checkboxes__label" '
    'for="approver-{{ u.pk }}">{% person u strong=False %} '
    '<span class="cr-meta">{{ u.email }}</span></label>\n'
    "              </div>{% endfor %}"
)
TEMPLATE_OPTIONS = Template(
    '{% for u in choices %}<option value="{{ u.pk }}">{{ u.display_name }}</option>{% endfor %}'
)


def _spaces_apart(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r">\s+<", "><", html)).strip()


@pytest.fixture
def choices() -> list[object]:
    return [
        UserFactory(email="priya@example.org", full_name="Priya <Shah> & co"),
        UserFactory(email="o'brien@example.org", full_name=""),
        GuestFactory(email="ann@partner.example", full_name='Ann "Guest" Lee'),
    ]


def test_the_checkboxes_are_the_templates(choices: list[object]) -> None:
    context = Context({"choices": choices})
    drawn = Template("{% load approvals %}{% approver_boxes choices %}").render(context)
    assert "Priya &lt;Shah&gt; &amp; co" in drawn and "Guest · partner.example" in drawn
    assert "o&#x27;brien@example.org" in drawn
    assert drawn == TEMPLATE_BOXES.render(context)


def test_the_options_are_the_templates(choices: list[object]) -> None:
    context = Context({"choices": choices})
    drawn = Template("{% load approvals %}{% approver_options choices %}").render(context)
    assert drawn.count("<option") == 3 and "Ann &quot;Guest&quot; Lee" in drawn
    assert _spaces_apart(drawn) == _spaces_apart(TEMPLATE_OPTIONS.render(context))


def test_nobody_to_choose_is_nothing() -> None:
    context = Context({"choices": []})
    assert Template("{% load approvals %}{% approver_boxes choices %}").render(context) == ""
    assert Template("{% load approvals %}{% approver_options choices %}").render(context) == ""
