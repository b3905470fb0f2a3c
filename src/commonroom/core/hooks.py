"""Typed hooks: how an app tells the apps that follow it what changed, and lets them add to its
pages, without importing them.

**Changes.** An app that others follow defines each change as a frozen dataclass in its own
``hooks.py`` and one :class:`Hook` for them all. Each of its services calls ``changed(change)``
*inside its transaction*, after writing the change and before its audit row (which stays the
transaction's last write). Each subscriber runs there too, in the order it subscribed: what it
writes commits or rolls back with the change, and an error in it undoes the change. What must
wait for the commit (a task, a socket) is the subscriber's own ``transaction.on_commit``.
Followers subscribe from their app's ``AppConfig.ready()`` (in their ``receivers.py``) and must
not depend on each other's order.

**Page parts.** A page of one app that shows what other apps keep gets a :class:`PageParts`:
each of those apps adds a function returning the template context it contributes, and the view
asks :meth:`PageParts.context` for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from django.db import transaction

C = TypeVar("C")  # the union of one app's change types
T = TypeVar("T")  # one change type
P = TypeVar("P")  # what a page part is given about the page being drawn


class OutsideTransaction(RuntimeError):
    """A change was reported outside a transaction: its subscribers' writes could not commit
    or roll back with it."""


class Hook(Generic[C]):
    """One app's changes (``C``: the union of its change types), and who follows each."""

    def __init__(self, app: str) -> None:
        self.app = app
        self._subscribers: dict[type[Any], list[Callable[[Any], None]]] = {}

    def subscribe(self, change_type: type[T], subscriber: Callable[[T], None]) -> None:
        """Call ``subscriber`` with every ``change_type`` change, inside its transaction. Called
        from an app's ``ready()``; subscribing the same function twice has no further effect."""
        found = self._subscribers.setdefault(change_type, [])
        if subscriber not in found:
            found.append(subscriber)

    def unsubscribe(self, change_type: type[T], subscriber: Callable[[T], None]) -> None:
        found = self._subscribers.get(change_type, [])
        if subscriber in found:
            found.remove(subscriber)

    @contextmanager
    def subscribed(self, change_type: type[T], subscriber: Callable[[T], None]) -> Iterator[None]:
        """``subscriber`` follows ``change_type`` within the block only (tests, one-off tools)."""
        self.subscribe(change_type, subscriber)
        try:
            yield
        finally:
            self.unsubscribe(change_type, subscriber)

    def changed(self, change: C) -> None:
        """Tell every subscriber of this kind of change, in the caller's transaction."""
        if not transaction.get_connection().in_atomic_block:
            raise OutsideTransaction(
                f"{self.app}: {type(change).__name__} reported outside a transaction"
            )
        for subscriber in list(self._subscribers.get(type(change), ())):
            subscriber(change)


class PageParts(Generic[P]):
    """The parts other apps add to one page: each takes ``P`` (the page being drawn) and
    returns the template context it contributes."""

    def __init__(self) -> None:
        self._parts: list[Callable[[P], Mapping[str, Any]]] = []

    def add(self, part: Callable[[P], Mapping[str, Any]]) -> None:
        """``part`` contributes to every drawing of the page (from an app's ``ready()``)."""
        if part not in self._parts:
            self._parts.append(part)

    def remove(self, part: Callable[[P], Mapping[str, Any]]) -> None:
        if part in self._parts:
            self._parts.remove(part)

    def context(self, page: P) -> dict[str, Any]:
        """The context every part contributes for ``page``, in the order they were added."""
        context: dict[str, Any] = {}
        for part in self._parts:
            context.update(part(page))
        return context
