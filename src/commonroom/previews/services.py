"""Making previews, once per blob, in the background; and recording that one was read.

``preview_requested`` is called by ``documents.services`` inside the transaction that adds a
version: a blob seen for the first time gets a pending :class:`Preview` (or an "unsupported" one
straight away when no converter takes its format), and ``make_preview`` is queued to be seen at
its commit (``core.task_queue``: in the same transaction when the queue is the database's).
``preview_make`` runs the converter in the sandbox, stores its files under
``previews/<sha256>/`` and the result, tells ``previews.hooks`` that it is ready or failed
(search and comments follow it), and tells the open pages of each workspace whose document
shows that blob as its latest version. It never raises into the worker: whatever goes wrong
ends as a failed preview with a sentence for people.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from commonroom.audit.actions import Action
from commonroom.audit.services import audit_record_reading
from commonroom.core.exceptions import ApplicationError, NotFound
from commonroom.core.prepared import insert, insert_new
from commonroom.core.process import is_running, process_started
from commonroom.core.request_info import SYSTEM, RequestInfo
from commonroom.core.task_queue import enqueue_at_commit
from commonroom.documents.selectors import (
    DocumentAccess,
    latest_versions_with_file,
    newest_version_with_file,
)
from commonroom.live.events import PreviewEvent
from commonroom.live.services import publish
from commonroom.previews import hooks
from commonroom.previews.convert import converter_name, format_for
from commonroom.previews.models import (
    Preview,
    PreviewFile,
    PreviewStatus,
    WorkspacePreview,
    preview_storage_name,
)
from commonroom.previews.sandbox import Outcome, run_converter
from commonroom.previews.selectors import made_in, pdf_page_number

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.documents.models import Version

log = logging.getLogger(__name__)

UNSUPPORTED = "There is no preview for this kind of file. Download it to read it."
FAILED_SUFFIX = " Download the file to read it."


def preview_requested(*, version: Version) -> None:
    """A version was added (inside its transaction): make its blob's preview unless it exists,
    and its workspace's (:class:`WorkspacePreview`) unless the workspace has it already. A
    workspace new to a blob whose preview exists gets it through the preview task all the same
    (pending, then made and announced), as it would for new bytes: nothing tells it that the
    same bytes were previewed in a workspace it cannot see."""
    fmt = format_for(version.content_type, version.filename)
    sha = version.blob_id
    created = _preview_claim(sha, fmt)
    workspace_id = version.document.workspace_id
    if not created:
        # The preview's row lock, held to the commit: its task, which makes every waiting
        # workspace's preview under that lock, either sees this workspace's row or has
        # finished (then the status read here is the finished one). A row made just now is
        # this transaction's own until the commit (no task sees it before), and no workspace
        # has its preview yet: WorkspacePreview rows are made only here, after their Preview.
        preview = Preview.objects.select_for_update().get(blob_id=sha)
        if WorkspacePreview.objects.filter(workspace_id=workspace_id, blob_id=sha).exists():
            return
    # A file no converter takes is "unsupported" from its name and type alone, at once.
    made_now = created and not fmt
    insert(
        WorkspacePreview(
            workspace_id=workspace_id, blob_id=sha, made_at=timezone.now() if made_now else None
        )
    )
    if (created and fmt) or (not created and preview.status != PreviewStatus.PENDING):
        from commonroom.previews.tasks import make_preview

        # Committed with the version: one commit for both (core.task_queue).
        enqueue_at_commit(make_preview, sha)


def _preview_claim(sha: str, fmt: str | None) -> bool:
    """The blob's preview row made, pending (or unsupported when no converter takes ``fmt``),
    unless it has one: one statement (an insert that does nothing on the blob's row already
    there, waiting first for a transaction making it), built once per process
    (``core.prepared.insert_new``: the blob's key is the row's only unique column, so a
    conflict is on it alone). Whether this statement made it."""
    row = Preview(
        blob_id=sha,
        status=PreviewStatus.PENDING if fmt else PreviewStatus.UNSUPPORTED,
        format=fmt or "",
        message="" if fmt else UNSUPPORTED,
    )
    return bool(insert_new([row]))


STUCK_AFTER = timedelta(minutes=2)
MAKE_ATTEMPTS = 3
_ACTIVE = (TaskResultStatus.READY, TaskResultStatus.RUNNING)


def previews_requeue_stuck(*, now: datetime | None = None) -> int:
    """Enqueue again the previews pending for ``STUCK_AFTER`` with no task waiting or running
    to make them (their task was lost: the queue cleared, the task failed when its worker was
    stopped twice, a crash between the upload's commit and the enqueue). A preview whose tasks
    were tried ``MAKE_ATTEMPTS`` times (each worker that died making it counts) fails with a
    sentence instead. Run by every worker at start and by one every few minutes
    (``previews.schedule``); safe to run twice and in two workers at once (the preview's row
    lock, then a fresh look for its task). Returns how many were enqueued."""
    from commonroom.previews.tasks import make_preview

    cutoff = (now or timezone.now()) - STUCK_AFTER
    shas = list(
        Preview.objects.filter(status=PreviewStatus.PENDING, created_at__lt=cutoff).values_list(
            "blob_id", flat=True
        )[:1000]
    )
    # Made previews a workspace still waits for (its task was lost): the task makes it.
    shas += list(
        WorkspacePreview.objects.filter(made_at__isnull=True, created_at__lt=cutoff)
        .exclude(blob__preview__status=PreviewStatus.PENDING)
        .values_list("blob_id", flat=True)
        .distinct()[:1000]
    )
    if not shas:
        return 0
    tasks = DBTaskResult.objects.filter(task_path=make_preview.module_path)
    active = {
        str(args["args"][0])
        for args in tasks.filter(status__in=_ACTIVE).values_list("args_kwargs", flat=True)
        if isinstance(args, dict) and args.get("args")
    }
    enqueued = 0
    for sha in shas:
        if sha in active:
            continue
        with transaction.atomic():
            preview = (
                Preview.objects.select_for_update(skip_locked=True).filter(blob_id=sha).first()
            )
            mine = tasks.filter(args_kwargs__args__0=sha)
            if preview is None or mine.filter(status__in=_ACTIVE).exists():
                continue
            if preview.status != PreviewStatus.PENDING:
                if _waiting(sha).exists():
                    _enqueue(sha)
                    enqueued += 1
                continue
            tried = sum(len(ids) for ids in mine.values_list("worker_ids", flat=True))
            if tried >= MAKE_ATTEMPTS:
                log.error("previews: %s could not be made in %s attempts", sha, tried)
                _finish(preview, failed="The preview could not be made." + FAILED_SUFFIX)
                continue
            _enqueue(sha)  # in this transaction: a second worker waits, then sees the task
            enqueued += 1
    return enqueued


def _enqueue(sha: str) -> None:
    from commonroom.previews.tasks import make_preview

    make_preview.enqueue(sha)


def _source_version(sha: str) -> Version | None:
    return newest_version_with_file(sha)


def preview_make(*, sha: str) -> Preview | None:
    """Make the pending preview of blob ``sha``. Safe to run twice; never raises."""
    try:
        return _make(sha)
    except Exception:
        log.exception("previews: making the preview of %s failed", sha)
        try:
            with transaction.atomic():
                preview = Preview.objects.select_for_update().filter(blob_id=sha).first()
                if preview is None or preview.status != PreviewStatus.PENDING:
                    return preview
                _finish(preview, failed="The preview could not be made." + FAILED_SUFFIX)
                return preview
        except Exception:
            log.exception("previews: could not even record the failure of %s", sha)
            return None


def _waiting(sha: str) -> QuerySet[WorkspacePreview]:
    return WorkspacePreview.objects.filter(blob_id=sha, made_at__isnull=True)


def _make(sha: str) -> Preview | None:
    preview = Preview.objects.filter(blob_id=sha).first()
    if preview is None:
        return preview
    if preview.status != PreviewStatus.PENDING:
        _give_made(sha)
        return preview
    version = _source_version(sha)
    if version is None:  # every version using it was purged meanwhile
        return preview
    fmt = preview.format or format_for(version.content_type, version.filename)
    if not fmt:
        with transaction.atomic():
            preview.status, preview.message = PreviewStatus.UNSUPPORTED, UNSUPPORTED
            preview.made_at = timezone.now()
            preview.save()
        _give_made(sha)
        return preview
    outcome, stored = _convert(version, fmt)
    with transaction.atomic():
        preview = Preview.objects.select_for_update().get(blob_id=sha)
        if preview.status != PreviewStatus.PENDING:
            return preview
        _apply(preview, fmt, outcome, stored)
    return preview


def _apply(preview: Preview, fmt: str, outcome: Outcome, stored: list[PreviewFile]) -> None:
    """Inside a transaction holding the preview's row: record a conversion's outcome."""
    preview.format = fmt
    preview.converter = converter_name(fmt)
    preview.seconds = outcome.seconds
    if outcome.ok and outcome.result is not None:
        result = outcome.result
        preview.kind = result.kind
        preview.html = result.html
        preview.text = result.text
        preview.notes = result.notes
        preview.page_count = result.page_count
        preview.revisions = result.revisions
        kept = {row.name for row in stored}
        for old in preview.files.exclude(name__in=kept):  # e.g. PDF pages drawn earlier
            transaction.on_commit(partial(default_storage.delete, old.storage_name))
        preview.files.all().delete()
        for row in stored:
            row.preview = preview
        PreviewFile.objects.bulk_create(stored)
        _finish(preview)
    else:
        _finish(preview, failed=outcome.message.rstrip(".") + "." + FAILED_SUFFIX)


def previews_remake(*, formats: list[str] | None = None) -> int:
    """Enqueue every finished preview (of ``formats``, or all) to be made again, after an upgrade
    that improved a converter or added one. Each stays as it is until its new one is ready.
    Returns how many were enqueued."""
    done = Preview.objects.exclude(status=PreviewStatus.PENDING)
    if formats:
        done = done.filter(format__in=formats)
    shas = list(done.values_list("blob_id", flat=True))
    from commonroom.previews.tasks import remake_preview

    for sha in shas:
        remake_preview.enqueue(sha)
    return len(shas)


def preview_remake(*, sha: str) -> Preview | None:
    """Make blob ``sha``'s finished preview again with today's converters. A ready preview is
    replaced only by a ready one: if the new attempt fails, the old one stays (and the failure
    is logged). Never raises."""
    try:
        preview = Preview.objects.filter(blob_id=sha).first()
        version = _source_version(sha)
        if preview is None or version is None or preview.status == PreviewStatus.PENDING:
            return preview
        fmt = format_for(version.content_type, version.filename)
        if not fmt:
            return preview
        outcome, stored = _convert(version, fmt)
        with transaction.atomic():
            preview = Preview.objects.select_for_update().get(blob_id=sha)
            if preview.status == PreviewStatus.READY and not outcome.ok:
                log.warning("previews: remaking %s failed (%s); kept the old", sha, outcome.message)
                return preview
            _apply(preview, fmt, outcome, stored)
        return preview
    except Exception:
        log.exception("previews: remaking the preview of %s failed", sha)
        return None


def _source_name(version: Version) -> str:
    """The file's own name for the converter (an image's alt text comes from it), made safe."""
    name = re.sub(r"[^A-Za-z0-9._ -]", "_", Path(version.filename).name).strip(" .")[:100]
    return name or "source"


def _convert(
    version: Version, fmt: str, *, timeout: int | None = None
) -> tuple[Outcome, list[PreviewFile]]:
    """Run ``fmt``'s converter on the version's file in the sandbox; store what it wrote under
    ``previews/<sha256>/``. The rows returned are not saved yet (no preview set)."""
    sha = version.blob_id
    with tempfile.TemporaryDirectory(prefix="commonroom-preview-", dir=_work_folder()) as work_dir:
        work = Path(work_dir)
        source = work / _source_name(version)
        outdir = work / "out"
        outdir.mkdir()
        with default_storage.open(version.blob.storage_name, "rb") as src, source.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
        outcome = run_converter(fmt, source, outdir, timeout=timeout)
        stored: list[PreviewFile] = []
        if outcome.ok and outcome.result is not None:
            for out in outcome.result.files:
                name = preview_storage_name(sha, out.name)
                if default_storage.exists(name):
                    default_storage.delete(name)
                with (outdir / out.name).open("rb") as f:
                    saved = default_storage.save(name, File(f, name=out.name))
                stored.append(
                    PreviewFile(
                        name=out.name,
                        content_type=out.content_type,
                        size=(outdir / out.name).stat().st_size,
                        storage_name=saved,
                    )
                )
    return outcome, stored


def preview_work_root() -> Path:
    """Where this machine's converters work: ``<data dir>/preview-work/<host>/``, one folder
    per process making previews (the worker, and the web processes drawing PDF pages), named
    ``<pid>.<start time>`` (``core.process``). Inside the data directory, so a copy of a
    document never lands in the system's temporary folder, and ``previews.W001`` covers it."""
    return Path(settings.DATA_DIR) / "preview-work" / socket.gethostname()


def _work_folder() -> Path:
    """This process's folder under :func:`preview_work_root`, made when first needed."""
    pid = os.getpid()
    root = preview_work_root()
    root.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder = root / f"{pid}.{process_started(pid) or 0}"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def preview_work_sweep() -> int:
    """Remove the work folders of processes of this machine that are gone (killed while a
    converter worked: each holds a copy of a document), and those older versions left in the
    system's temporary folder. Run by every worker at start and by one per machine every few
    minutes (``previews.schedule``); a live process's folder is never touched. Returns how many
    were removed."""
    root = preview_work_root()
    if process_started(os.getpid()) is None:  # cannot tell the living from the dead here
        return 0
    removed = _sweep_system_temp()
    for folder in root.glob("*.*") if root.is_dir() else []:
        pid, _, started = folder.name.partition(".")
        if not (pid.isdigit() and started.isdigit()):
            continue
        if is_running(int(pid), int(started)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


LEGACY_AFTER = 3600  # seconds; far longer than any conversion may take


def _sweep_system_temp() -> int:
    """Work folders that versions before ``preview-work/`` left in the system's temporary
    folder when their worker was killed: this user's, untouched for an hour."""
    removed = 0
    cutoff = time.time() - LEGACY_AFTER
    for folder in Path(tempfile.gettempdir()).glob("commonroom-preview-*"):
        try:
            info = folder.lstat()
        except OSError:
            continue
        if folder.is_dir() and info.st_uid == os.getuid() and info.st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


PDF_PAGE_TIMEOUT = 30


PDF_PAGES_PER_MINUTE = 60  # new pages one reader may have drawn per minute


def _budget_minute() -> int:
    """The clock minute a page drawn now counts against."""
    return int(time.time() // 60)


def _within_page_budget(reader_id: Any) -> bool:
    """A reader may have PDF_PAGES_PER_MINUTE new pages drawn a minute (reading, not scraping:
    each drawing costs a child process)."""
    key = f"previews:pages:{reader_id}:{_budget_minute()}"
    cache.add(key, 0, timeout=120)
    try:
        return int(cache.incr(key)) <= PDF_PAGES_PER_MINUTE
    except ValueError:  # the key vanished between add and incr (a cache restart): allow
        return True


def pdf_page_file(*, version: Version, name: str, reader_id: Any = None) -> PreviewFile:
    """A page of a ready PDF preview as a picture: drawn in the sandbox the first time someone
    asks for it, then kept (a 200-page PDF costs nothing until its pages are read). The file
    route asks for a page only when ``preview_file_get`` did not find it already drawn."""
    preview = Preview.objects.filter(
        blob_id=version.blob_id, status=PreviewStatus.READY, kind="pdf"
    ).first()
    number = pdf_page_number(preview, name) if preview is not None else None
    shown = made_in(version.document.workspace_id, version.blob_id)
    if preview is None or number is None or not shown:
        raise NotFound()
    # At most PDF_PAGE_DRAWERS pages drawn at once by this process, and each page once: many
    # readers (or one script) asking for many pages wait their turn instead of starting a child
    # process each; asking for a page being drawn waits for that drawing.
    with _drawing(f"{version.blob_id}:{name}"):
        existing = preview.files.filter(name=name).first()
        if existing is not None:
            return existing
        if reader_id is not None and not _within_page_budget(reader_id):
            raise ApplicationError(
                "Too many pages asked for at once. Wait a minute and scroll on.",
                code="too_many_pages",
                status=429,
            )
        if not _drawers.acquire(timeout=PDF_PAGE_WAIT):
            raise ApplicationError(
                "The server is busy drawing pages. Try again in a moment.", code="busy", status=503
            )
        try:
            return _draw_page(version, preview, name, str(number))
        finally:
            _drawers.release()


PDF_PAGE_DRAWERS = 2
PDF_PAGE_WAIT = 20
_drawers = threading.BoundedSemaphore(PDF_PAGE_DRAWERS)
_page_locks: dict[str, threading.Lock] = {}
_page_locks_guard = threading.Lock()


@contextmanager
def _drawing(key: str) -> Iterator[None]:
    with _page_locks_guard:
        lock = _page_locks.setdefault(key, threading.Lock())
    with lock:
        yield
    with _page_locks_guard:
        if not lock.locked():
            _page_locks.pop(key, None)


def _draw_page(version: Version, preview: Preview, name: str, number: str) -> PreviewFile:
    outcome, stored = _convert(version, f"pdf-page-{number}", timeout=PDF_PAGE_TIMEOUT)
    if not outcome.ok or len(stored) != 1 or stored[0].name != name:
        raise NotFound(outcome.message or "The page could not be drawn.")
    row = stored[0]
    row.preview = preview
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # drawn at the same moment for another reader: theirs is as good
        return preview.files.get(name=name)
    return row


def _give_made(sha: str) -> None:
    """The blob's preview is made: the workspaces still waiting for it have it now, each told
    by its live event after the commit as if it had just been made (those that had it already
    are not told again: nothing changed for them)."""
    with transaction.atomic():
        preview = Preview.objects.select_for_update().get(blob_id=sha)
        waiting = _waiting(sha)
        workspaces = set(waiting.values_list("workspace_id", flat=True))
        if not workspaces:
            return
        waiting.update(made_at=timezone.now())
        ready = preview.status == PreviewStatus.READY
        # For those who follow previews (search's words, comments' passages), as if just made:
        # until now those workspaces saw none of it.
        hooks.changed(hooks.PreviewReady(sha256=sha) if ready else hooks.PreviewFailed(sha256=sha))
        transaction.on_commit(
            lambda: _announce(sha, ready=ready, workspaces=workspaces), robust=True
        )


def _finish(preview: Preview, *, failed: str | None = None) -> None:
    """Inside a transaction: record the outcome and tell ``previews.hooks``; after it
    commits, tell the pages showing it. (Not inside it: that holds the preview's row lock,
    and telling the pages takes each workspace's lock, which an upload of the same bytes holds
    while it waits for this preview row: the two would deadlock. Search, which takes those
    locks too, waits for the commit the same way.)"""
    if failed is not None:
        preview.status, preview.message = PreviewStatus.FAILED, failed
    else:
        preview.status, preview.message = PreviewStatus.READY, ""
    preview.made_at = timezone.now()
    preview.save()
    sha, ready = preview.blob_id, failed is None
    _waiting(sha).update(made_at=preview.made_at)  # every workspace waiting for it has it
    hooks.changed(hooks.PreviewReady(sha256=sha) if ready else hooks.PreviewFailed(sha256=sha))
    # Each event in its own transaction, under its workspace's lock.
    transaction.on_commit(lambda: _announce(sha, ready=ready), robust=True)


def _announce(sha: str, *, ready: bool, workspaces: set[Any] | None = None) -> None:
    """One live event per live document whose latest version uses blob ``sha`` (in
    ``workspaces`` only, when named)."""
    for version in latest_versions_with_file(sha):
        doc = version.document
        if workspaces is not None and doc.workspace_id not in workspaces:
            continue
        publish(
            workspace_id=doc.workspace_id,
            event=PreviewEvent(
                kind="preview.ready",
                document=doc.pk,
                number=version.number,
                status="ready" if ready else "failed",
            ),
        )


def _audit_read(
    actor: User, doc_access: DocumentAccess, info: RequestInfo, subject: str, data: dict[str, Any]
) -> None:
    """A reading, audited once per person, ``subject`` and ten minutes (audit.services)."""
    doc = doc_access.document
    audit_record_reading(
        action=Action.PREVIEW_VIEWED,
        actor=actor,
        subject=f"{doc.pk}:{subject}",
        info=info,
        workspace_id=doc.workspace_id,
        document_id=doc.pk,
        target_type="document",
        target_id=str(doc.pk),
        target_label=doc.name,
        data=data,
    )


def preview_record_view(
    *, actor: User, doc_access: DocumentAccess, version: Version, info: RequestInfo = SYSTEM
) -> None:
    """Reading a version's preview is audited like viewing the document: once per person,
    version and ten minutes."""
    data = {"version": version.number, "sha256": version.blob_id}
    _audit_read(actor, doc_access, info, f"v{version.number}", data)


def previews_discard(*, shas: list[str]) -> None:
    """The collector removes these blobs: remove their previews' files too (the rows go with the
    blobs)."""
    for name in PreviewFile.objects.filter(preview__blob_id__in=shas).values_list(
        "storage_name", flat=True
    ):
        default_storage.delete(name)


def compare_record_view(
    *,
    actor: User,
    doc_access: DocumentAccess,
    old: Version,
    new: Version,
    info: RequestInfo = SYSTEM,
) -> None:
    """Comparing two versions reads both their previews: audited like reading a preview, once
    per person, pair of versions and ten minutes."""
    data = {"compared": [old.number, new.number], "sha256": [old.blob_id, new.blob_id]}
    _audit_read(actor, doc_access, info, f"v{old.number}-v{new.number}", data)
