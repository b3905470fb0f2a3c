"""Every audited action writes its audit row LAST in its transaction: from the moment it touches
its chain's head (locking it, on PostgreSQL) to the commit, it runs no statement but the
audit row's and the head's. So the head is held for two statements, never through a comment's
notifications, search indexing or live event.

Each case runs a real service and reads the SQL it sent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from commonroom.accounts.services import (
    guest_api_tokens_allow,
    sessions_end_all,
    sign_in_failure_record,
    token_create,
    token_revoke,
)
from commonroom.comments import services as comments
from commonroom.conversations import services as conversations
from commonroom.core.exceptions import PermissionDenied
from commonroom.core.request_info import SYSTEM
from commonroom.documents import services as documents
from commonroom.documents.models import Document, Folder
from commonroom.documents.selectors import reading_token
from commonroom.documents.tests.factories import (
    a_file,
    access_for,
    doc_access_for,
    make_folder,
    upload,
)
from commonroom.previews.services import preview_record_view
from commonroom.previews.tests.factories import make_ready_preview
from commonroom.workspaces import services as workspaces
from commonroom.workspaces.models import Membership, Workspace

HEAD = "audit_auditchainhead"
AUDIT = (HEAD, "audit_auditevent")
CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "COMMIT", "BEGIN")


def after_the_head(sqls: list[str]) -> list[str]:
    """The statements sent after the first one on the chain heads that are not the audit
    row's, the head's or transaction control."""
    first = next(i for i, sql in enumerate(sqls) if HEAD in sql)
    return [
        sql
        for sql in sqls[first:]
        if not any(table in sql for table in AUDIT) and not sql.lstrip().upper().startswith(CONTROL)
    ]


def comment_on(team: Any) -> Any:
    doc = upload(team.editor, team.workspace, "notes.txt", b"Some notes\n").document
    comment = comments.comment_create(
        actor=team.commenter, doc_access=doc_access_for(team.commenter, doc), body="First"
    )
    return doc, comment


def a_conversation(team: Any) -> Any:
    return conversations.conversation_start(
        actor=team.editor, access=access_for(team.editor, team.workspace), title="Plan", body="Hi"
    )


def first_message(conversation: Any) -> Any:
    return conversation.messages.order_by("created_at").first()


def trashed_document(team: Any) -> Document:
    doc = upload(team.editor, team.workspace, "old.txt", b"Old\n").document
    documents.document_delete(actor=team.editor, doc_access=doc_access_for(team.editor, doc))
    doc.refresh_from_db()
    return doc


def trashed_folder(team: Any) -> Folder:
    folder = make_folder(team.editor, team.workspace, "Archive")
    upload(team.editor, team.workspace, "in-it.txt", b"In it\n", folder=folder)
    documents.folder_delete(
        actor=team.editor, access=access_for(team.editor, team.workspace), folder=folder
    )
    folder.refresh_from_db()
    return folder


def case_comment_create(team: Any) -> Callable[[], object]:
    doc = upload(team.editor, team.workspace, "notes.txt", b"Some notes\n").document
    return lambda: comments.comment_create(
        actor=team.commenter,
        doc_access=doc_access_for(team.commenter, doc),
        body=f"@{team.manager.email} please look",  # a mention: notifications fan out too
    )


def case_comment_reply(team: Any) -> Callable[[], object]:
    doc, comment = comment_on(team)
    return lambda: comments.comment_reply(
        actor=team.editor,
        doc_access=doc_access_for(team.editor, doc),
        comment_id=comment.pk,
        body="Yes",
    )


def case_comment_edit(team: Any) -> Callable[[], object]:
    doc, comment = comment_on(team)
    return lambda: comments.comment_edit(
        actor=team.commenter,
        doc_access=doc_access_for(team.commenter, doc),
        comment_id=comment.pk,
        body="Second thoughts",
    )


def case_comment_delete(team: Any) -> Callable[[], object]:
    doc, comment = comment_on(team)
    return lambda: comments.comment_delete(
        actor=team.commenter, doc_access=doc_access_for(team.commenter, doc), comment_id=comment.pk
    )


def case_comment_resolve(team: Any) -> Callable[[], object]:
    doc, comment = comment_on(team)
    return lambda: comments.comment_set_resolved(
        actor=team.editor,
        doc_access=doc_access_for(team.editor, doc),
        comment_id=comment.pk,
        resolved=True,
    )


def case_conversation_start(team: Any) -> Callable[[], object]:
    return lambda: a_conversation(team)


def case_message_post(team: Any) -> Callable[[], object]:
    conversation = a_conversation(team)
    return lambda: conversations.message_post(
        actor=team.commenter,
        access=access_for(team.commenter, team.workspace),
        conversation_id=conversation.pk,
        body="Agreed",
    )


def case_message_edit(team: Any) -> Callable[[], object]:
    conversation = a_conversation(team)
    return lambda: conversations.message_edit(
        actor=team.editor,
        access=access_for(team.editor, team.workspace),
        conversation_id=conversation.pk,
        message_id=first_message(conversation).pk,
        body="Hello all",
    )


def case_message_delete(team: Any) -> Callable[[], object]:
    conversation = a_conversation(team)
    return lambda: conversations.message_delete(
        actor=team.editor,
        access=access_for(team.editor, team.workspace),
        conversation_id=conversation.pk,
        message_id=first_message(conversation).pk,
    )


def case_document_upload(team: Any) -> Callable[[], object]:
    return lambda: upload(team.editor, team.workspace, "new.txt", b"New\n")


def case_version_upload(team: Any) -> Callable[[], object]:
    doc = upload(team.editor, team.workspace, "rota.txt", b"Mon\n").document
    return lambda: documents.version_upload(
        actor=team.editor,
        doc_access=doc_access_for(team.editor, doc),
        uploaded=a_file("rota.txt", b"Tue\n"),
    )


def case_version_restore(team: Any) -> Callable[[], object]:
    doc = upload(team.editor, team.workspace, "rota.txt", b"Mon\n").document
    documents.version_upload(
        actor=team.editor,
        doc_access=doc_access_for(team.editor, doc),
        uploaded=a_file("rota.txt", b"Tue\n"),
    )
    return lambda: documents.version_restore(
        actor=team.editor, doc_access=doc_access_for(team.editor, doc), number=1
    )


def case_document_view(team: Any) -> Callable[[], object]:
    doc = upload(team.editor, team.workspace).document
    return lambda: documents.document_record_view(
        actor=team.viewer, doc_access=doc_access_for(team.viewer, doc), info=SYSTEM
    )


def case_preview_view(team: Any) -> Callable[[], object]:
    doc = upload(team.editor, team.workspace).document
    make_ready_preview(doc)
    return lambda: preview_record_view(
        actor=team.viewer, doc_access=doc_access_for(team.viewer, doc), version=doc.versions.get()
    )


def case_download(team: Any) -> Callable[[], object]:
    doc = upload(team.editor, team.workspace).document
    return lambda: documents.version_for_download(
        actor=team.viewer, doc_access=doc_access_for(team.viewer, doc), number=1, info=SYSTEM
    )


def case_download_from_the_page(team: Any) -> Callable[[], object]:
    doc = upload(team.editor, team.workspace).document
    return lambda: documents.version_download(
        actor=team.viewer, doc_access=doc_access_for(team.viewer, doc), number=1, info=SYSTEM
    )


def case_download_watermarked(team: Any) -> Callable[[], object]:
    from fpdf import FPDF

    from commonroom.accounts.tests.factories import UserFactory
    from commonroom.workspaces.models import Workspace
    from commonroom.workspaces.tests.factories import add_member

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Minutes.")
    doc = upload(team.editor, team.workspace, "minutes.pdf", bytes(pdf.output())).document
    # Its viewers, guests among them, may download (decision 27); guests' PDFs are stamped.
    Workspace.objects.filter(pk=team.workspace.pk).update(
        watermark_guest_downloads=True, viewers_download="everyone"
    )
    guest = add_member(team.workspace, UserFactory(kind="guest"), "viewer")
    return lambda: documents.version_download(
        actor=guest, doc_access=doc_access_for(guest, doc), number=1, info=SYSTEM
    )


def case_version_read(team: Any) -> Callable[[], object]:
    doc = upload(team.editor, team.workspace).document
    doc_access = doc_access_for(team.viewer, doc)
    past = timezone.now() - timedelta(seconds=30)
    with mock.patch("django.utils.timezone.now", return_value=past):
        token = reading_token(user=team.viewer, doc_access=doc_access, version=doc.versions.get())
    return lambda: documents.version_read_record(
        actor=team.viewer, doc_access=doc_access, number=1, token=token, visible_seconds=6
    )


def case_version_read_by_approval(team: Any) -> Callable[[], object]:
    doc = upload(team.editor, team.workspace).document
    return lambda: documents.version_read_by_approval(
        actor=team.viewer, version_id=doc.versions.get().pk
    )


def case_document_readers_remind(team: Any) -> Callable[[], object]:
    doc = upload(team.editor, team.workspace).document
    return lambda: documents.document_readers_remind(
        actor=team.editor, doc_access=doc_access_for(team.editor, doc)
    )


def case_document_rename(team: Any) -> Callable[[], object]:
    doc = upload(team.editor, team.workspace).document
    return lambda: documents.document_rename(
        actor=team.editor, doc_access=doc_access_for(team.editor, doc), name="renamed.txt"
    )


def case_document_move(team: Any) -> Callable[[], object]:
    doc = upload(team.editor, team.workspace).document
    folder = make_folder(team.editor, team.workspace, "Papers")
    return lambda: documents.document_move(
        actor=team.editor, doc_access=doc_access_for(team.editor, doc), folder=folder
    )


def case_document_delete(team: Any) -> Callable[[], object]:
    doc = upload(team.editor, team.workspace).document
    return lambda: documents.document_delete(
        actor=team.editor, doc_access=doc_access_for(team.editor, doc)
    )


def case_document_restore(team: Any) -> Callable[[], object]:
    doc = trashed_document(team)
    return lambda: documents.document_restore(
        actor=team.manager, access=access_for(team.manager, team.workspace), document=doc
    )


def case_document_revive(team: Any) -> Callable[[], object]:
    doc = trashed_document(team)  # by the editor, moments ago
    return lambda: documents.document_revive(
        actor=team.editor, access=access_for(team.editor, team.workspace), document=doc
    )


def case_document_purge(team: Any) -> Callable[[], object]:
    doc = trashed_document(team)
    return lambda: documents.document_purge(
        actor=team.manager, access=access_for(team.manager, team.workspace), document=doc
    )


def _sealed_in_a_transaction(team: Any, doc: Document) -> object:
    from django.db import transaction

    with transaction.atomic():  # as an approval seals, in its own transaction
        doc = Document.objects.get(pk=doc.pk)
        return documents.version_seal(
            actor=team.commenter, document=doc, version=doc.versions.get(number=1)
        )


def case_version_seal(team: Any) -> Callable[[], object]:
    doc = upload(team.editor, team.workspace).document
    return lambda: _sealed_in_a_transaction(team, doc)


def case_document_reopen(team: Any) -> Callable[[], object]:
    doc = upload(team.editor, team.workspace).document
    _sealed_in_a_transaction(team, doc)
    return lambda: documents.document_reopen(
        actor=team.manager, doc_access=doc_access_for(team.manager, doc), reason="Typo"
    )


def case_document_lock_break(team: Any) -> Callable[[], object]:
    from commonroom.webdav.tests.client import Dav

    upload(team.editor, team.workspace, "minutes.docx", b"v1")
    assert Dav(team.editor).lock("/Weekly budget meeting/minutes.docx").status_code == 200
    doc = Document.objects.get(name="minutes.docx")
    return lambda: documents.document_lock_break(
        actor=team.manager, doc_access=doc_access_for(team.manager, doc)
    )


def case_record_purge_refused(team: Any) -> Callable[[], object]:
    doc = upload(team.editor, team.workspace).document
    _sealed_in_a_transaction(team, doc)
    documents.document_reopen(
        actor=team.manager, doc_access=doc_access_for(team.manager, doc), reason="Typo"
    )
    documents.document_delete(actor=team.manager, doc_access=doc_access_for(team.manager, doc))

    def refused() -> None:
        with pytest.raises(documents.UnderRetention):
            documents.document_purge(
                actor=team.manager,
                access=access_for(team.manager, team.workspace),
                document=Document.objects.get(pk=doc.pk),
            )

    return refused


def case_folder_create(team: Any) -> Callable[[], object]:
    return lambda: make_folder(team.editor, team.workspace, "Minutes")


def case_folder_rename(team: Any) -> Callable[[], object]:
    folder = make_folder(team.editor, team.workspace, "Minutes")
    return lambda: documents.folder_rename(
        actor=team.editor,
        access=access_for(team.editor, team.workspace),
        folder=folder,
        name="Notes",
    )


def case_folder_move(team: Any) -> Callable[[], object]:
    folder = make_folder(team.editor, team.workspace, "Minutes")
    parent = make_folder(team.editor, team.workspace, "2026")
    return lambda: documents.folder_move(
        actor=team.editor,
        access=access_for(team.editor, team.workspace),
        folder=folder,
        parent=parent,
    )


def case_folder_delete(team: Any) -> Callable[[], object]:
    folder = make_folder(team.editor, team.workspace, "Minutes")
    upload(team.editor, team.workspace, "in-it.txt", b"In it\n", folder=folder)
    return lambda: documents.folder_delete(
        actor=team.editor, access=access_for(team.editor, team.workspace), folder=folder
    )


def case_folder_restore(team: Any) -> Callable[[], object]:
    folder = trashed_folder(team)
    return lambda: documents.folder_restore(
        actor=team.manager, access=access_for(team.manager, team.workspace), folder=folder
    )


def case_folder_purge(team: Any) -> Callable[[], object]:
    folder = trashed_folder(team)
    return lambda: documents.folder_purge(
        actor=team.manager, access=access_for(team.manager, team.workspace), folder=folder
    )


def case_blobs_collected(team: Any) -> Callable[[], object]:
    doc = trashed_document(team)
    documents.document_purge(
        actor=team.manager, access=access_for(team.manager, team.workspace), document=doc
    )
    return lambda: documents.blobs_collect_garbage(grace=timedelta(0))


def case_workspace_create(team: Any) -> Callable[[], object]:
    return lambda: workspaces.workspace_create(actor=team.manager, name="Another")


def case_workspace_update(team: Any) -> Callable[[], object]:
    return lambda: workspaces.workspace_update(
        actor=team.manager, access=access_for(team.manager, team.workspace), name="Renamed"
    )


def case_workspace_archive(team: Any) -> Callable[[], object]:
    return lambda: workspaces.workspace_set_archived(
        actor=team.manager, access=access_for(team.manager, team.workspace), archived=True
    )


def case_invitation_create(team: Any) -> Callable[[], object]:
    return lambda: workspaces.invitation_create(
        actor=team.manager,
        access=access_for(team.manager, team.workspace),
        email="new@example.org",
        role="viewer",
    )


def case_invitation_revoke(team: Any) -> Callable[[], object]:
    issued = workspaces.invitation_create(
        actor=team.manager,
        access=access_for(team.manager, team.workspace),
        email="new@example.org",
        role="viewer",
    )
    return lambda: workspaces.invitation_revoke(
        actor=team.manager,
        access=access_for(team.manager, team.workspace),
        invitation_id=issued.invitation.pk,
    )


def case_invitation_accept(team: Any) -> Callable[[], object]:
    issued = workspaces.invitation_create(
        actor=team.manager,
        access=access_for(team.manager, team.workspace),
        email="new@example.org",
        role="viewer",
    )
    return lambda: workspaces.invitation_accept(
        token=issued.token, full_name="New Person", password="a long enough passphrase 1"
    )


def case_role_change(team: Any) -> Callable[[], object]:
    membership = Membership.objects.get(user=team.viewer, workspace=team.workspace)
    return lambda: workspaces.membership_change_role(
        actor=team.manager,
        access=access_for(team.manager, team.workspace),
        membership_id=membership.pk,
        role="commenter",
    )


def case_member_add(team: Any) -> Callable[[], object]:
    return lambda: workspaces.membership_add(
        actor=team.manager,
        access=access_for(team.manager, team.workspace),
        user=team.outsider,
        role="commenter",
    )


def case_member_invite_adds_an_account(team: Any) -> Callable[[], object]:
    # An address with an account is a member at once: the notification before the audit row.
    return lambda: workspaces.member_invite(
        actor=team.manager,
        access=access_for(team.manager, team.workspace),
        email=team.outsider.email,
        role="commenter",
    )


def case_member_remove(team: Any) -> Callable[[], object]:
    membership = Membership.objects.get(user=team.viewer, workspace=team.workspace)
    return lambda: workspaces.membership_remove(
        actor=team.manager,
        access=access_for(team.manager, team.workspace),
        membership_id=membership.pk,
    )


def case_member_access_until(team: Any) -> Callable[[], object]:
    from django.utils import timezone

    membership = Membership.objects.get(user=team.viewer, workspace=team.workspace)
    return lambda: workspaces.membership_set_access_until(
        actor=team.manager,
        access=access_for(team.manager, team.workspace),
        membership_id=membership.pk,
        access_until=timezone.localdate(),
    )


def case_member_access_ended(team: Any) -> Callable[[], object]:
    from django.utils import timezone

    today = timezone.localdate()
    Membership.objects.filter(user=team.viewer).update(access_until=today)
    return lambda: workspaces.memberships_access_end(today=today + timedelta(days=1))


def case_member_access_notice(team: Any) -> Callable[[], object]:
    from django.utils import timezone

    today = timezone.localdate()
    Membership.objects.filter(user=team.viewer).update(access_until=today + timedelta(days=3))
    return lambda: workspaces.memberships_access_notify(today=today)


def case_guests_remove(team: Any) -> Callable[[], object]:
    from commonroom.accounts.tests.factories import GuestFactory
    from commonroom.workspaces.tests.factories import add_member, make_workspace

    second = make_workspace(manager=team.manager, name="Audit committee")
    ids = []
    for ws in (team.workspace, second):
        guest = add_member(ws, GuestFactory.create(), "viewer")
        ids.append(Membership.objects.get(user=guest, workspace=ws).pk)
    return lambda: workspaces.guests_remove(actor=team.manager, membership_ids=ids)


def case_token_create(team: Any) -> Callable[[], object]:
    return lambda: token_create(actor=team.editor, name="script")


def case_token_revoke(team: Any) -> Callable[[], object]:
    issued = token_create(actor=team.editor, name="script")
    return lambda: token_revoke(actor=team.editor, token_id=issued.token.pk)


def case_guest_api_tokens_allow(team: Any) -> Callable[[], object]:
    from commonroom.accounts.tests.factories import GuestFactory

    guest = GuestFactory.create()
    return lambda: guest_api_tokens_allow(person=guest)


def case_sessions_end(team: Any) -> Callable[[], object]:
    return lambda: sessions_end_all(actor=team.editor)


def case_failed_sign_in(team: Any) -> Callable[[], object]:
    return lambda: sign_in_failure_record(credentials={"email": "nobody@example.org"}, info=SYSTEM)


def _email_code_sent(person: Any, purpose: str) -> tuple[int, str]:
    """A code emailed to ``person``: its id and its digits, as read from the email."""
    import re

    from django.core import mail

    from commonroom.accounts.services import email_code_send

    sent = email_code_send(user=person, purpose=purpose)
    found = re.search(r"^(\d{6})$", str(mail.outbox[-1].body), re.M)
    assert found is not None
    return sent.id, found.group(1)


def case_email_code_factor_add(team: Any) -> Callable[[], object]:
    from commonroom.accounts.services import email_code_factor_add

    code_id, code = _email_code_sent(team.editor, "set_up")
    return lambda: email_code_factor_add(actor=team.editor, code_id=code_id, code=code)


def case_email_code_factor_remove(team: Any) -> Callable[[], object]:
    from commonroom.accounts.services import email_code_factor_add, email_code_factor_remove

    code_id, code = _email_code_sent(team.editor, "set_up")
    email_code_factor_add(actor=team.editor, code_id=code_id, code=code)
    return lambda: email_code_factor_remove(actor=team.editor)


def case_email_code_wrong(team: Any) -> Callable[[], object]:
    from commonroom.accounts.exceptions import EmailCodeRefused
    from commonroom.accounts.services import email_code_check

    code_id, code = _email_code_sent(team.editor, "sign_in")

    def wrong() -> None:
        with pytest.raises(EmailCodeRefused):
            email_code_check(
                user=team.editor,
                code_id=code_id,
                code=f"{(int(code) + 1) % 10**6:06d}",
                purpose="sign_in",
            )

    return wrong


def case_tracked_changes_download(team: Any) -> Callable[[], object]:
    from commonroom.suggestions import services as suggestions
    from commonroom.suggestions.tests.factories import access, docx_bytes, with_preview

    doc = with_preview(team.manager, team.workspace, "minutes.docx", docx_bytes("The board met."))
    return lambda: suggestions.tracked_changes_download(
        actor=team.viewer, doc_access=access(team.viewer, doc), number=1
    )


def case_download_refused(team: Any) -> Callable[[], object]:
    doc = upload(team.editor, team.workspace).document
    Workspace.objects.filter(pk=team.workspace.pk).update(viewers_download="nobody")

    def refused() -> None:
        with pytest.raises(PermissionDenied):
            documents.version_for_download(
                actor=team.viewer,
                doc_access=doc_access_for(team.viewer, doc),
                number=1,
                info=SYSTEM,
            )

    return refused


CASES = {name[5:]: case for name, case in dict(globals()).items() if name.startswith("case_")}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_audit_row_is_the_last_write(team, name):
    action = CASES[name](team)
    with CaptureQueriesContext(connection) as captured:
        action()
    sqls = [q["sql"] for q in captured.captured_queries]
    assert any("INSERT INTO" in s and "audit_auditevent" in s for s in sqls), "nothing audited"
    assert after_the_head(sqls) == []
