"""Approving a record confirmed with a code by email (accounts' second factor by email)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from commonroom.accounts.models import EmailCodeFactor
from commonroom.accounts.tests.test_email_code import last_code, wrong
from commonroom.approvals.models import Decision
from commonroom.approvals.tests.test_services import ask
from commonroom.documents.tests.factories import upload

pytestmark = pytest.mark.django_db


def test_an_approval_is_confirmed_with_a_code_by_email(team):
    doc = upload(team.manager, team.workspace, "minutes.txt", b"The minutes.").document
    EmailCodeFactor.objects.create(user=team.commenter)
    request = ask(team, doc, team.commenter)
    client = Client()
    client.force_login(team.commenter)
    url = reverse("approval_confirm", args=[doc.workspace_id, doc.pk, request.pk])

    # Approving sends them to confirm with a code by email, then back
    confirm = client.post(url)["Location"]
    assert confirm.startswith(reverse("account_email_code_confirm"))
    client.post(confirm, {"action": "send"})
    assert client.post(confirm, {"code": wrong(last_code(team.commenter.email))}).status_code == 400
    back = client.post(confirm, {"code": last_code(team.commenter.email)})
    assert back["Location"] == url

    assert client.post(url)["Location"].endswith(f"#approval-{request.pk}")
    row = request.approvers.get()
    assert (row.decision, row.second_factor) == (Decision.APPROVED, "email_code")
