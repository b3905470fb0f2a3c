"""The typed hook and page-part machinery apps publish their changes and pages through
(core/hooks.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection, transaction

from commonroom.core.hooks import Hook, OutsideTransaction, PageParts


@dataclass(frozen=True)
class Opened:
    name: str


@dataclass(frozen=True)
class Closed:
    name: str


@pytest.mark.django_db
def test_a_change_reaches_only_its_types_subscribers_in_order_inside_the_transaction():
    hook: Hook[Opened | Closed] = Hook("test")
    seen: list[tuple[str, str, bool]] = []

    def first(change: Opened) -> None:
        seen.append(("first", change.name, connection.in_atomic_block))

    def second(change: Opened) -> None:
        seen.append(("second", change.name, connection.in_atomic_block))

    def closed(change: Closed) -> None:
        seen.append(("closed", change.name, connection.in_atomic_block))

    hook.subscribe(Opened, first)
    hook.subscribe(Opened, second)
    hook.subscribe(Opened, first)  # twice: still told once
    hook.subscribe(Closed, closed)
    with transaction.atomic():
        hook.changed(Opened("a"))
        hook.changed(Closed("b"))
    assert seen == [("first", "a", True), ("second", "a", True), ("closed", "b", True)]

    hook.unsubscribe(Opened, first)
    with transaction.atomic():
        hook.changed(Opened("c"))
    assert seen[-1] == ("second", "c", True) and len(seen) == 4


def test_a_change_outside_a_transaction_is_refused_before_anyone_is_told():
    hook: Hook[Opened] = Hook("test")
    seen: list[Opened] = []
    with (
        hook.subscribed(Opened, seen.append),
        pytest.raises(OutsideTransaction, match="test: Opened reported outside"),
    ):
        hook.changed(Opened("a"))
    assert seen == []


@pytest.mark.django_db
def test_subscribed_follows_within_the_block_only():
    hook: Hook[Opened] = Hook("test")
    seen: list[Opened] = []
    with transaction.atomic():
        with hook.subscribed(Opened, seen.append):
            hook.changed(Opened("inside"))
        hook.changed(Opened("after"))
    assert seen == [Opened("inside")]


@pytest.mark.django_db
def test_a_subscribers_error_reaches_the_service_and_undoes_its_transaction(team: Any):
    hook: Hook[Opened] = Hook("test")

    def fails(change: Opened) -> None:
        raise RuntimeError("the follower failed")

    name_before = team.workspace.name
    with (
        hook.subscribed(Opened, fails),
        pytest.raises(RuntimeError, match="follower failed"),
        transaction.atomic(),
    ):
        team.workspace.name = "Renamed"
        team.workspace.save(update_fields=["name"])
        hook.changed(Opened("a"))
    team.workspace.refresh_from_db()
    assert team.workspace.name == name_before


def test_page_parts_contribute_in_the_order_added_once_each():
    parts: PageParts[str] = PageParts()

    def greeting(page: str) -> Mapping[str, Any]:
        return {"greeting": f"hello {page}", "shared": "greeting"}

    def length(page: str) -> Mapping[str, Any]:
        return {"length": len(page), "shared": "length"}

    assert parts.context("home") == {}
    parts.add(greeting)
    parts.add(length)
    parts.add(greeting)
    assert parts.context("home") == {"greeting": "hello home", "length": 4, "shared": "length"}
    parts.remove(length)
    assert parts.context("x") == {"greeting": "hello x", "shared": "greeting"}
