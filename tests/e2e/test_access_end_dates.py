"""Access that ends, on a phone (360 px): the people page says "Access ends in 5 days" beside
the guest and extends it from the same row; the external guests page removes two people after
one confirmation. Neither page scrolls sideways, and each passes axe-core's WCAG A and AA rules
in the state shown.

``COMMONROOM_SHOTS=<folder>`` keeps a full-page screenshot of each screen at 360 and 1280 px.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from e2e_support import PHONE, page_width, shoot, sign_in
from playwright.sync_api import expect
from test_accessibility import violations

from commonroom.accounts.tests.factories import PASSWORD, GuestFactory, UserFactory
from commonroom.workspaces.models import Membership
from commonroom.workspaces.tests.factories import add_member, make_workspace


def _world() -> tuple[Any, Any, Any, Any]:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    ws = make_workspace(manager=priya)
    aisha = add_member(
        ws, GuestFactory(email="aisha@board.example.net", full_name="Aisha Khan"), "commenter"
    )
    ben = add_member(
        ws, GuestFactory(email="ben@auditors.example.com", full_name="Ben Ward"), "viewer"
    )
    Membership.objects.filter(workspace=ws, user=aisha).update(
        access_until=timezone.localdate() + timedelta(days=5)
    )
    return priya, ws, aisha, ben


def test_a_manager_extends_a_guests_access_and_removes_guests_on_a_phone(
    new_page: Any, page_problems: Any
) -> None:
    priya, ws, aisha, ben = _world()
    page = new_page("Priya", viewport=PHONE)
    sign_in(page, priya.email, PASSWORD)

    page.goto(f"/w/{ws.pk}/members/")
    row = page.get_by_role("row").filter(has_text="Aisha Khan")
    expect(row).to_contain_text("Access ends in 5 days")
    assert page_width(page) <= PHONE["width"]
    assert violations(page) == []
    shoot(page, "people-access-ends")

    later = timezone.localdate() + timedelta(days=40)
    row.get_by_label("Extend access until for Aisha Khan").fill(later.isoformat())
    row.get_by_role("button", name="Extend of Aisha Khan's access").click()
    expect(page.locator("body")).to_contain_text(
        f"Aisha Khan's access now ends at the end of {later:%-d %B %Y}."
    )
    expect(page.get_by_role("row").filter(has_text="Aisha Khan")).to_contain_text(
        f"Access until {later:%-d %b %Y}"
    )
    assert Membership.objects.get(workspace=ws, user=aisha).access_until == later

    page.get_by_role("link", name="Every external guest of the workspaces you manage").click()
    page.get_by_label("Choose Aisha Khan in Weekly budget meeting").check()
    page.get_by_label("Choose Ben Ward in Weekly budget meeting").check()
    assert page_width(page) <= PHONE["width"]
    shoot(page, "guests")
    page.get_by_role("button", name="Remove the people chosen…").click()
    expect(page.locator("#confirm-removal")).to_contain_text("Remove 2 people?")
    assert page_width(page) <= PHONE["width"]
    assert violations(page) == []
    shoot(page, "guests-confirm")
    assert Membership.objects.filter(workspace=ws, user__in=[aisha, ben]).count() == 2
    page.get_by_role("button", name="Yes, remove them").click()

    expect(page.locator("body")).to_contain_text("Removed 2 people.")
    expect(page.locator("body")).to_contain_text("No external guests in the workspaces you manage.")
    assert not Membership.objects.filter(workspace=ws, user__in=[aisha, ben]).exists()
    assert page_problems.seen == []
