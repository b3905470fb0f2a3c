"""Folder, document and version pages. Thin: parse, ask a selector or a service, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from commonroom.accounts.selectors import people_read_once
from commonroom.core.exceptions import ApplicationError, NotFound, PermissionDenied
from commonroom.core.fragments import render_page
from commonroom.core.views import (
    AuthedRequest,
    back_with_error,
    back_with_typed,
    form_value,
    info,
    typed_back,
)
from commonroom.documents import hooks, services
from commonroom.documents.downloads import version_file_response
from commonroom.documents.fragments import versions_fragment
from commonroom.documents.models import Folder, Version
from commonroom.documents.selectors import (
    READING_RULE,
    READING_SECONDS,
    DocumentAccess,
    all_folders,
    document_access,
    document_version_list,
    document_versions,
    download_watermark,
    edit_locks,
    folder_children,
    folder_get,
    folder_listing_page,
    folder_path,
    last_read_numbers,
    reading_token,
    trash_items,
    version_readers,
)
from commonroom.documents.uploads import upload_error
from commonroom.workspaces.roles import Role
from commonroom.workspaces.selectors import WorkspaceAccess, workspace_access
from commonroom.workspaces.services import member_invite


def _folder_or_root(access: WorkspaceAccess, folder_id: str) -> Folder | None:
    return folder_get(access=access, folder_id=folder_id) if folder_id else None


def _location(access: WorkspaceAccess, folder: Folder | None) -> str:
    if folder is None:
        return reverse("workspace_detail", args=[access.workspace.pk])
    return reverse("folder_detail", args=[access.workspace.pk, folder.pk])


def _doc_url(doc_access: DocumentAccess) -> str:
    return reverse("document_detail", args=[doc_access.access.workspace.pk, doc_access.document.pk])


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _live_parts(request: HttpRequest) -> bool:
    """The page's script asks for the parts it replaces live (static/commonroom/places.js)."""
    return request.headers.get("HX-Request") == "true"


PAGE_SIZE = 100


def _version_notes(version: Version) -> str:
    """What an upload's answer says about the version it made beyond its number: a crossed
    amendment (and that the file itself said so), bytes of an earlier version."""
    notes = ""
    if not version.based_on_latest:
        told = (
            f" (this file was downloaded from version {version.based_on_number})"
            if version.based_on_from_file
            else ""
        )
        notes += (
            f" It was based on version {version.based_on_number}, not the latest{told}: "
            "check nothing was missed between them."
        )
    if version.identical_to_number and not version.restored_from_number:
        notes += f" It is identical to version {version.identical_to_number}."
    if version.while_locked_by is not None:
        program = version.while_locked_in or "another app"
        notes += (
            f" {version.while_locked_by.display_name} has this document open in {program}: it "
            "is kept, flagged, and what they save next comes in as a newer version (check "
            "neither leaves out the other's changes)."
        )
    return notes


def _version_facts(version: Version) -> dict[str, object]:
    return {
        "document": str(version.document_id),
        "name": version.filename,
        "version": version.number,
        "based_on": version.based_on_number,
        "based_on_latest": version.based_on_latest,
        "based_on_from_file": version.based_on_from_file,
        "identical_to": version.identical_to_number,
        "while_locked": version.while_locked_by is not None,
    }


def _folder_page(
    request: AuthedRequest, access: WorkspaceAccess, folder: Folder | None
) -> HttpResponse:
    """The listing of a folder (or the workspace's top level): folders, then documents a page
    of ``PAGE_SIZE`` at a time. Asked with ``HX-Request``, only the parts the page's script
    replaces when something here changes (its breadcrumbs, heading and listing)."""
    # Each document with "New since you last read it" when it is.
    page = folder_listing_page(
        access=access,
        folder=folder,
        reader=request.user,
        number=request.GET.get("page"),
        per_page=PAGE_SIZE,
    )
    listed = list(page.object_list)
    # "Being edited in Word by Tom since 10:02", beside each document another program holds.
    locks = edit_locks(access=access, documents=listed)
    for doc in listed:
        doc.edit_lock = locks.get(doc.pk)
    return render(
        request,
        "workspaces/_live_parts.html" if _live_parts(request) else "workspaces/detail.html",
        {
            "access": access,
            "workspace": access.workspace,
            "folder": folder,
            "path": folder_path(folder),
            "folders": folder_children(access=access, folder=folder) if page.number == 1 else [],
            "documents": page,
            "page": page,
            "move_choices": (
                [(f, label) for f, label in all_folders(access=access) if f.pk != folder.pk]
                if folder is not None and access.can("edit_documents")
                else []
            ),
        },
    )


@login_required
def workspace_detail(request: AuthedRequest, workspace_id: str) -> HttpResponse:
    """A workspace's front page: its top-level folders and documents."""
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    return _folder_page(request, access, None)


@login_required
def folder_detail(request: AuthedRequest, workspace_id: str, folder_id: str) -> HttpResponse:
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    return _folder_page(request, access, folder_get(access=access, folder_id=folder_id))


@login_required
@require_POST
def upload(request: AuthedRequest, workspace_id: str) -> HttpResponse:
    """One or many files into a folder. Answers JSON to the progress-bar script, else redirects."""
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    folder = _folder_or_root(access, form_value(request, "folder"))
    back = _location(access, folder)
    try:
        error = upload_error(request)
        if error is not None:
            raise error
        done = services.documents_upload(
            actor=request.user,
            access=access,
            files=request.FILES.getlist("files"),
            folder=folder,
            note=form_value(request, "note"),
            upload_keys=request.POST.getlist("upload_key"),
            info=info(request),
        )
    except ApplicationError as exc:
        if _wants_json(request):
            return JsonResponse({"code": exc.code, "detail": exc.message}, status=exc.status)
        return back_with_error(request, exc, back)
    # Shown on the page the script opens next, as after a plain form post.
    if done.versions:
        summary = ", ".join(f"{v.filename} (version {v.number})" for v in done.versions)
        messages.success(request, f"Uploaded {summary}.")
    for v in done.versions:
        if notes := _version_notes(v):
            messages.info(request, f"{v.filename}, version {v.number}:{notes}")
    for sentence in done.unchanged:
        messages.info(request, sentence)
    if _wants_json(request):
        return JsonResponse(
            {
                "uploaded": [
                    {**_version_facts(v), "message": _version_notes(v).strip()}
                    for v in done.versions
                ],
                "unchanged": done.unchanged,
                "redirect": back,
            }
        )
    return redirect(back)


@login_required
@require_POST
def folder_create(request: AuthedRequest, workspace_id: str) -> HttpResponse:
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    parent = _folder_or_root(access, form_value(request, "parent"))
    try:
        folder = services.folder_create(
            actor=request.user,
            access=access,
            name=form_value(request, "name"),
            parent=parent,
            info=info(request),
        )
    except ApplicationError as exc:
        return back_with_error(request, exc, _location(access, parent))
    messages.success(request, f"Folder “{folder.name}” created.")
    return redirect(_location(access, folder))


@login_required
@require_POST
def folder_action(request: AuthedRequest, workspace_id: str, folder_id: str) -> HttpResponse:
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    folder = folder_get(access=access, folder_id=folder_id)
    action = form_value(request, "action")
    here = _location(access, folder)
    try:
        if action == "rename":
            services.folder_rename(
                actor=request.user,
                access=access,
                folder=folder,
                name=form_value(request, "name"),
                info=info(request),
            )
            messages.success(request, "Folder renamed.")
        elif action == "move":
            target = _folder_or_root(access, form_value(request, "parent"))
            services.folder_move(
                actor=request.user, access=access, folder=folder, parent=target, info=info(request)
            )
            messages.success(request, "Folder moved.")
        elif action == "delete":
            services.folder_delete(
                actor=request.user, access=access, folder=folder, info=info(request)
            )
            messages.success(request, f"“{folder.name}” and everything in it moved to the trash.")
            return redirect(_location(access, folder.parent))
        else:
            raise ApplicationError("Unknown action.")
    except ApplicationError as exc:
        if exc.status == 404:
            raise  # a forged id is not found, as on every other page
        return back_with_error(request, exc, here)
    return redirect(here)


def _reading_context(
    request: AuthedRequest, doc_access: DocumentAccess, versions: list[Version]
) -> dict[str, Any]:
    """Read receipts on the document page (decision 26): the rule in words; what the page's
    script sends back once the latest version's preview has been on screen long enough
    (static/commonroom/reading.js); the newest version this person has read ("new since you
    last read it"); who has read which version, for those who may see it (``see_readers``)."""
    doc = doc_access.document
    latest = versions[0] if versions else None
    last_read = last_read_numbers(user=request.user, documents=[doc]).get(doc.pk)
    context: dict[str, Any] = {
        "reading_rule": READING_RULE,
        "last_read": last_read,
        "new_since_read": False,
        "reading": None,
        "readers": None,
    }
    if latest is None:
        return context
    context["new_since_read"] = last_read is not None and last_read < latest.number
    context["reading"] = {
        "token": reading_token(user=request.user, doc_access=doc_access, version=latest),
        "url": reverse(
            "api:reading_record", args=[doc_access.access.workspace.pk, doc.pk, latest.number]
        ),
        "seconds": READING_SECONDS,
    }
    if doc_access.can("see_readers"):
        # A version chosen by hand in the address that is not there (``?readers=99``) or is not
        # a number (``?readers=abc``) does not cost the whole page: the latest version's readers,
        # with a sentence for a number that names no version.
        chosen = (request.GET.get("readers") or "").strip() or None
        try:
            context["readers"] = version_readers(
                doc_access=doc_access, number=chosen, versions=versions
            )
        except NotFound:
            if chosen is not None and chosen.isdigit():
                context["readers_missing"] = f"There is no version {int(chosen)}."
            context["readers"] = version_readers(
                doc_access=doc_access, number=None, versions=versions
            )
    return context


@login_required
def document_detail(request: AuthedRequest, workspace_id: str, document_id: str) -> HttpResponse:
    # The names its kept fragments show checked with one read of each person between them.
    with people_read_once():
        return _document_page(request, workspace_id, document_id)


def _document_page(request: AuthedRequest, workspace_id: str, document_id: str) -> HttpResponse:
    doc_access = document_access(
        user=request.user, workspace_id=workspace_id, document_id=document_id
    )
    services.document_record_view(actor=request.user, doc_access=doc_access, info=info(request))
    versions = document_version_list(doc_access=doc_access)
    doc = doc_access.document
    # The preview, the comments, "following": what other apps show of it (documents.hooks).
    parts = hooks.page_context(
        hooks.DocumentPage(user=request.user, doc_access=doc_access, versions=versions)
    )
    latest = versions[0] if versions else None
    # Its kept fragments put into the answer's bytes once (core.fragments.render_page).
    return render_page(
        request,
        "documents/detail.html",
        {
            **parts,
            # The versions list, drawn again only when what it shows has changed.
            "versions_fragment": versions_fragment(
                versions=versions,
                workspace=doc_access.access.workspace,
                document=doc,
                abilities=doc_access.abilities,
                comparable=parts.get("comparable") or (),
            ),
            "access": doc_access.access,
            "workspace": doc_access.access.workspace,
            "doc_access": doc_access,
            "document": doc,
            "abilities": doc_access.abilities,
            "certificate_offered": _certificate_offered(request, doc_access),
            "can_invite": doc_access.access.can("manage_members"),
            # The invitation form as it was typed, when it was refused (its sentence with it).
            "typed_invite": typed_back(request, "invite"),
            "roles": Role.choices,
            "versions": versions,
            "latest": latest,
            "path": folder_path(doc.folder),
            # Where "Move" may take it (the form's choices): every folder, for who may move it.
            "folders": all_folders(access=doc_access.access) if doc_access.can("move") else [],
            **_reading_context(request, doc_access, versions),
            # Held open for editing in another program (Word over WebDAV), or None.
            "edit_lock": edit_locks(access=doc_access.access, documents=[doc]).get(doc.pk),
        },
    )


@login_required
@require_POST
def document_lock_break(
    request: AuthedRequest, workspace_id: str, document_id: str
) -> HttpResponse:
    """A manager breaks the lock another program holds on the document."""
    doc_access = document_access(
        user=request.user, workspace_id=workspace_id, document_id=document_id
    )
    here = _doc_url(doc_access)
    try:
        ended = services.document_lock_break(
            actor=request.user, doc_access=doc_access, info=info(request)
        )
    except ApplicationError as exc:
        if exc.status == 404:
            raise
        return back_with_error(request, exc, here)
    holders = ", ".join(sorted({lock.holder.display_name for lock in ended}))
    messages.success(
        request,
        f"Lock broken: anyone who may can change “{doc_access.document.name}” again. "
        f"{holders} can no longer save over it from the program that held it; what they "
        "had not saved they can save as a copy and upload.",
    )
    return redirect(here)


@login_required
def document_readers(request: AuthedRequest, workspace_id: str, document_id: str) -> HttpResponse:
    """Who has read a version (``?readers=N``, else the latest) alone: what the document page's
    script puts in place of its list when the page comes back to the front, and every half
    minute while it is in front (static/commonroom/reading.js). Managers and editors only (403
    for other members, 404 for anyone else). Not a view of the document, so not audited as one."""
    doc_access = document_access(
        user=request.user, workspace_id=workspace_id, document_id=document_id
    )
    readers = version_readers(doc_access=doc_access, number=request.GET.get("readers") or None)
    versions = list(document_versions(doc_access=doc_access))
    return render(
        request,
        "documents/_readers.html",
        {
            "workspace": doc_access.access.workspace,
            "document": doc_access.document,
            "abilities": doc_access.abilities,
            "versions": versions,
            "latest": versions[0],
            "readers": readers,
            "reading_rule": READING_RULE,
        },
    )


@login_required
@require_POST
def document_readers_remind(
    request: AuthedRequest, workspace_id: str, document_id: str
) -> HttpResponse:
    """Remind those who have not read the latest version (once a day per document)."""
    doc_access = document_access(
        user=request.user, workspace_id=workspace_id, document_id=document_id
    )
    here = _doc_url(doc_access) + "#readers"
    try:
        reminder = services.document_readers_remind(
            actor=request.user, doc_access=doc_access, info=info(request)
        )
    except ApplicationError as exc:
        if exc.status == 404:
            raise
        return back_with_error(request, exc, here)
    people = "person" if reminder.recipients == 1 else "people"
    messages.success(
        request,
        f"Reminded {reminder.recipients} {people} who had not read version "
        f"{reminder.version_number}: a notification and an email each.",
    )
    return redirect(here)


def _certificate_offered(request: AuthedRequest, doc_access: DocumentAccess) -> bool:
    """Whether the final record's certificate link is shown: to those who may download, but
    not to a guest whose PDFs the workspace watermarks when the record is a PDF (its
    certificate holds the pages unstamped: decision 28, refused in approvals.records)."""
    record = doc_access.document.sealed_version
    if record is None or not doc_access.can("download"):
        return False
    return download_watermark(doc_access=doc_access, reader=request.user, version=record) is None


@login_required
def document_heading(request: AuthedRequest, workspace_id: str, document_id: str) -> HttpResponse:
    """A document's breadcrumbs, heading, final record and edit lock alone: what its open
    pages replace when it is renamed, moved, sealed or reopened, a folder above it is renamed
    or moved, or a lock is taken or ends (static/commonroom/places.js). Not a view of the
    document (only its name, place, record and who holds it), so not audited as one."""
    doc_access = document_access(
        user=request.user, workspace_id=workspace_id, document_id=document_id
    )
    doc = doc_access.document
    return render(
        request,
        "documents/_heading.html",
        {
            "workspace": doc_access.access.workspace,
            "document": doc,
            "abilities": doc_access.abilities,
            "certificate_offered": _certificate_offered(request, doc_access),
            "path": folder_path(doc.folder),
            "edit_lock": edit_locks(access=doc_access.access, documents=[doc]).get(doc.pk),
        },
    )


@login_required
@require_POST
def version_upload(request: AuthedRequest, workspace_id: str, document_id: str) -> HttpResponse:
    doc_access = document_access(
        user=request.user, workspace_id=workspace_id, document_id=document_id
    )
    back = _doc_url(doc_access)
    try:
        error = upload_error(request)
        if error is not None:
            raise error
        uploaded = request.FILES.get("file")
        if uploaded is None:
            raise ApplicationError("Choose a file to upload.", code="no_file")
        based_on_raw = form_value(request, "based_on")
        version = services.version_upload(
            actor=request.user,
            doc_access=doc_access,
            uploaded=uploaded,
            based_on_number=int(based_on_raw) if based_on_raw.isdecimal() else None,
            note=form_value(request, "note"),
            upload_key=form_value(request, "upload_key") or None,
            info=info(request),
        )
    except ApplicationError as exc:
        if _wants_json(request):
            return JsonResponse({"code": exc.code, "detail": exc.message}, status=exc.status)
        return back_with_error(request, exc, back)
    text = f"Version {version.number} uploaded.{_version_notes(version)}"
    messages.success(request, text)
    if _wants_json(request):
        return JsonResponse({**_version_facts(version), "redirect": back, "message": text})
    return redirect(back)


@login_required
def version_download(
    request: AuthedRequest, workspace_id: str, document_id: str, number: int
) -> HttpResponseBase:
    doc_access = document_access(
        user=request.user, workspace_id=workspace_id, document_id=document_id
    )
    download = services.version_download(
        actor=request.user, doc_access=doc_access, number=number, info=info(request)
    )
    return version_file_response(
        request, download.version, document=doc_access.document, made=download.file
    )


@login_required
@require_POST
def document_action(request: AuthedRequest, workspace_id: str, document_id: str) -> HttpResponse:
    doc_access = document_access(
        user=request.user, workspace_id=workspace_id, document_id=document_id
    )
    access = doc_access.access
    action = form_value(request, "action")
    here = _doc_url(doc_access)
    try:
        if action == "rename":
            services.document_rename(
                actor=request.user,
                doc_access=doc_access,
                name=form_value(request, "name"),
                info=info(request),
            )
            messages.success(request, "Document renamed.")
        elif action == "move":
            target = _folder_or_root(access, form_value(request, "folder"))
            services.document_move(
                actor=request.user, doc_access=doc_access, folder=target, info=info(request)
            )
            messages.success(request, "Document moved.")
        elif action == "restore_version":
            raw = form_value(request, "number")
            version = services.version_restore(
                actor=request.user,
                doc_access=doc_access,
                number=int(raw) if raw.isdecimal() else 0,
                info=info(request),
            )
            messages.success(
                request,
                f"Version {version.restored_from_number} restored as version {version.number}.",
            )
        elif action == "reopen":
            services.document_reopen(
                actor=request.user,
                doc_access=doc_access,
                reason=form_value(request, "reason"),
                info=info(request),
            )
            messages.success(
                request, "Document reopened. New versions go above its final record, which stays."
            )
        elif action == "invite":
            # Someone with an account is added at once; anyone else gets an invitation. Either
            # way their link opens this document. A refusal keeps what was typed.
            typed = {"email": form_value(request, "email"), "role": form_value(request, "role")}
            try:
                invited = member_invite(
                    actor=request.user,
                    access=access,
                    email=typed["email"],
                    role=typed["role"],
                    open_path=here,
                    open_label=doc_access.document.name,
                    info=info(request),
                )
            except ApplicationError as exc:
                if exc.status == 404:
                    raise
                return back_with_typed(request, exc, f"{here}#invite", form="invite", typed=typed)
            messages.success(request, invited.told(opens="this document"))
        elif action == "delete":
            services.document_delete(actor=request.user, doc_access=doc_access, info=info(request))
            messages.success(
                request,
                f"“{doc_access.document.name}” moved to the trash. A manager can restore it.",
            )
            return redirect(_location(access, doc_access.document.folder))
        else:
            raise ApplicationError("Unknown action.")
    except ApplicationError as exc:
        if exc.status == 404:
            raise  # a forged id is not found, as on every other page
        return back_with_error(request, exc, here)
    return redirect(here)


@login_required
def trash(request: AuthedRequest, workspace_id: str) -> HttpResponse:
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    if not access.can("view_trash"):
        raise PermissionDenied("Only managers can see the trash.")
    folders, documents = trash_items(access=access)
    return render(
        request,
        "documents/_trash_parts.html" if _live_parts(request) else "documents/trash.html",
        {
            "access": access,
            "workspace": access.workspace,
            "folders": folders,
            "documents": documents,
        },
    )


@login_required
@require_POST
def trash_action(
    request: AuthedRequest, workspace_id: str, kind: str, item_id: str
) -> HttpResponse:
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    here = reverse("trash", args=[access.workspace.pk])
    action = form_value(request, "action")
    item: Any
    try:
        if kind == "document":
            item = document_access(
                user=request.user,
                workspace_id=workspace_id,
                document_id=item_id,
                include_trash=True,
            ).document
            if action == "restore":
                services.document_restore(
                    actor=request.user, access=access, document=item, info=info(request)
                )
            elif action == "purge":
                services.document_purge(
                    actor=request.user, access=access, document=item, info=info(request)
                )
            else:
                raise ApplicationError("Unknown action.")
        elif kind == "folder":
            item = folder_get(access=access, folder_id=item_id, include_trash=True)
            if action == "restore":
                services.folder_restore(
                    actor=request.user, access=access, folder=item, info=info(request)
                )
            elif action == "purge":
                services.folder_purge(
                    actor=request.user, access=access, folder=item, info=info(request)
                )
            else:
                raise ApplicationError("Unknown action.")
        else:
            raise NotFound()
    except ApplicationError as exc:
        if exc.status == 404:
            raise
        return back_with_error(request, exc, here)
    verb = "restored" if action == "restore" else "deleted for good"
    messages.success(request, f"“{item.name}” {verb}.")
    return redirect(here)
