"""What approvals follow.

- ``documents.hooks``: a new version ends the open requests on the document's older versions
  (``services.approvals_end_for_version``), inside the transaction that adds it. A suggestion
  made or a comment added changes no bytes and ends nothing; accepting suggestions makes a new
  version, so it ends them as an upload does.
- ``workspaces.hooks``: a member removed, or whose new role may not comment, drops out of the
  workspace's open requests, each evaluated again (``services.approver_left``).
- Its own ``ApprovalDecided``: an approval counts as reading the version (documents'
  ``services.version_read_by_approval``, after the commit).
- The document page: its requests, what the reader may do, whom they may ask
  (``documents.hooks`` page part); the home page: "Awaiting my approval"
  (``workspaces.hooks`` home part).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.template.loader import render_to_string
from django.utils.translation import get_language

from commonroom.accounts.selectors import people_digest
from commonroom.approvals import hooks as approvals
from commonroom.approvals.permissions import may_ask
from commonroom.approvals.selectors import (
    approver_choices,
    awaiting_my_approval,
    document_requests,
)
from commonroom.approvals.services import approvals_end_for_version, approver_left
from commonroom.core.fragments import Fragment
from commonroom.documents import hooks as documents
from commonroom.documents.services import version_read_by_approval
from commonroom.live.selectors import page_revision
from commonroom.workspaces import hooks as workspaces


def on_version_added(change: documents.VersionAdded) -> None:
    if change.document_created:
        return
    approvals_end_for_version(actor=change.actor, document=change.document, version=change.version)


def on_member_removed(change: workspaces.MemberRemoved) -> None:
    approver_left(
        actor=change.actor, workspace_id=change.workspace.pk, user_id=change.user_id, role=None
    )


def on_member_role_changed(change: workspaces.MemberRoleChanged) -> None:
    approver_left(
        actor=change.actor, workspace_id=change.workspace.pk, user_id=change.user_id,
        role=change.role,
    )  # fmt: skip


def on_approval_decided(change: approvals.ApprovalDecided) -> None:
    """An approval is a reading of the version (decision 26): its read receipt, recorded once
    the approval is committed, in a transaction of its own (so its audit row never comes
    before the approval's)."""
    if change.approver.decision != "approved":
        return
    actor, version_id = change.approver.user, change.request.version_id
    transaction.on_commit(
        lambda: version_read_by_approval(actor=actor, version_id=version_id), robust=True
    )


def document_page(page: documents.DocumentPage) -> Mapping[str, Any]:
    """The page's Approval section, drawn again only when what it shows may have changed since
    it was last drawn for this reader (``core.fragments``): the workspace's newest live event
    (every request asked, changed, decided on or ended is one), the document's latest and
    sealed versions, the reader (their kind and address: a guest is offered no certificate of
    a watermarked record) and what they may do, the workspace's settings, the language, and
    everyone the reader could ask (read for the page: members change without an event); the
    names shown are checked."""
    doc_access, user = page.doc_access, page.user
    doc, access = doc_access.document, doc_access.access
    ask = may_ask(doc_access) and bool(page.versions)
    choices = approver_choices(doc_access=doc_access) if ask else []
    key = (
        doc.pk,
        doc.current_version_number,
        doc.sealed_version_id,
        page_revision(access=access),
        user.pk,
        user.kind,
        user.email,
        sorted((k, v) for k, v in vars(access.workspace).items() if not k.startswith("_")),
        sorted(doc_access.abilities.items()),
        sorted(access.abilities.items()),
        ask,
        tuple((p.pk, p.email, p.full_name, p.kind) for p in choices),
        get_language(),
    )

    def build(csrf_token: str) -> str:
        requests = document_requests(doc_access=doc_access, user=user)
        context = {
            "workspace": access.workspace,
            "document": doc,
            "approval_requests": requests,
            "approval_open": next((r for r in requests if r.is_open), None),
            "may_ask_approval": ask,
            "approver_choices": choices,
            "csrf_token": csrf_token,
        }
        return render_to_string("approvals/_section.html", context)

    return {
        "approvals_fragment": Fragment(
            name="approvals.section", key=key, build=build, people=people_digest
        )
    }


def home_page(page: workspaces.HomePage) -> Mapping[str, Any]:
    return {"awaiting_approval": awaiting_my_approval(user=page.user)}


def connect() -> None:
    documents.subscribe(documents.VersionAdded, on_version_added)
    approvals.subscribe(approvals.ApprovalDecided, on_approval_decided)
    workspaces.subscribe(workspaces.MemberRemoved, on_member_removed)
    workspaces.subscribe(workspaces.MemberRoleChanged, on_member_role_changed)
    documents.add_page_part(document_page)
    workspaces.add_home_part(home_page)
