"""Every row lock (``select_for_update``) is there for a race, and a test here runs that race.

Each test runs two pieces of work really at once, each in a thread with its own database
connection (as two server processes): the first is held inside its transaction just after it
took its lock, the second is started meanwhile, then the first is let go. The test asserts what
the lock is for (one email, one audit event, events committed in id order...). On PostgreSQL,
dropping the lock fails the test: the second reads the row before the first commits.

On SQLite ``select_for_update`` does nothing; the same races are decided there by the database
itself. Every transaction begins ``IMMEDIATE`` (``settings.DATABASES``), taking the database's
one write lock at its start and holding it to its end, so the second piece of work cannot even
begin its transaction until the first has committed: the tests pass on SQLite because writers
are serialised whole, and would fail there if transactions began ``DEFERRED`` (the second would
read the row the first is about to change).

``LOCKS`` names every function that takes a row lock and the test that shows it matters, or why
it is redundant; a new ``select_for_update`` or upsert (``ON CONFLICT ... DO UPDATE``) without a
line there fails ``test_every_row_lock_is_accounted_for``.
"""

from __future__ import annotations

import ast
import uuid
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from commonroom.accounts.services import token_create, token_revoke
from commonroom.accounts.tests.factories import UserFactory
from commonroom.audit.models import Action, AuditEvent
from commonroom.audit.selectors import audit_verify
from commonroom.audit.services import audit_record
from commonroom.core.exceptions import Gone, PermissionDenied
from commonroom.core.tests.in_flight import (
    InFlight,
    held,
    on_postgresql,
    one_after_another,
    waits_for_lock,
)
from commonroom.documents.models import Blob, blob_storage_name
from commonroom.documents.services import blob_store, blobs_collect_garbage, document_rename
from commonroom.documents.tests.factories import a_file, doc_access_for, upload
from commonroom.live.models import Event
from commonroom.live.services import publish
from commonroom.live.tests.factories import an_event
from commonroom.notifications import services as notifications
from commonroom.notifications.models import NotificationSettings
from commonroom.notifications.tests.factories import make_notification
from commonroom.previews.models import Preview, PreviewStatus, WorkspacePreview
from commonroom.previews.services import preview_make, previews_requeue_stuck
from commonroom.search.selectors import search
from commonroom.search.services import preview_made
from commonroom.workspaces import services as workspaces
from commonroom.workspaces.models import Workspace
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.tests.factories import upload_document

pytestmark = pytest.mark.django_db(transaction=True)

SRC = Path(__file__).resolve().parents[2]  # src/commonroom

REDUNDANT_UNDER_WORKSPACE_LOCK = (
    "redundant: taken after the workspace row lock (lock_access), which every write in the "
    "workspace takes first; test_in_flight.py and the documents' concurrency tests show that lock"
)

COLLECTOR = "test_an_upload_of_bytes_the_collector_is_deleting_waits_and_stores_them_again"

# "<app>.<module>.<function>": the test that shows its lock matters, or why it need not.
LOCKS: dict[str, str] = {
    "accounts.services.token_revoke": "test_two_revokes_of_one_token_record_one",
    "notifications.services.send_notification_emails": "test_two_email_runs_send_each_once",
    "notifications.services.send_digests": "test_two_digest_runs_send_one_digest",
    "workspaces.services.invitation_for_token": (
        "test_an_invitation_accepted_twice_at_once, "
        "test_an_invitation_withdrawn_while_it_is_being_accepted (the workspace's row; the "
        "invitation's own lock after it is redundant)"
    ),
    # The workspace's row, locked for workspaces.services.workspace_lock and lock_access
    # (SQL built once per process: decision 48).
    "workspaces.selectors._workspace_for_update": (
        "test_a_workspace_events_commit_in_id_order (live.services.publish takes it), "
        "test_a_late_preview_of_an_older_version_does_not_overwrite_the_search_entry "
        "(search.services.preview_made takes it), "
        "test_a_write_waits_for_an_archive_in_progress_and_is_then_refused, "
        "test_an_archive_waits_for_a_write_in_flight (lock_access takes it)"
    ),
    "previews.services.previews_requeue_stuck": "test_two_workers_requeue_a_stuck_preview_once",
    "previews.services._make": "test_two_workers_make_one_preview_once",
    "previews.services.preview_make": (
        "test_a_worker_that_fails_does_not_undo_a_preview_another_has_made"
    ),
    "previews.services.preview_requested": (
        "test_an_upload_of_known_bytes_while_their_preview_is_recorded_gets_it"
    ),
    "previews.services._give_made": "test_two_tasks_give_a_workspace_its_preview_once",
    # The chain's head, locked by audit.services._locked_head (SQL built once per process),
    # and by the ORM there for a chain's first event.
    "audit.services._head_for_update": (
        "test_two_events_of_one_audit_chain_at_once_both_land_in_order, "
        "test_the_first_events_of_a_new_audit_chain_at_once_land_in_order"
    ),
    # Not a lock: a prepared read asks whether the query it builds locks (refused outside a
    # transaction on every run, core/tests/test_prepared.py).
    "core.prepared._sql": "no lock taken: it reads the query's select_for_update flag",
    "audit.services._locked_head": (
        "test_two_events_of_one_audit_chain_at_once_both_land_in_order, "
        "test_the_first_events_of_a_new_audit_chain_at_once_land_in_order"
    ),
    # An upsert (ON CONFLICT ... DO UPDATE) locks the row it touches as an update does.
    "documents.services._blob_claim": COLLECTOR,
    "documents.services.blobs_collect_garbage": COLLECTOR,
    "core.services._give_back": (
        "test_worker_leases.py::test_two_workers_starting_at_once_give_each_task_back_once"
    ),
    "previews.services.preview_remake": (
        "NOT TESTED: it decides whether to keep a ready preview on the status read under the "
        "lock; a race test needs one of two conversions of the same file to fail and the "
        "other to succeed, which the sandboxed converters cannot be made to do per attempt"
    ),
    "workspaces.services.invitation_revoke": REDUNDANT_UNDER_WORKSPACE_LOCK,
    "workspaces.services._lock_members": REDUNDANT_UNDER_WORKSPACE_LOCK,
    "comments.services._locked_comment": REDUNDANT_UNDER_WORKSPACE_LOCK,
    "comments.services.threads_resolve": REDUNDANT_UNDER_WORKSPACE_LOCK,
    "conversations.services._locked_conversation": REDUNDANT_UNDER_WORKSPACE_LOCK,
    "conversations.services._locked_message": REDUNDANT_UNDER_WORKSPACE_LOCK,
    # The document's row, for documents.services.document_access_locked and _add_version.
    "documents.selectors._document_for_update": REDUNDANT_UNDER_WORKSPACE_LOCK,
    # One person's own row made or moved up, never down (its WHERE): two at once for the same
    # person and document are decided by the unique constraint, whichever comes second updating
    # only to a higher number; it is not taken to order anything else. (_mark_seen runs the
    # statement _mark_seen_sql builds once.)
    "notifications.services._mark_seen_sql": (
        "core/tests/test_prepared_insert.py::"
        "test_a_version_seen_moves_the_persons_row_up_never_down; "
        "no race test: the statement is one upsert, atomic in both databases"
    ),
    "documents.services.document_move": REDUNDANT_UNDER_WORKSPACE_LOCK,
    "documents.services.document_restore": REDUNDANT_UNDER_WORKSPACE_LOCK,
    "documents.services._document_purge": REDUNDANT_UNDER_WORKSPACE_LOCK,
    "documents.services._folder_purge": REDUNDANT_UNDER_WORKSPACE_LOCK,
    "approvals.services.approvals_remind_due": (
        "approvals/tests/test_concurrency.py::"
        "test_two_reminder_runs_at_once_remind_each_request_once"
    ),
    # Its caller holds the workspace's lock (an approval), and it takes it again.
    "documents.services.version_seal": REDUNDANT_UNDER_WORKSPACE_LOCK,
}


def row_lock_sites() -> set[str]:
    found = set()
    for path in sorted(SRC.glob("*/*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                calls = [
                    n
                    for n in ast.walk(node)
                    if (isinstance(n, ast.Attribute) and n.attr == "select_for_update")
                    or (
                        isinstance(n, ast.Constant)
                        and isinstance(n.value, str)
                        and "DO UPDATE" in n.value.upper()
                    )
                ]
                if calls:
                    found.add(f"{path.parent.name}.{path.stem}.{node.name}")
    return found


@pytest.mark.django_db(transaction=False)
def test_every_row_lock_is_accounted_for():
    sites = row_lock_sites()
    assert sites, "the search found no select_for_update at all"
    missing = sorted(sites - set(LOCKS))
    gone = sorted(set(LOCKS) - sites)
    assert not missing, f"row locks without a test that shows what they are for: {missing}"
    assert not gone, f"LOCKS names functions that no longer take a row lock: {gone}"


# --- Races -------------------------------------------------------------------------------------


def events(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


def test_two_revokes_of_one_token_record_one():
    person = UserFactory.create()
    token = token_create(actor=person, name="script", scope="read").token

    def revoke() -> Any:
        return token_revoke(actor=person, token_id=token.pk)

    first, second, waited = one_after_another(
        revoke, revoke, first_held_after='"accounts_apitoken"'
    )

    assert waited
    assert first.revoked_at == second.revoked_at  # the second found it revoked
    assert events(Action.TOKEN_REVOKED) == 1


def test_two_email_runs_send_each_once(team):
    doc = upload_document(team.workspace, team.manager, name="minutes.docx")
    n = make_notification(team.viewer, doc, summary="Priya mentioned you")
    mail.outbox.clear()

    def send() -> int:
        return notifications.send_notification_emails([str(n.pk)])

    first, second, waited = one_after_another(
        send, send, first_held_after='"notifications_notification"'
    )

    assert waited
    assert sorted([first, second]) == [0, 1]
    assert [m.to for m in mail.outbox] == [[team.viewer.email]]


def test_two_digest_runs_send_one_digest(team):
    doc = upload_document(team.workspace, team.manager, name="minutes.docx")
    NotificationSettings.objects.update_or_create(user=team.viewer, defaults={"email": "digest"})
    make_notification(team.viewer, doc, summary="A new version")
    mail.outbox.clear()

    def send() -> int:
        return notifications.send_digests()

    # The first statement naming the settings table finds the people; the second locks theirs.
    first, second, waited = one_after_another(
        send, send, first_held_after='"notifications_notificationsettings"', nth=2
    )

    assert waited
    assert sorted([first, second]) == [0, 1]
    assert [m.to for m in mail.outbox] == [[team.viewer.email]]


def test_an_invitation_accepted_twice_at_once(team):
    """Two tabs of the invitee, signed in, open the link and accept at the same moment: one
    membership, one 'accepted' in the trail, and the other tab told the link was used."""
    invitee = UserFactory.create(email="new@example.org")
    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    token = workspaces.invitation_create(
        actor=team.manager, access=access, email=invitee.email, role="editor"
    ).token

    def accept() -> Any:
        return workspaces.invitation_accept(token=token, user=invitee)

    # Its first statement on invitations finds the workspace; the second locks the invitation
    # (the workspace's row locked in between).
    first, second, waited = one_after_another(
        accept, accept, first_held_after='"workspaces_invitation"', nth=2
    )

    assert waited
    assert first.role == "editor"
    assert isinstance(second, Gone), second
    assert events(Action.INVITATION_ACCEPTED) == 1


def test_a_workspace_events_commit_in_id_order(team):
    """A task (no workspace lock of its own) publishes while another publish is still
    uncommitted: the later event must not be visible before the earlier, or a socket reading
    past it would never see the earlier one."""
    before = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    seen_while_held: list[list[str]] = []

    def names() -> list[str]:
        events = Event.objects.filter(id__gt=before).order_by("id")
        return [event.data["name"] for event in events]

    def emit(n: int) -> Any:
        with transaction.atomic():
            return publish(workspace_id=team.workspace.pk, event=an_event(n)).pk

    first, second, waited = one_after_another(
        lambda: emit(1),
        lambda: emit(2),
        first_held_after='"live_event"',
        meanwhile=lambda: seen_while_held.append(names()),
    )

    assert waited
    assert seen_while_held == [[]]
    assert first < second
    assert names() == ["Folder 1", "Folder 2"]


def test_the_sqlite_run_relies_on_immediate_transactions(settings):
    """What the docstring says SQLite's half of these tests rests on."""
    if on_postgresql():
        assert settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
        return
    assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_a_write_waits_for_an_archive_in_progress_and_is_then_refused(team):
    """The archive has locked the workspace and not yet committed; an editor's rename decided
    on the request's earlier read must wait for it and then be refused, not land in a
    workspace its manager was just told is archived."""
    doc = upload_document(team.workspace, team.editor, name="minutes.txt")
    editor_access = doc_access_for(team.editor, doc)
    manager_access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)

    def archive() -> Any:
        return workspaces.workspace_set_archived(
            actor=team.manager, access=manager_access, archived=True
        )

    def rename() -> Any:
        return document_rename(actor=team.editor, doc_access=editor_access, name="late.txt")

    archived, renamed, waited = one_after_another(
        archive, rename, first_held_after='UPDATE "workspaces_workspace"'
    )

    assert waited
    assert archived.is_archived
    assert isinstance(renamed, PermissionDenied), renamed
    assert renamed.message == "This workspace is archived and read-only."
    doc.refresh_from_db()
    assert doc.name == "minutes.txt"


def test_an_archive_waits_for_a_write_in_flight(team):
    """The converse: a rename holds the workspace lock; the archive waits for it, so no write
    commits after the archive has."""
    doc = upload_document(team.workspace, team.editor, name="minutes.txt")
    editor_access = doc_access_for(team.editor, doc)
    manager_access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    archived_while_held: list[bool] = []

    def rename() -> Any:
        return document_rename(actor=team.editor, doc_access=editor_access, name="agreed.txt")

    def archive() -> Any:
        return workspaces.workspace_set_archived(
            actor=team.manager, access=manager_access, archived=True
        )

    def look() -> None:
        archived_while_held.append(
            Workspace.objects.filter(pk=team.workspace.pk, archived_at__isnull=False).exists()
        )

    # Held just after it read the editor's role again under the lock (lock_access).
    renamed, archived, waited = one_after_another(
        rename, archive, first_held_after='"workspaces_membership"', meanwhile=look
    )

    assert waited
    assert archived_while_held == [False]
    assert renamed.name == "agreed.txt" and archived.is_archived
    renamed_at = AuditEvent.objects.get(action=Action.DOCUMENT_RENAMED).seq
    archived_at = AuditEvent.objects.get(action=Action.WORKSPACE_ARCHIVED).seq
    assert renamed_at < archived_at  # one workspace chain: the order they committed in


def test_an_upload_of_bytes_the_collector_is_deleting_waits_and_stores_them_again(team):
    """The collector has locked an unused blob's row and is about to delete its file; an upload
    of the same bytes claims the row (blob_store): it must wait, find the row gone once the
    collector commits, and store the bytes again, so its version has its file."""
    content = b"minutes of a meeting nobody kept"
    orphan = blob_store(uploaded=a_file("old.txt", content))
    Blob.objects.filter(pk=orphan.pk).update(touched_at=timezone.now() - timedelta(days=1))
    path = Path(default_storage.path(blob_storage_name(orphan.pk)))
    assert path.read_bytes() == content

    def collect() -> int:
        return blobs_collect_garbage(grace=timedelta(hours=1))

    def upload_again() -> Any:
        return upload(team.editor, team.workspace, "minutes.txt", content)

    collected, version, waited = one_after_another(
        collect, upload_again, first_held_after='"documents_blob"'
    )

    assert waited
    assert collected == 1
    assert not isinstance(version, Exception), version
    assert version.blob_id == orphan.pk
    assert path.read_bytes() == content
    assert Blob.objects.filter(pk=orphan.pk).exists()


def _record(workspace_id: Any, action: str) -> AuditEvent:
    event = audit_record(action=action, workspace_id=workspace_id, target_label=action)
    assert event is not None  # written: no audit_rows_last block here
    return event


def test_two_events_of_one_audit_chain_at_once_both_land_in_order(team):
    ws = team.workspace.pk

    first, second, waited = one_after_another(
        lambda: _record(ws, "test.first"),
        lambda: _record(ws, "test.second"),
        first_held_after='"audit_auditchainhead"',
    )

    assert waited
    assert not isinstance(first, Exception) and not isinstance(second, Exception), (first, second)
    assert second.seq == first.seq + 1
    assert second.prev_hash == first.hash
    assert audit_verify(workspace_id=ws).ok


def test_the_first_events_of_a_new_audit_chain_at_once_land_in_order(db):
    """Three first events of a workspace's chain: the first creates its head and is held
    there; the two others find no head, wait on the first's insert, and must then take the
    head one after the other, not both read it and collide."""
    ws = uuid.uuid4()
    first = InFlight(lambda: _record(ws, "test.1"), after='INTO "audit_auditchainhead"')
    with held(first):
        others = [InFlight(partial(_record, ws, f"test.{n}"), name=f"{n}") for n in (2, 3)]
        for other in others:
            other.start()
            assert waits_for_lock(other)
    results = [first.outcome(), *(other.outcome() for other in others)]

    assert not any(isinstance(r, Exception) for r in results), results
    assert sorted(r.seq for r in results) == [1, 2, 3]
    assert audit_verify(workspace_id=ws).ok


def test_two_workers_requeue_a_stuck_preview_once(team, settings):
    """Every worker looks for stuck previews at start: two at once enqueue its task once (the
    second skips the row the first holds, or once it may read it, finds the task)."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    doc = upload_document(team.workspace, team.manager, name="notes.txt", content=b"Lost task")
    DBTaskResult.objects.all().delete()  # its task was lost
    Preview.objects.filter(blob__versions__document=doc).update(
        created_at=timezone.now() - timedelta(hours=1)
    )

    def requeue() -> int:
        return previews_requeue_stuck()

    # Held once it has enqueued the task, in the transaction that holds the preview's row.
    first, second, _ = one_after_another(
        requeue, requeue, first_held_after='INTO "django_tasks_database_dbtaskresult"'
    )

    assert sorted([first, second]) == [0, 1]
    assert DBTaskResult.objects.count() == 1


@pytest.fixture
def pending_preview(team, settings) -> str:
    """A document whose preview is pending (its task sits in the database queue)."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    doc = upload_document(team.workspace, team.manager, name="notes.txt", content=b"Agenda")
    preview = Preview.objects.get(blob__versions__document=doc)
    assert preview.status == PreviewStatus.PENDING
    return str(preview.blob_id)


def test_two_workers_make_one_preview_once(pending_preview):
    """Two workers run the same preview's task at once (a task given back after its worker
    seemed dead): it is recorded, and announced to the pages, once."""

    def make() -> Any:
        return preview_make(sha=pending_preview)

    first, second, waited = one_after_another(
        make, make, first_held_after='UPDATE "previews_preview"'
    )

    assert waited
    assert first.status == second.status == PreviewStatus.READY
    assert Event.objects.filter(kind="preview.ready").count() == 1


def test_a_worker_that_fails_does_not_undo_a_preview_another_has_made(pending_preview):
    """One worker has made the preview and not yet committed; another's attempt fails (its
    database connection drops) and records the failure: only if the preview is still pending
    once it may read it, so the preview stays ready."""

    def make() -> Any:
        return preview_make(sha=pending_preview)

    failing = InFlight(make, fail_at='"documents_version"', name="failing")
    first = InFlight(make, after='UPDATE "previews_preview"', name="first")
    with held(first):
        failing.start()
        assert waits_for_lock(failing)
    assert first.outcome().status == PreviewStatus.READY
    failing.outcome()

    assert Preview.objects.get(pk=pending_preview).status == PreviewStatus.READY


def make_tasks(sha: str) -> int:
    return DBTaskResult.objects.filter(
        task_path="commonroom.previews.tasks.make_preview", args_kwargs__args__0=sha
    ).count()


def test_an_upload_of_known_bytes_while_their_preview_is_recorded_gets_it(pending_preview):
    """A worker is recording a blob's preview (holding its row) when another workspace uploads
    the same bytes: the upload waits, then finds the preview made and enqueues the task that
    gives that workspace its preview. Unlocked, it would find it pending, count on the worker
    to give it, and the worker (reading before the upload committed) would not."""
    me: Any = UserFactory()
    elsewhere = workspaces.workspace_create(actor=me, name="Elsewhere")
    before = make_tasks(pending_preview)

    def record() -> Any:
        return preview_make(sha=pending_preview)

    def upload_same() -> Any:
        return upload_document(elsewhere, me, name="notes.txt", content=b"Agenda")

    first, _, waited = one_after_another(
        record, upload_same, first_held_after='UPDATE "previews_preview"'
    )

    assert waited
    assert first.status == PreviewStatus.READY
    row = WorkspacePreview.objects.get(workspace=elsewhere)
    assert row.made_at is not None or make_tasks(pending_preview) == before + 1


def test_two_tasks_give_a_workspace_its_preview_once(pending_preview):
    """Two workspaces uploaded bytes whose preview was made: each one's task runs at once.
    The workspaces waiting are given it, and told by one live event each, once."""
    preview_make(sha=pending_preview)
    others = []
    for n in range(2):
        me: Any = UserFactory()
        ws = workspaces.workspace_create(actor=me, name=f"Elsewhere {n}")
        upload_document(ws, me, name="notes.txt", content=b"Agenda")
        others.append(ws)
    assert WorkspacePreview.objects.filter(made_at__isnull=True).count() == 2

    def give() -> Any:
        return preview_make(sha=pending_preview)

    _, _, waited = one_after_another(
        give, give, first_held_after='UPDATE "previews_workspacepreview"'
    )

    assert waited
    assert not WorkspacePreview.objects.filter(made_at__isnull=True).exists()
    for ws in others:
        assert Event.objects.filter(workspace_id=ws.pk, kind="preview.ready").count() == 1


def test_a_late_preview_of_an_older_version_does_not_overwrite_the_search_entry(team, settings):
    """A new version is being uploaded (holding the workspace lock, its document's search entry
    already rewritten) when the preview of the version before it finishes: search must wait
    for the upload and then leave the entry alone, not index the older version's words over
    the newer one's."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    first = upload(team.editor, team.workspace, "plan.txt", b"alpha plan for the ward")
    preview_make(sha=first.blob_id)  # its words: indexed once the preview is made

    def found(word: str) -> list[str]:
        return [hit.object_id for hit in search(user=team.editor, q=word).hits]

    assert found("alpha") == [str(first.document_id)]

    def new_version() -> Any:
        return upload(team.editor, team.workspace, "plan.txt", b"beta plan, agreed")

    def older_preview_made() -> None:
        preview_made(first.blob_id)

    version, _, waited = one_after_another(
        new_version, older_preview_made, first_held_after='UPDATE "search_searchentry"'
    )

    assert waited
    assert version.number == 2
    assert found("alpha") == []  # the latest version's words are not made yet
    assert found("plan.txt") == [str(first.document_id)]


def test_an_invitation_withdrawn_while_it_is_being_accepted(team):
    """A manager withdrawing an invitation while it is being accepted must wait and then find it
    used: not mark a used invitation withdrawn, and not deadlock (accepting adds a member, which
    needs the workspace's row, while withdrawing holds that row and wants the invitation's:
    accepting therefore locks the workspace first too)."""
    invitee = UserFactory.create(email="new@example.org")
    access = workspace_access(user=team.manager, workspace_id=team.workspace.pk)
    issued = workspaces.invitation_create(
        actor=team.manager, access=access, email=invitee.email, role="viewer"
    )

    def accept() -> Any:
        return workspaces.invitation_accept(token=issued.token, user=invitee)

    def withdraw() -> Any:
        return workspaces.invitation_revoke(
            actor=team.manager, access=access, invitation_id=issued.invitation.pk
        )

    membership, invitation, waited = one_after_another(
        accept, withdraw, first_held_after='"workspaces_invitation"', nth=2
    )

    assert waited
    assert membership.user == invitee
    assert invitation.accepted_at is not None and invitation.revoked_at is None
    assert events(Action.INVITATION_REVOKED) == 0
