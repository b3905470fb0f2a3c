"""What a person may do outside any workspace."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from commonroom.accounts.permissions import account_abilities
from commonroom.accounts.tests.factories import GuestFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_staff_create_workspaces_and_only_administrators_see_the_whole_trail():
    staff, guest = UserFactory.create(), GuestFactory.create()
    admin = UserFactory.create(is_superuser=True)
    gone = UserFactory.create(is_active=False)
    assert account_abilities(staff) == {"create_workspace": True, "view_global_audit": False}
    assert account_abilities(guest) == {"create_workspace": False, "view_global_audit": False}
    assert account_abilities(admin) == {"create_workspace": True, "view_global_audit": True}
    assert account_abilities(gone) == {"create_workspace": False, "view_global_audit": False}
    assert account_abilities(AnonymousUser()) == {
        "create_workspace": False,
        "view_global_audit": False,
    }


def test_api_tokens_are_staffs_and_allowed_guests_only():
    from commonroom.accounts.permissions import GUEST_TOKENS_REFUSED, api_tokens_refusal

    staff, guest = UserFactory.create(), GuestFactory.create()
    allowed = GuestFactory.create(api_tokens_allowed=True)
    assert api_tokens_refusal(staff) is None
    assert api_tokens_refusal(allowed) is None
    assert api_tokens_refusal(guest) == GUEST_TOKENS_REFUSED
    assert api_tokens_refusal(UserFactory.create(is_active=False)) is not None
    assert api_tokens_refusal(AnonymousUser()) is not None
