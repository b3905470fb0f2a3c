"""Reads other apps make of accounts through its selectors."""

from __future__ import annotations

import pytest

from commonroom.accounts.selectors import users_in_workspaces
from commonroom.accounts.tests.factories import UserFactory
from commonroom.workspaces.models import Workspace
from commonroom.workspaces.tests.factories import add_member, make_workspace

pytestmark = pytest.mark.django_db


def test_the_members_of_some_workspaces_each_once_by_name_then_email() -> None:
    first = make_workspace(manager=UserFactory(full_name="Cy Lead", email="c@example.org"))
    second = make_workspace(manager=UserFactory(full_name="Ann Lead", email="z@example.org"))
    both = UserFactory(full_name="Ann Lead", email="a@example.org")
    add_member(first, both)
    add_member(second, both)
    elsewhere = make_workspace(manager=UserFactory(full_name="Bo Outside"))
    add_member(elsewhere, UserFactory(full_name="Al Outside"))

    ids = Workspace.objects.filter(pk__in=[first.pk, second.pk]).values("pk")
    people = users_in_workspaces(ids)

    assert [(p.full_name, p.email) for p in people] == [
        ("Ann Lead", "a@example.org"),
        ("Ann Lead", "z@example.org"),
        ("Cy Lead", "c@example.org"),
    ]
    assert users_in_workspaces(Workspace.objects.none().values("pk")) == []
