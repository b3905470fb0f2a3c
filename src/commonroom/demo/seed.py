"""The demo seed: five members (one of each role, two of them external guests) and an
administrator, the "Weekly budget meeting" workspace and its minutes in two versions, a
little discussion, and Priya's request that Tom and Aisha approve version 2. Built with the
real services, so the audit trail and blobs are real too."""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from docx import Document as DocxDocument

from commonroom.core.request_info import SYSTEM
from commonroom.documents.selectors import document_access
from commonroom.documents.services import document_upload, version_for_download, version_upload
from commonroom.workspaces.roles import Role
from commonroom.workspaces.selectors import workspace_access, workspace_named
from commonroom.workspaces.services import membership_add, workspace_create

if TYPE_CHECKING:
    from commonroom.workspaces.models import Workspace

WORKSPACE_NAME = "Weekly budget meeting"
MINUTES_NAME = "minutes-2026-11-24.docx"


@dataclass(frozen=True)
class DemoPerson:
    key: str
    full_name: str
    kind: str
    role: str
    admin: bool = False

    @property
    def email(self) -> str:
        return f"{self.key}@example.org"


PEOPLE = [
    DemoPerson("priya", "Priya Shah", "staff", Role.MANAGER),
    DemoPerson("tom", "Tom Evans", "staff", Role.EDITOR),
    DemoPerson("aisha", "Aisha Okafor", "guest", Role.COMMENTER),
    DemoPerson("sam", "Sam Taylor", "staff", Role.COMMENTER),
    DemoPerson("nina", "Nina Brooks", "guest", Role.VIEWER),  # a non-executive director
    DemoPerson("dev", "Dev Patel", "staff", "", admin=True),
]


def minutes_docx(*, amended: bool) -> bytes:
    doc = DocxDocument()
    doc.add_heading("Weekly budget meeting — minutes", level=1)
    doc.add_paragraph("Date: 24 November 2026. Chair: Priya Shah (board secretary).")
    doc.add_heading("1. Attendance", level=2)
    doc.add_paragraph("Present: Priya Shah, Tom Evans, Aisha Okafor (non-executive), Sam Taylor.")
    doc.add_heading("2. Month 7 position", level=2)
    doc.add_paragraph(
        "The trust reported a year-to-date deficit of £2.4m against a planned £1.9m."
        if not amended
        else "The trust reported a year-to-date deficit of £2.6m against a planned £1.9m, "
        "after the agency staffing correction."
    )
    table = doc.add_table(rows=1, cols=3)
    table.rows[0].cells[0].text = "Division"
    table.rows[0].cells[1].text = "Plan (£k)"
    table.rows[0].cells[2].text = "Actual (£k)"
    for division, plan, actual in [
        ("Medicine", "-850", "-1,120" if amended else "-1,020"),
        ("Surgery", "-600", "-790"),
        ("Community", "-450", "-690" if amended else "-590"),
    ]:
        row = table.add_row().cells
        row[0].text, row[1].text, row[2].text = division, plan, actual
    doc.add_heading("3. Actions", level=2)
    doc.add_paragraph("Tom to bring a recovery plan for agency spend.", style="List Bullet")
    doc.add_paragraph("Sam to report community nursing vacancies.", style="List Bullet")
    if amended:
        doc.add_paragraph(
            "Aisha asked for the recovery plan to include quality impact assessments.",
            style="List Bullet",
        )
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


@dataclass
class SeedResult:
    created: bool
    password: str | None
    workspace: Workspace


def seed_demo(*, password: str | None) -> SeedResult:
    """Create the demo once; on later runs, only reset passwords when one is given."""
    User = get_user_model()
    existing = workspace_named(WORKSPACE_NAME)
    if existing is not None:
        if password:
            for p in PEOPLE:
                user = User.objects.filter(email=p.email).first()
                if user is not None:
                    user.set_password(password)
                    user.save(update_fields=["password"])
        return SeedResult(created=False, password=password, workspace=existing)
    password = password or secrets.token_urlsafe(12)
    with transaction.atomic():
        users = {}
        for p in PEOPLE:
            user = User.objects.filter(email=p.email).first() or User(email=p.email)
            user.full_name = p.full_name
            user.kind = p.kind
            user.is_superuser = user.is_staff = p.admin
            user.set_password(password)
            user.save()
            users[p.key] = user
        ws = workspace_create(
            actor=users["priya"],
            name=WORKSPACE_NAME,
            description="Minutes, papers and sign-off for the weekly budget meeting.",
        )
        access = workspace_access(user=users["priya"], workspace_id=ws.pk)
        for p in PEOPLE:
            if p.role and p.key != "priya":
                membership_add(
                    actor=users["priya"],
                    access=access,
                    user=users[p.key],
                    role=p.role,
                    # Nina, a non-executive director, was invited for this quarter's meetings:
                    # her access ends in five days (the people page says so, with "Extend").
                    access_until=timezone.localdate() + timedelta(days=5)
                    if p.key == "nina"
                    else None,
                )
        v1 = document_upload(
            actor=users["priya"],
            access=access,
            uploaded=SimpleUploadedFile(MINUTES_NAME, minutes_docx(amended=False)),
            note="Draft minutes for review",
        )
        doc_access = document_access(
            user=users["tom"], workspace_id=ws.pk, document_id=v1.document_id
        )
        version_upload(
            actor=users["tom"],
            doc_access=doc_access,
            uploaded=SimpleUploadedFile(MINUTES_NAME, minutes_docx(amended=True)),
            based_on_number=1,
            note="Corrected the month 7 deficit and community figures",
        )
        _seed_discussion(users, ws, v1.document_id)
        _seed_approval(users, ws, v1.document_id)
        # Sam took a copy of version 2 for his budget pack: a download is a reading, so the
        # minutes' page shows managers and editors "1 of 5 members have read version 2".
        version_for_download(
            actor=users["sam"],
            doc_access=document_access(
                user=users["sam"], workspace_id=ws.pk, document_id=v1.document_id
            ),
            number=2,
            info=SYSTEM,
        )
    return SeedResult(created=True, password=password, workspace=ws)


def _seed_discussion(users: dict[str, Any], ws: Workspace, document_id: Any) -> None:
    """A few comments and a conversation, written through the real services (so they are
    audited, notify the people they mention and appear in "what needs me")."""
    from commonroom.comments.services import comment_create, comment_reply
    from commonroom.conversations.services import conversation_start, message_post

    def doc_as(key: str) -> Any:
        return document_access(user=users[key], workspace_id=ws.pk, document_id=document_id)

    def ws_as(key: str) -> Any:
        return workspace_access(user=users[key], workspace_id=ws.pk)

    first = comment_create(
        actor=users["aisha"],
        doc_access=doc_as("aisha"),
        version_number=1,
        body="Item 2: the community services figure looks like Q2's, not Q3's.",
    )
    comment_reply(
        actor=users["tom"],
        doc_access=doc_as("tom"),
        comment_id=first.pk,
        body="Well spotted, corrected in version 2. @aisha could you check the new figure?",
    )
    comment_create(
        actor=users["sam"],
        doc_access=doc_as("sam"),
        body="**Action 3** has no owner yet. @priya could you add one before sign-off?",
    )
    topic = conversation_start(
        actor=users["priya"],
        access=ws_as("priya"),
        title="Month 7 deficit recovery plan",
        body="Before Thursday's meeting, please read the amended minutes and say here whether "
        "the recovery actions are realistic.",
        document=doc_as("priya").document,
    )
    message_post(
        actor=users["tom"],
        access=ws_as("tom"),
        conversation_id=topic.pk,
        body="Agency spend is the big one. I'll bring the month 8 forecast.",
    )


def _seed_approval(users: dict[str, Any], ws: Workspace, document_id: Any) -> None:
    """Priya asks Tom and Aisha to approve the amended minutes: it waits on their home pages."""
    from commonroom.approvals.services import approval_request_create

    approval_request_create(
        actor=users["priya"],
        doc_access=document_access(
            user=users["priya"], workspace_id=ws.pk, document_id=document_id
        ),
        version_number=2,
        approver_ids=[users["tom"].pk, users["aisha"].pk],
        message="Please approve the amended minutes for the record before Thursday's meeting.",
        due_date=timezone.localdate() + timedelta(days=3),
    )
