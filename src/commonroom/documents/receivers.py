"""The last guard of final records: deleting a workspace, a document or a version any way other
than a purge (the admin site, a shell, a cascade) while it holds a final record under its
workspace's retention is refused (:class:`~commonroom.documents.exceptions.UnderRetention`, a
``ProtectedError``), and the attempt is audited.

Why the audit row is written from another thread. The refusal is raised inside the deletion's
transaction (Django's deleting opens one, often inside a view's), which then rolls back: a row
written there would go with it, and ``transaction.atomic(durable=True)`` cannot be opened
inside another. Django has no "on rollback" hook. So the row is written by a thread of its own,
on its own database connection, in its own transaction: it waits for the deletion's
transaction to end (SQLite's write lock; PostgreSQL's row locks on the audit chain's head, when
that transaction held it) and then commits, whatever that transaction did. The thread is not a
daemon, so a shell that exits right after still writes it; :func:`refusals_recorded` waits for
those still writing (tests, and code that reads the trail straight after).

Services never reach this: ``services.document_purge`` and ``services.folder_purge`` refuse
first and audit the attempt themselves.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.db import connections, transaction
from django.db.models.signals import pre_delete
from django.utils import timezone

from commonroom.audit.actions import Action
from commonroom.audit.services import audit_record
from commonroom.documents.models import Document, Version
from commonroom.documents.services import (
    record_kept_until,
    records_under_retention,
    retention_refusal,
)

log = logging.getLogger(__name__)

_writing: list[threading.Thread] = []
_writing_lock = threading.Lock()


def refusals_recorded(timeout: float = 60.0) -> None:
    """Wait until every refused deletion's audit row started so far is written."""
    with _writing_lock:
        threads = list(_writing)
    for thread in threads:
        thread.join(timeout)


def _write_outside(fields: dict[str, Any]) -> None:
    try:
        with transaction.atomic():
            audit_record(**fields)
    except Exception:
        log.exception("documents: a refused deletion of a final record could not be audited")
    finally:
        connections.close_all()  # this thread's own connections
        with _writing_lock:
            _writing.remove(threading.current_thread())


def _refuse(record: Version, workspace: Any, *, what: str, origin: Any) -> None:
    refusal = retention_refusal(workspace, record, what=what)
    started = getattr(origin, "_meta", None)
    fields: dict[str, Any] = {
        "action": Action.RECORD_PURGE_REFUSED,
        "workspace_id": workspace.pk,
        "document_id": record.document_id,
        "target_type": "document",
        "target_id": str(record.document_id),
        "target_label": record.document.name,
        "data": {
            "how": "delete",
            "deleting": f"{started.label} {origin.pk}" if started else type(origin).__name__,
            "version": record.number,
            "sha256": record.blob_id,
        },
    }
    thread = threading.Thread(target=_write_outside, args=(fields,), name="record-refusal-audit")
    with _writing_lock:
        _writing.append(thread)
    thread.start()
    raise refusal


def on_workspace_delete(sender: Any, instance: Any, origin: Any = None, **kwargs: Any) -> None:
    record = records_under_retention(workspace=instance).first()
    if record is not None:
        _refuse(record, instance, what=f"The workspace “{instance.name}”", origin=origin)


def on_document_delete(sender: Any, instance: Document, origin: Any = None, **kwargs: Any) -> None:
    workspace = instance.workspace
    record = records_under_retention(workspace=workspace, document_ids=[instance.pk]).first()
    if record is not None:
        _refuse(record, workspace, what=f"“{instance.name}”", origin=origin)


def on_version_delete(sender: Any, instance: Version, origin: Any = None, **kwargs: Any) -> None:
    if instance.record_at is None:
        return
    workspace = instance.document.workspace
    years = workspace.record_retention_years
    if years and record_kept_until(instance.record_at, years) > timezone.now():
        _refuse(
            instance,
            workspace,
            what=f"Version {instance.number} of “{instance.document.name}”",
            origin=origin,
        )


def connect() -> None:
    # The workspace by its label: documents reads no workspaces model (import contracts).
    pre_delete.connect(on_workspace_delete, sender="workspaces.Workspace")
    pre_delete.connect(on_document_delete, sender=Document)
    pre_delete.connect(on_version_delete, sender=Version)
