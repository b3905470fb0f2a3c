"""Approvals from the outside: the document page's section, asking and deciding through the
pages (with the second factor confirmed again before an approval), the home page's "Awaiting
my approval", and the JSON API with an authenticator app's code."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from allauth.account.internal.flows.login import (
    _AUTHENTICATION_METHODS_USER_SESSION_KEY,
    AUTHENTICATION_METHODS_SESSION_KEY,
)
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client
from django.urls import reverse

from commonroom.accounts.services import token_create
from commonroom.accounts.tests.test_mfa import current_code
from commonroom.approvals import services
from commonroom.approvals.models import ApprovalRequest, Decision, RequestState
from commonroom.approvals.selectors import document_requests, request_get
from commonroom.approvals.tests.test_services import access, ask
from commonroom.approvals.views import FACTOR_USED
from commonroom.core.exceptions import Conflict
from commonroom.documents.tests.factories import new_version, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def doc(team: Any) -> Any:
    return upload(team.manager, team.workspace, "minutes.txt", b"The minutes.").document


def browser(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def page(doc: Any) -> str:
    return reverse("document_detail", args=[doc.workspace_id, doc.pk])


def test_a_manager_asks_from_the_document_page_and_the_approver_sees_it_at_home(team, doc):
    c = browser(team.manager)
    assert "Ask for approval of version 1" in c.get(page(doc)).content.decode()
    response = c.post(
        reverse("approval_create", args=[doc.workspace_id, doc.pk]),
        {
            "version": "1",
            "approvers": [team.editor.pk, team.commenter.pk],
            "rule": "any",
            "required": "1",
            "message": "For Thursday's board",
        },
    )
    request = ApprovalRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"].endswith(f"#approval-{request.pk}")
    assert (request.rule, request.required) == ("any", 1)
    home = browser(team.commenter).get(reverse("home")).content.decode()
    assert "Awaiting my approval" in home and "minutes.txt: version 1" in home
    assert "Awaiting my approval" not in browser(team.viewer).get(reverse("home")).content.decode()
    shown = browser(team.commenter).get(page(doc)).content.decode()
    assert "Approve version 1" in shown and "For Thursday&#x27;s board" in shown


def test_a_refusal_on_the_page_comes_back_as_a_sentence(team, doc):
    c = browser(team.manager)
    response = c.post(
        reverse("approval_create", args=[doc.workspace_id, doc.pk]),
        {"version": "1", "approvers": [team.viewer.pk]},
        follow=True,
    )
    assert "viewers cannot approve" in response.content.decode()
    assert not ApprovalRequest.objects.exists()


def test_approving_without_a_second_factor_is_one_confirmed_step(team, doc):
    request = ask(team, doc, team.commenter)
    c = browser(team.commenter)
    url = reverse("approval_confirm", args=[doc.workspace_id, doc.pk, request.pk])
    shown = c.get(url).content.decode()
    assert request.sha256 in shown and "Approve version 1" in shown
    assert c.post(url).status_code == 302
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED


def _confirmed_again(c: Client, user: Any, at: float) -> None:
    """What allauth's "confirm it's you" step leaves in the session when it succeeds."""
    session = c.session
    session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = str(user.pk)
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "mfa", "at": at, "type": "totp", "reauthenticated": True}
    ]
    session.save()


def test_approving_with_a_second_factor_sends_the_person_to_confirm_it_each_time(team, doc):
    TOTP.activate(team.commenter, generate_totp_secret())
    request = ask(team, doc, team.commenter)
    c = browser(team.commenter)
    url = reverse("approval_confirm", args=[doc.workspace_id, doc.pk, request.pk])
    assert "Confirm it's me and approve" in c.get(url).content.decode()
    response = c.post(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_reauthenticate"))
    request.refresh_from_db()
    assert request.is_open and request.approvers.get().decision == Decision.PENDING
    # A confirmation older than five minutes does not count.
    _confirmed_again(c, team.commenter, time.time() - 600)
    assert c.post(url)["Location"].startswith(reverse("mfa_reauthenticate"))
    # A fresh one does, once.
    at = time.time()
    _confirmed_again(c, team.commenter, at)
    assert c.post(url)["Location"].endswith(f"#approval-{request.pk}")
    row = request.approvers.get()
    assert (row.decision, row.second_factor) == (Decision.APPROVED, "totp")
    assert c.session[FACTOR_USED] == at


def test_declining_on_the_page_needs_a_reason(team, doc):
    request = ask(team, doc, team.commenter)
    c = browser(team.commenter)
    url = reverse("approval_decline", args=[doc.workspace_id, doc.pk, request.pk])
    assert "Please give a reason" in c.post(url, {"reason": ""}, follow=True).content.decode()
    c.post(url, {"reason": "Figures are wrong"})
    request.refresh_from_db()
    assert request.state == RequestState.DECLINED


def test_asking_again_is_offered_only_while_the_service_would_take_it(team, doc):
    # Given a request on version 1, declined, and version 2 uploaded after it
    request = ask(team, doc, team.editor, team.commenter)
    services.approval_decide(
        actor=team.commenter,
        doc_access=access(team.commenter, doc),
        request_id=request.pk,
        approve=False,
        reason="Item 2 leaves out the vote.",
    )
    new_version(team.editor, doc, b"The minutes, with the vote.")
    c = browser(team.manager)
    item = reverse("approval_item", args=[doc.workspace_id, doc.pk, request.pk])
    offer = "Ask the same people to approve version 2"

    def offered() -> list[bool]:
        """What the document page, the request's card and both selectors say."""
        mine = access(team.manager, doc)
        listed = next(
            r for r in document_requests(doc_access=mine, user=team.manager) if r.pk == request.pk
        )
        one = request_get(doc_access=mine, user=team.manager, request_id=request.pk)
        return [
            offer in c.get(page(doc)).content.decode(),
            offer in c.get(item).content.decode(),
            listed.can["ask_again"],  # type: ignore[attr-defined]
            one.can["ask_again"],  # type: ignore[attr-defined]
        ]

    # Then the manager is offered to ask the same people again on version 2
    assert offered() == [True, True, True, True]

    # When she does, the ended request no longer offers it: the new one is open
    c.post(reverse("approval_change", args=[doc.workspace_id, doc.pk, request.pk]),
           {"action": "again"})  # fmt: skip
    again = ApprovalRequest.objects.get(asks_again=request)
    assert offered() == [False, False, False, False]
    with pytest.raises(Conflict, match="already has an open approval request"):
        services.approval_ask_again(
            actor=team.manager, doc_access=access(team.manager, doc), request_id=request.pk
        )

    # And once version 2 is approved and sealed, it is never offered again
    for person in (team.editor, team.commenter):
        services.approval_decide(
            actor=person, doc_access=access(person, doc), request_id=again.pk, approve=True
        )
    assert offered() == [False, False, False, False]
    with pytest.raises(Conflict, match="is sealed"):
        services.approval_ask_again(
            actor=team.manager, doc_access=access(team.manager, doc), request_id=request.pk
        )
    assert ApprovalRequest.objects.filter(document=doc).count() == 2


def test_asking_someone_else_offers_only_those_not_asked_yet(team, doc):
    request = ask(team, doc, team.commenter)
    c = browser(team.manager)
    item = reverse("approval_item", args=[doc.workspace_id, doc.pk, request.pk])

    def offered() -> list[str]:
        card = c.get(item).content.decode()
        select = re.search(r'<select[^>]*name="approvers">(.*?)</select>', card, re.S)
        return re.findall(r'<option value="(\d+)"', select.group(1)) if select else []

    # The commenter is asked already: the manager and the editor may still be asked
    assert set(offered()) == {str(team.manager.pk), str(team.editor.pk)}
    # Once everyone who may approve is asked, the form is not offered at all
    services.approvers_add(
        actor=team.manager,
        doc_access=access(team.manager, doc),
        request_id=request.pk,
        approver_ids=[team.manager.pk, team.editor.pk],
    )
    assert offered() == []
    assert "Ask someone else too" not in c.get(item).content.decode()
    # Someone taken off may be asked again
    services.approver_remove(
        actor=team.manager,
        doc_access=access(team.manager, doc),
        request_id=request.pk,
        user_id=team.editor.pk,
    )
    assert offered() == [str(team.editor.pk)]


def test_a_non_member_gets_404_from_every_approval_page(team, doc):
    request = ask(team, doc, team.commenter)
    c = browser(team.outsider)
    args = [doc.workspace_id, doc.pk, request.pk]
    for name in ("approval_item", "approval_confirm"):
        assert c.get(reverse(name, args=args)).status_code == 404
    for name in ("approval_change", "approval_decline", "approval_confirm"):
        assert (
            c.post(reverse(name, args=args), {"reason": "x", "action": "cancel"}).status_code == 404
        )
    assert c.post(reverse("approval_create", args=args[:2]), {"version": "1"}).status_code == 404
    request.refresh_from_db()
    assert request.is_open


def api(user: Any) -> Client:
    return Client(
        HTTP_AUTHORIZATION=f"Bearer {token_create(actor=user, name='t', scope='write').secret}"
    )


def test_the_api_asks_lists_and_decides_with_an_authenticator_code(team, doc):
    base = f"/api/v1/workspaces/{doc.workspace_id}/documents/{doc.pk}/approvals"
    made = api(team.manager).post(
        base,
        {"version": 1, "approvers": [team.editor.pk, team.commenter.pk], "rule": "all"},
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["state"] == "open" and body["rule_words"] == "Everyone asked (2)"
    secret = generate_totp_secret()
    TOTP.activate(team.editor, secret)
    editor = api(team.editor)
    url = f"{base}/{body['id']}/decision"
    refused = editor.post(url, {"decision": "approve"}, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["code"] == "second_factor_wrong"
    wrong = editor.post(
        url, {"decision": "approve", "code": "000000"}, content_type="application/json"
    )
    assert wrong.status_code == 403
    code = current_code(secret)
    ok = editor.post(url, {"decision": "approve", "code": code}, content_type="application/json")
    assert ok.status_code == 200, ok.content
    approver = next(a for a in ok.json()["approvers"] if a["person"]["id"] == team.editor.pk)
    assert (approver["decision"], approver["second_factor"]) == ("approved", "totp")
    listed = api(team.commenter).get(base).json()["items"]
    assert [r["id"] for r in listed] == [body["id"]]
    declined = api(team.commenter).post(
        url, {"decision": "decline", "reason": "Not yet"}, content_type="application/json"
    )
    assert declined.json()["state"] == "declined"
    again = api(team.manager).post(
        f"{base}/{body['id']}/change", {"action": "again"}, content_type="application/json"
    )
    # Asked again on the latest version (still version 1), with the same people.
    assert again.status_code == 201, again.content
    assert again.json()["version"] == 1 and len(again.json()["approvers"]) == 2


def test_the_api_refuses_a_forged_request_and_a_non_member(team, doc):
    base = f"/api/v1/workspaces/{doc.workspace_id}/documents/{doc.pk}/approvals"
    request = ask(team, doc, team.commenter)
    assert api(team.outsider).get(f"{base}/{request.pk}").status_code == 404
    forged = "00000000-0000-0000-0000-000000000000"
    answer = api(team.commenter).post(
        f"{base}/{forged}/decision", {"decision": "approve"}, content_type="application/json"
    )
    assert answer.status_code == 404


def test_the_api_lists_what_awaits_my_approval_across_my_workspaces(team, doc):
    request = ask(team, doc, team.commenter, message="Before Thursday")
    mine = api(team.commenter).get("/api/v1/approvals/awaiting").json()["items"]
    assert [(r["request_id"], r["document"], r["version"], r["message"]) for r in mine] == [
        (str(request.pk), "minutes.txt", 1, "Before Thursday")
    ]
    assert api(team.editor).get("/api/v1/approvals/awaiting").json()["items"] == []
    # Decided, it no longer waits.
    base = f"/api/v1/workspaces/{doc.workspace_id}/documents/{doc.pk}/approvals"
    api(team.commenter).post(
        f"{base}/{request.pk}/decision",
        {"decision": "decline", "reason": "Not yet"},
        content_type="application/json",
    )
    assert api(team.commenter).get("/api/v1/approvals/awaiting").json()["items"] == []
