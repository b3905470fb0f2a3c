"""Approval requests through their services: asking, deciding, the rule met (the version sealed
as the final record) or no longer possible, the requester's changes, a new version ending a
request, members leaving, the daily reminders, and every refusal with a sentence that changes
nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.utils import timezone

from commonroom.approvals import services
from commonroom.approvals.models import ApprovalRequest, Approver, Decision, RequestState
from commonroom.audit.models import AuditEvent
from commonroom.audit.selectors import audit_verify
from commonroom.core.exceptions import ApplicationError, Conflict, NotFound, PermissionDenied
from commonroom.core.request_info import RequestInfo
from commonroom.documents import services as documents
from commonroom.documents.selectors import document_access
from commonroom.documents.tests.factories import a_file, upload
from commonroom.live.models import Event
from commonroom.notifications.models import Notification
from commonroom.workspaces import services as workspaces
from commonroom.workspaces.selectors import workspace_access

pytestmark = pytest.mark.django_db


def access(user: Any, doc: Any) -> Any:
    return document_access(user=user, workspace_id=doc.workspace_id, document_id=doc.pk)


@pytest.fixture
def doc(team: Any) -> Any:
    upload(team.manager, team.workspace, "minutes.txt", b"version one")
    return upload(team.editor, team.workspace, "minutes.txt", b"version two").document


def ask(team: Any, doc: Any, *people: Any, by: Any = None, **kwargs: Any) -> ApprovalRequest:
    by = by or team.manager
    return services.approval_request_create(
        actor=by,
        doc_access=access(by, doc),
        version_number=kwargs.pop("version", doc.current_version_number),
        approver_ids=[p.pk for p in people],
        **kwargs,
    )


def decide(user: Any, doc: Any, request: ApprovalRequest, approve: bool = True, **kw: Any) -> Any:
    return services.approval_decide(
        actor=user,
        doc_access=access(user, doc),
        request_id=request.pk,
        approve=approve,
        info=RequestInfo(ip="192.0.2.7", user_agent="Phone browser"),
        **kw,
    )


def membership(team: Any, user: Any) -> Any:
    return team.workspace.memberships.get(user=user).pk


def actions(doc: Any) -> list[str]:
    return list(
        AuditEvent.objects.filter(document_id=doc.pk)
        .order_by("seq")
        .values_list("action", flat=True)
    )


def test_asking_tells_the_people_asked_and_the_open_screens(team, doc) -> None:
    due = timezone.localdate() + dt.timedelta(days=3)
    request = ask(team, doc, team.editor, team.commenter, message="For the board", due_date=due)
    assert request.state == RequestState.OPEN
    assert request.version.number == 2
    assert request.sha256 == request.version.blob_id
    assert set(request.approvers.values_list("user_id", "decision")) == {
        (team.editor.pk, Decision.PENDING),
        (team.commenter.pk, Decision.PENDING),
    }
    asked = Notification.objects.filter(kind="approval").order_by("recipient_id")
    assert [n.recipient_id for n in asked] == sorted([team.editor.pk, team.commenter.pk])
    assert "Priya Shah asked you to approve version 2 of minutes.txt" in asked[0].summary
    assert Event.objects.filter(kind="approval.requested").count() == 1
    assert actions(doc)[-1] == "approval.requested"
    assert "asked 2 people to approve version 2" in request.history.get().text


def test_everyone_approving_seals_the_version_once(team, doc) -> None:
    request = ask(team, doc, team.editor, team.commenter)
    decide(team.editor, doc, request)
    request.refresh_from_db()
    assert request.state == RequestState.OPEN
    row = decide(team.commenter, doc, request)
    assert (row.decision, row.ip, row.user_agent) == (
        Decision.APPROVED,
        "192.0.2.7",
        "Phone browser",
    )
    assert row.sha256 == request.version.blob_id
    request.refresh_from_db()
    doc.refresh_from_db()
    assert request.state == RequestState.APPROVED
    assert doc.sealed_version_id == request.version_id
    version = doc.versions.get(number=2)
    assert version.record_at is not None
    assert actions(doc).count("document.sealed") == 1
    assert actions(doc)[-1] == "approval.ended"
    assert audit_verify().ok
    # The record stands: no new version replaces it.
    with pytest.raises(Conflict) as refused:
        documents.version_upload(
            actor=team.editor,
            doc_access=access(team.editor, doc),
            uploaded=a_file("minutes.txt", b"version three"),
        )
    assert "sealed" in refused.value.message
    assert doc.versions.count() == 2


def test_any_one_of_two_is_met_by_the_first_approval(team, doc) -> None:
    request = ask(team, doc, team.editor, team.commenter, rule="any", required=1)
    decide(team.commenter, doc, request)
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED
    # The other approver can no longer decide: the request has ended.
    with pytest.raises(Conflict, match="finished"):
        decide(team.editor, doc, request)


def test_a_decline_needs_a_reason_and_ends_a_request_everyone_must_approve(team, doc) -> None:
    request = ask(team, doc, team.editor, team.commenter)
    with pytest.raises(ApplicationError, match="reason"):
        decide(team.commenter, doc, request, approve=False)
    decide(team.commenter, doc, request, approve=False, reason="Item 4 is wrong")
    request.refresh_from_db()
    assert request.state == RequestState.DECLINED
    assert (
        request.end_note
        == f"The rule can no longer be met: {team.commenter.display_name} declined."
    )
    decliner = request.approvers.get(user=team.commenter)
    assert decliner.reason == "Item 4 is wrong"
    doc.refresh_from_db()
    assert doc.sealed_version_id is None
    told = Notification.objects.get(
        recipient=team.manager, dedupe_key__startswith="approval-decision"
    )
    assert "declined" in told.summary and told.excerpt == "Item 4 is wrong"


def test_any_two_of_three_survives_one_decline(team, doc) -> None:
    request = ask(team, doc, team.editor, team.commenter, team.manager, rule="any", required=2)
    decide(team.commenter, doc, request, approve=False, reason="Not yet")
    request.refresh_from_db()
    assert request.is_open
    decide(team.editor, doc, request)
    decide(team.manager, doc, request)
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED


def test_bad_requests_are_refused_with_a_sentence_and_change_nothing(team, doc) -> None:
    cases: list[tuple[dict[str, Any], list[Any], str]] = [
        ({}, [team.viewer], "viewers cannot approve"),
        ({}, [team.outsider], "not a member"),
        ({}, [], "at least one person"),
        ({"due_date": timezone.localdate() - dt.timedelta(days=1)}, [team.editor], "in the past"),
        ({"due_date": "next tuesday"}, [team.editor], "not a date"),
        ({"version": 1}, [team.editor], "Only the latest version"),
        ({"rule": "any", "required": 3}, [team.editor, team.commenter], "between 1 and 2"),
        ({"rule": "most"}, [team.editor], "rule must be"),
        ({"message": "hello\x00there"}, [team.editor], "cannot be stored"),
        ({"message": "x" * 2001}, [team.editor], "at most 2,000 characters"),
    ]
    for kwargs, people, sentence in cases:
        with pytest.raises(ApplicationError) as refused:
            ask(team, doc, *people, **kwargs)
        assert sentence in refused.value.message, (kwargs, refused.value.message)
    with pytest.raises(NotFound, match="no version 9"):
        ask(team, doc, team.editor, version=9)
    with pytest.raises(PermissionDenied):
        ask(team, doc, team.editor, by=team.commenter)
    with pytest.raises(NotFound):
        ask(team, doc, team.editor, by=team.outsider)
    assert not ApprovalRequest.objects.exists()
    assert "approval.requested" not in actions(doc)


def test_a_second_open_request_on_the_same_version_is_refused(team, doc) -> None:
    ask(team, doc, team.editor)
    with pytest.raises(Conflict, match="already has an open approval request"):
        ask(team, doc, team.commenter, by=team.editor)
    assert ApprovalRequest.objects.count() == 1


def test_a_document_in_the_trash_cannot_be_asked_about(team, doc) -> None:
    documents.document_delete(actor=team.manager, doc_access=access(team.manager, doc))
    with pytest.raises(NotFound):
        ask(team, doc, team.editor)


def test_deciding_twice_or_when_not_asked_or_after_cancelling_is_refused(team, doc) -> None:
    request = ask(team, doc, team.editor, team.commenter)
    decide(team.editor, doc, request)
    with pytest.raises(Conflict, match="already approved"):
        decide(team.editor, doc, request)
    with pytest.raises(ApplicationError, match="not asked"):
        decide(team.manager, doc, request)
    with pytest.raises(NotFound):
        decide(team.outsider, doc, request)
    services.approval_cancel(
        actor=team.manager, doc_access=access(team.manager, doc), request_id=request.pk,
        reason="Wrong file",
    )  # fmt: skip
    with pytest.raises(Conflict, match="cancelled"):
        decide(team.commenter, doc, request)
    request.refresh_from_db()
    assert request.state == RequestState.CANCELLED
    assert request.end_note == "Cancelled by Priya Shah: Wrong file"


def test_a_forged_request_id_is_not_found(team, doc) -> None:
    ask(team, doc, team.editor)
    other = upload(team.manager, team.workspace, "other.txt", b"other").document
    theirs = ask(team, other, team.editor)
    with pytest.raises(NotFound):
        decide(team.editor, doc, theirs)  # another document's request through this one
    with pytest.raises(NotFound):
        services.approval_decide(
            actor=team.editor, doc_access=access(team.editor, doc), request_id="not-a-uuid",
            approve=True,
        )  # fmt: skip


def test_approving_needs_the_second_factor_of_someone_who_has_one(team, doc) -> None:
    TOTP.activate(team.editor, generate_totp_secret())
    request = ask(team, doc, team.editor)
    with pytest.raises(ApplicationError) as refused:
        decide(team.editor, doc, request)
    assert refused.value.code == "second_factor_needed"
    assert request.approvers.get().decision == Decision.PENDING
    row = decide(team.editor, doc, request, second_factor="totp")
    assert row.second_factor == "totp"


def test_a_new_version_ends_the_request_and_it_can_be_asked_again_in_one_step(team, doc) -> None:
    request = ask(team, doc, team.editor, team.commenter, message="Please approve")
    decide(team.commenter, doc, request, approve=False, reason="Typo in item 2")
    upload(team.editor, team.workspace, "minutes.txt", b"version three")
    request.refresh_from_db()
    assert request.state == RequestState.DECLINED  # already ended: the upload changes nothing
    again = services.approval_ask_again(
        actor=team.manager, doc_access=access(team.manager, doc), request_id=request.pk
    )
    assert again.version.number == 3 and again.asks_again_id == request.pk
    assert again.message == "Please approve"
    assert set(again.approvers.values_list("user_id", flat=True)) == {
        team.editor.pk,
        team.commenter.pk,
    }
    # An open request is ended by a newer version, and says so.
    upload(team.editor, team.workspace, "minutes.txt", b"version four")
    again.refresh_from_db()
    assert again.state == RequestState.SUPERSEDED
    assert again.superseded_by_number == 4
    assert again.end_note == (
        "Version 4 was uploaded after this request; approvals given were for version 3."
    )
    with pytest.raises(Conflict, match="Version 4 was uploaded"):
        decide(team.editor, doc, again)


def test_a_comment_does_not_end_the_request(team, doc) -> None:
    from commonroom.comments.services import comment_create

    request = ask(team, doc, team.editor)
    comment_create(actor=team.commenter, doc_access=access(team.commenter, doc), body="Looks fine")
    request.refresh_from_db()
    assert request.is_open


def test_an_approver_removed_from_the_workspace_drops_out_and_the_rule_is_evaluated(
    team, doc
) -> None:
    request = ask(team, doc, team.editor, team.commenter)
    decide(team.editor, doc, request)
    workspaces.membership_remove(
        actor=team.manager,
        access=workspace_access(user=team.manager, workspace_id=team.workspace.pk),
        membership_id=membership(team, team.commenter),
    )
    request.refresh_from_db()
    row = Approver.objects.get(request=request, user=team.commenter)
    assert row.decision == Decision.REMOVED
    # Everyone left has approved: the record is sealed.
    assert request.state == RequestState.APPROVED
    assert any("left the workspace" in h.text for h in request.history.all())


def test_any_n_keeps_its_n_when_approvers_leave_and_ends_when_too_few_are_left(team, doc) -> None:
    request = ask(team, doc, team.editor, team.commenter, team.manager, rule="any", required=2)
    decide(team.editor, doc, request)
    workspaces.membership_remove(
        actor=team.manager,
        access=workspace_access(user=team.manager, workspace_id=team.workspace.pk),
        membership_id=membership(team, team.commenter),
    )
    request.refresh_from_db()
    assert (request.state, request.required) == (RequestState.OPEN, 2)  # not met by one
    services.approver_remove(
        actor=team.manager, doc_access=access(team.manager, doc), request_id=request.pk,
        user_id=team.manager.pk,
    )  # fmt: skip
    request.refresh_from_db()
    assert request.state == RequestState.DECLINED
    assert request.end_note == "The rule can no longer be met: too few people are left to approve."
    doc.refresh_from_db()
    assert doc.sealed_version_id is None


def test_an_approver_made_a_viewer_drops_out(team, doc) -> None:
    request = ask(team, doc, team.editor, team.commenter)
    workspaces.membership_change_role(
        actor=team.manager,
        access=workspace_access(user=team.manager, workspace_id=team.workspace.pk),
        membership_id=membership(team, team.commenter),
        role="viewer",
    )
    assert request.approvers.get(user=team.commenter).decision == Decision.REMOVED
    request.refresh_from_db()
    assert request.is_open  # the editor still has to decide


def test_the_requester_changes_an_open_request(team, doc) -> None:
    request = ask(team, doc, team.commenter, by=team.editor)
    mine = access(team.editor, doc)
    assert services.approval_remind(actor=team.editor, doc_access=mine, request_id=request.pk) == 1
    with pytest.raises(Conflict, match="a few minutes ago"):
        services.approval_remind(actor=team.editor, doc_access=mine, request_id=request.pk)
    services.approvers_add(
        actor=team.editor, doc_access=mine, request_id=request.pk, approver_ids=[team.manager.pk]
    )
    with pytest.raises(Conflict, match="already asked"):
        services.approvers_add(
            actor=team.editor, doc_access=mine, request_id=request.pk,
            approver_ids=[team.manager.pk],
        )  # fmt: skip
    due = timezone.localdate() + dt.timedelta(days=7)
    services.approval_due_date_change(
        actor=team.editor, doc_access=mine, request_id=request.pk, due_date=due.isoformat()
    )
    services.approver_remove(
        actor=team.editor, doc_access=mine, request_id=request.pk, user_id=team.commenter.pk
    )
    with pytest.raises(Conflict, match="only person asked"):
        services.approver_remove(
            actor=team.editor, doc_access=mine, request_id=request.pk, user_id=team.manager.pk
        )
    # Someone else, not a manager, cannot change it.
    with pytest.raises(PermissionDenied):
        services.approval_cancel(
            actor=team.commenter, doc_access=access(team.commenter, doc), request_id=request.pk
        )
    request.refresh_from_db()
    assert request.due_date == due
    assert [a.user_id for a in request.approvers.exclude(decision=Decision.REMOVED)] == [
        team.manager.pk
    ]
    assert len(request.history.all()) == 5
    reminded = Notification.objects.filter(dedupe_key__startswith="approval-reminder")
    assert [n.recipient_id for n in reminded] == [team.commenter.pk]
    assert "reminds you to approve version 2" in reminded[0].summary


def test_the_daily_job_reminds_once_before_the_due_date_and_once_when_overdue(team, doc) -> None:
    today = timezone.localdate()
    request = ask(team, doc, team.editor, team.commenter, due_date=today + dt.timedelta(days=1))
    decide(team.editor, doc, request)
    assert services.approvals_remind_due(today=today) == 1
    assert services.approvals_remind_due(today=today) == 0  # once
    assert services.approvals_remind_due(today=today + dt.timedelta(days=2)) == 1  # overdue
    assert services.approvals_remind_due(today=today + dt.timedelta(days=3)) == 0
    reminders = Notification.objects.filter(dedupe_key__startswith="approval-reminder")
    assert sorted(n.recipient_id for n in reminders) == [team.commenter.pk, team.commenter.pk]
    assert any(n.summary.startswith("Overdue") for n in reminders)


def test_the_trail_verifies_after_a_whole_request(team, doc) -> None:
    request = ask(team, doc, team.editor, team.commenter)
    decide(team.editor, doc, request)
    decide(team.commenter, doc, request)
    assert actions(doc)[-5:] == [
        "approval.requested",
        "approval.approved",
        "approval.approved",
        "document.sealed",
        "approval.ended",
    ]
    assert audit_verify().ok


def test_a_sealed_document_is_asked_about_no_more_with_the_seals_own_sentence(team, doc) -> None:
    request = ask(team, doc, team.editor)
    decide(team.editor, doc, request)
    with pytest.raises(Conflict) as refused:
        ask(team, doc, team.commenter)
    assert refused.value.code == "sealed"
    assert "version 2 is its final record" in refused.value.message
    assert ApprovalRequest.objects.count() == 1
