"""Once the last day of someone's access is over, the workspace is gone for them everywhere at
the same moment, before the scheduled job runs: its pages, the API and WebDAV answer 404 as to
any non-member (the socket's side: ``live/tests/test_access_end_sockets.py``). Until then, on
the last day itself, everything works."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from commonroom.accounts.services import token_create
from commonroom.webdav.tests.client import Dav
from commonroom.workspaces import services
from commonroom.workspaces.models import Membership
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.tests.clock import Clock, local, stopped_clock
from commonroom.workspaces.tests.factories import upload_document

pytestmark = pytest.mark.django_db

LAST_DAY = date(2027, 1, 31)


@pytest.fixture
def clock(monkeypatch: Any) -> Clock:
    return stopped_clock(monkeypatch, local(date(2027, 1, 25), 12))


def test_the_workspace_is_gone_everywhere_after_the_last_day(team: Any, clock: Clock) -> None:
    ws = team.workspace
    doc = upload_document(ws, team.manager)
    services.membership_set_access_until(
        actor=team.manager,
        access=workspace_access(user=team.manager, workspace_id=ws.pk),
        membership_id=Membership.objects.get(workspace=ws, user=team.editor).pk,
        access_until=LAST_DAY,
    )
    browser = Client()
    api = Client(
        headers={
            "Authorization": "Bearer "
            + token_create(actor=team.editor, name="script", scope="write").secret
        }
    )
    dav = Dav(team.editor)
    page = reverse("workspace_detail", args=[ws.pk])
    document_page = reverse("document_detail", args=[ws.pk, doc.pk])
    members_api = f"/api/v1/workspaces/{ws.pk}/members"
    dav_path = "/Weekly budget meeting/"

    def answers() -> tuple[int, int, int, int, int, list[str]]:
        # Signed in afresh at each moment (sessions lapse after hours idle, as the clock moves).
        browser.force_login(team.editor)
        return (
            browser.get(page).status_code,
            browser.get(document_page).status_code,
            api.get(members_api).status_code,
            api.get(f"/api/v1/workspaces/{ws.pk}/documents/{doc.pk}").status_code,
            dav.propfind(dav_path, depth="0").status_code,
            [w["name"] for w in api.get("/api/v1/workspaces").json()["items"]],
        )

    clock.set(LAST_DAY, 23, 59)
    assert answers() == (200, 200, 200, 200, 207, ["Weekly budget meeting"])

    clock.set(date(2027, 2, 1), 0, 0)
    assert answers() == (404, 404, 404, 404, 404, [])
    assert dav.get(dav_path + doc.name).status_code == 404
    assert dav.put(dav_path + "new.txt", b"still here?").status_code == 404
    assert dav.listing("/") == {}
    # Nothing was written by that last attempt.
    assert not ws.documents.filter(name="new.txt").exists()
