"""The API's include comes first in the URL map (commonroom/urls.py): that changes no answer
only while no other route can match a path under ``api/v1/``. Each route outside the API must
begin with fixed text that no API path begins with (a route opening with a converter or a regular
expression could match one), and the API's paths still resolve to the API's views."""

from __future__ import annotations

import re
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern

API = "api/v1/"


def _routes(patterns: list[Any], prefix: str = "") -> list[str]:
    found: list[str] = []
    for pattern in patterns:
        if isinstance(pattern.pattern, RegexPattern) and not prefix:
            # Django matches a regular expression with search(): unanchored at the top of the
            # map, it could match anywhere in a path, under the API too (under a fixed prefix
            # it sees only what follows that prefix).
            assert str(pattern.pattern).startswith("^"), f"{pattern.pattern} is not anchored"
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route == API:
                continue
            found.extend(_routes(pattern.url_patterns, route))
        else:
            assert isinstance(pattern, URLPattern)
            found.append(route)
    return found


def test_the_api_is_the_first_pattern() -> None:
    assert str(get_resolver().url_patterns[0].pattern) == API


def test_no_other_route_can_match_a_path_under_the_api() -> None:
    routes = _routes(get_resolver().url_patterns)
    assert len(routes) > 50  # the pages' routes were walked, not only the API's
    for route in routes:
        if route == "":  # the home page: a route matches its whole path, so "" only ""
            continue
        if route.startswith("^"):  # a regular expression: its fixed opening text
            fixed = re.split(r"[\\\[\](){}.*+?|$]", route[1:], maxsplit=1)[0]
        else:
            fixed = route.split("<", 1)[0]
        assert fixed, f"{route!r} opens with a converter"
        # Neither is a prefix of the other: no path can match both.
        assert not API.startswith(fixed), route
        assert not fixed.startswith(API), route


def test_api_paths_resolve_to_the_api() -> None:
    ws, doc = "0" * 8 + "-0000-4000-8000-" + "0" * 12, "1" * 8 + "-1111-4111-8111-" + "1" * 12
    for path in (
        "/api/v1/me",
        f"/api/v1/workspaces/{ws}/documents",
        f"/api/v1/workspaces/{ws}/documents/{doc}/versions",
    ):
        match = resolve(path)
        assert match.namespace == "api" and match.route.startswith(API), (path, match)
