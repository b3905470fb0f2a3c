"""The permission matrix again, with everyone in the workspace an external guest.

A guest's role decides what they may do in a workspace exactly as a colleague's does; what
differs is outside any workspace: a guest may not create a workspace; and, by the workspace's
default download setting, a guest who is a viewer or a commenter may not download originals
(403 with a sentence, before anything else is looked at; every setting, role and kind of
person is in test_download_matrix.py). (A guest's API tokens need
an administrator's or a manager's allowance: the people of this world have one;
accounts/tests/test_guest_tokens.py proves the refusal without it.) Every page route and API
operation of the staff matrix is asked again, with these differences and no others.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from commonroom.core.tests.test_permission_matrix import (
    CALLS,
    LOGIN,
    OPERATIONS,
    PAGES,
    REFUSED,
    SESSION_OPERATIONS,
    World,
    ask_api,
    ask_pages,
    files,  # noqa: F401 (the module's blob folder, a fixture)
    matrix_settings,
    mismatches,
    page_cases,
    read_token_expectation,
    world_for_module,
)

# What a guest meets that a colleague in the same role does not.
GUEST_REFUSED = (401, 403, 403, 403, 403, 403)
DOCUMENT = "/workspaces/{workspace_id}/documents/{document_id}"
GUEST_API: dict[tuple[str, str], tuple[int, ...]] = {
    ("POST", "/workspaces"): GUEST_REFUSED,
    ("GET", DOCUMENT + "/versions/{number}/content"): (401, 404, 403, 403, 200, 200),
    ("GET", DOCUMENT + "/suggestions/tracked-changes"): (401, 404, 403, 403, 409, 409),
    ("GET", DOCUMENT + "/versions/{number}/certificate"): (401, 404, 403, 403, 409, 409),
}
GUEST_PAGES: dict[tuple[str, str], tuple[Any, ...]] = {
    ("workspace_create", "GET"): (LOGIN, 403, 403, 403, 403, 403),
    ("workspace_create", "POST"): (LOGIN, 403, 403, 403, 403, 403),
    # Downloads: the viewer and the commenter are refused; the editor and the manager get the
    # file, or (the world's document is a text file, not a record) the sentence saying why not.
    ("version_download", "GET"): (LOGIN, 404, 403, 403, 200, 200),
    ("suggestions_tracked_download", "GET"): (LOGIN, 404, 403, 403, REFUSED, REFUSED),
    ("record_certificate", "GET"): (LOGIN, 404, 403, 403, REFUSED, REFUSED),
}


@pytest.fixture(autouse=True)
def _matrix_settings(settings: Any, files: Path) -> None:  # noqa: F811
    for name, value in matrix_settings(files).items():
        setattr(settings, name, value)


@pytest.fixture(scope="module")
def guest_world(django_db_setup: Any, django_db_blocker: Any, files: Path) -> Iterator[World]:  # noqa: F811
    yield from world_for_module(django_db_blocker, files, guests=True)


def test_the_people_of_this_world_are_guests(db: Any, guest_world: World) -> None:
    people = [u for u in guest_world.by_role.values() if u is not None]
    assert people and all(u.is_guest for u in people)


@pytest.mark.parametrize(
    ("method", "path"), sorted(OPERATIONS), ids=[f"{m} {p}" for m, p in sorted(OPERATIONS)]
)
def test_api_matrix_guests(db: Any, guest_world: World, method: str, path: str) -> None:
    expected = GUEST_API.get((method, path), CALLS[(method, path)].expect)
    wrong = mismatches(expected, ask_api(guest_world, method, path))
    assert not wrong, f"{method} {path} (guests): {wrong}"


@pytest.mark.parametrize(
    ("method", "path"), sorted(OPERATIONS), ids=[f"{m} {p}" for m, p in sorted(OPERATIONS)]
)
def test_api_matrix_guests_with_read_tokens(
    db: Any, guest_world: World, method: str, path: str
) -> None:
    expected = (
        GUEST_API.get((method, path), CALLS[(method, path)].expect)
        if method == "GET"
        else read_token_expectation(method, path)
    )
    wrong = mismatches(expected, ask_api(guest_world, method, path, read_only=True))
    assert not wrong, f"{method} {path} (guests, read token): {wrong}"


@pytest.mark.parametrize(
    ("method", "path"), SESSION_OPERATIONS, ids=[f"{m} {p}" for m, p in SESSION_OPERATIONS]
)
def test_api_matrix_guests_with_the_session(
    db: Any, guest_world: World, method: str, path: str
) -> None:
    expected = CALLS[(method, path)].session
    assert expected is not None
    wrong = mismatches(expected, ask_api(guest_world, method, path, with_session=True))
    assert not wrong, f"{method} {path} (guests, session): {wrong}"


@pytest.mark.parametrize(("name", "method"), page_cases())
def test_page_matrix_guests(db: Any, guest_world: World, name: str, method: str) -> None:
    page = PAGES[name]
    staff = page.get if method == "GET" else page.post
    assert staff is not None
    expected = GUEST_PAGES.get((name, method), staff)
    wrong = mismatches(expected, ask_pages(guest_world, name, method, page))
    assert not wrong, f"{method} {name} (guests): {wrong}"


def test_the_differences_name_real_routes_and_operations() -> None:
    assert set(GUEST_API) <= set(OPERATIONS)
    assert {name for name, _ in GUEST_PAGES} <= set(PAGES)
