"""Free text is stored without control characters, whatever a client sends, on every database."""

from __future__ import annotations

import pytest
from django.urls import reverse

from commonroom.audit.models import Action, AuditEvent
from commonroom.core.exceptions import ApplicationError
from commonroom.core.text import plain_text, stated_text
from commonroom.workspaces.models import Workspace


@pytest.mark.parametrize(
    ("raw", "multiline", "expected"),
    [
        ("Budget\x00 meeting", False, "Budget meeting"),
        ("  Weekly\tbudget\r\nmeeting ", False, "Weekly budget meeting"),
        ("evil\u202etxt.exe", False, "evil txt.exe"),
        ("line one\r\n\x00line two\n", True, "line one\nline two"),
        ("Cafe\u0301", False, "Café"),
        (None, False, ""),
    ],
)
def test_plain_text(raw, multiline, expected):
    assert plain_text(raw, multiline=multiline) == expected


@pytest.mark.django_db
def test_nul_in_a_workspace_name_and_description_is_dropped(client, team):
    client.force_login(team.manager)
    response = client.post(
        reverse("workspace_create"),
        {"name": "Finance\x00 committee", "description": "Monthly\x00\nfigures"},
    )
    assert response.status_code == 302
    ws = Workspace.objects.get(name="Finance committee")
    assert ws.description == "Monthly\nfigures"


@pytest.mark.django_db
def test_nul_in_a_sign_in_attempt_is_refused_not_a_crash(client):
    response = client.post(
        reverse("account_login"), {"login": "nobody\x00@example.org", "password": "wrong"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors


@pytest.mark.django_db
def test_nul_in_a_user_agent_is_audited_without_it(client):
    response = client.post(
        reverse("account_login"),
        {"login": "nobody@example.org", "password": "wrong"},
        HTTP_USER_AGENT="curl\x00/8",
    )
    assert response.status_code == 200
    event = AuditEvent.objects.filter(action=Action.LOGIN_FAILED).order_by("-seq").first()
    assert event is not None
    assert event.user_agent == "curl /8"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("Typo\x07", "invalid_reason"),
        ("Typo\x00", "invalid_reason"),
        ("Approve \u202eon behalf of", "invalid_reason"),  # a bidirectional override
        ("x" * 201, "reason_too_long"),
        ("", "reason_required"),
        ("  \n\t ", "reason_required"),
        (None, "reason_required"),
        (42, "reason_required"),
    ],
)
def test_a_stated_reason_is_refused_never_silently_changed(raw, code):
    with pytest.raises(ApplicationError) as refused:
        stated_text(raw, what="reason", limit=200, required=True)
    assert refused.value.code == code
    assert refused.value.status == 400


def test_a_stated_reason_keeps_its_lines_and_tabs_as_plain_text():
    said = stated_text("  Figures wrong:\r\n\titem  4 \n", what="reason", limit=200)
    assert said == "Figures wrong:\nitem 4"
    assert stated_text("", what="reason", limit=200) == ""  # optional when not required
