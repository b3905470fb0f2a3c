"""``core.fragments``: the one CSRF field every drawn form writes, as Django's own tag does."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from commonroom.core.fragments import CSRF_HOLE, csrf_field


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
