"""The WebDAV tree, backed by Commonroom's own selectors and services (WsgiDAV's provider).

``/dav/`` lists the person's workspaces (``names.workspace_segments``); below each, its folders
and documents as the web pages show them, plus the person's own scratch files
(``models.ScratchFile``). Nobody sees a workspace they are not a member of: it is simply not
there (404), and membership is read again on every request.

Every read and write goes through the services the pages and the API use, so the same
abilities decide: reading needs ``view`` (and ``download`` for the bytes, audited as a download);
a PUT is ``documents.services.version_upload`` (or what ``services.content_arrives`` decides for
a new name); DELETE is the trash (``document_delete``/``folder_delete``); MKCOL is
``folder_create``; MOVE is ``document_rename``/``document_move``/``folder_rename``/
``folder_move``, except a document renamed to a temporary name, which is held aside
(``services.document_hold_aside``) for Office's save. LOCK and PROPPATCH, which no service
decides, ask the same abilities (:func:`_writable`).

A document's bytes are its latest version's as stored (not the stamped copy a browser download
gets): its ``getetag`` is that version's SHA-256 and ``getcontentlength`` its size, which are
the bytes a GET streams (a chunk at a time, never whole in memory).
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import unquote, urlparse

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.utils import timezone
from wsgidav import util, xml_tools
from wsgidav.dav_error import HTTP_FORBIDDEN, DAVError
from wsgidav.dav_provider import DAVCollection, DAVNonCollection, DAVProvider, _DAVResource
from wsgidav.util import etree

from commonroom.core.asgi_limits import too_large_error
from commonroom.core.downloads import served_type
from commonroom.core.exceptions import PermissionDenied
from commonroom.core.request_info import RequestInfo
from commonroom.documents import services as documents
from commonroom.documents.filenames import guess_type_from_name
from commonroom.documents.permissions import require
from commonroom.documents.selectors import (
    DocumentAccess,
    abilities_of,
    download_watermark,
    folder_child_named,
    folder_children,
    folder_document_named,
    folder_documents,
    latest_version,
    version_file_open,
)
from commonroom.documents.uploads import TemporaryUploadedFile, stored_upload
from commonroom.webdav import services
from commonroom.webdav.auth import Identity
from commonroom.webdav.errors import SentenceError, answered
from commonroom.webdav.locks import requesting_agent
from commonroom.webdav.models import DavProperty, ScratchFile
from commonroom.webdav.names import (
    fold,
    is_temporary,
    lock_key,
    member_names,
    might_be_numbered,
    scratch_key_name,
    workspace_segments,
)
from commonroom.webdav.properties import PropertyLimit
from commonroom.webdav.selectors import (
    held_documents,
    scratch_files,
    scratch_named,
    scratch_open,
)
from commonroom.workspaces.selectors import WorkspaceAccess, workspaces_for_user

ENVIRON_KEY = "commonroom.dav"
# The request being answered, for what WsgiDAV asks without its environ (each request runs in
# a context of its own).
_current: ContextVar[dict[str, Any]] = ContextVar("commonroom_dav_request")
NOT_HERE = "Files and folders go inside a workspace's folder; workspaces are made in the web app."
BETWEEN_WORKSPACES = (
    "Documents and folders cannot be moved between workspaces. Copy them there, then delete "
    "the originals."
)
NOT_FOUND = "This file does not exist, or you do not have access to it."
WRITES = frozenset({"PUT", "DELETE", "MKCOL", "MOVE", "COPY", "LOCK", "UNLOCK", "PROPPATCH"})


@dataclass
class DavRequest:
    """One request's person, where it came from, and what it has looked up so far (forgotten
    after every change)."""

    identity: Identity
    info: RequestInfo
    cache: dict[str, Any] = field(default_factory=dict)
    _spaces: dict[str, WorkspaceAccess] | None = None

    @property
    def user(self) -> Any:
        return self.identity.user

    def spaces(self) -> dict[str, WorkspaceAccess]:
        if self._spaces is None:
            accesses = {a.workspace.pk: a for a in workspaces_for_user(user=self.user)}
            shown = workspace_segments(a.workspace for a in accesses.values())
            self._spaces = {name: accesses[ws.pk] for name, ws in shown.items()}
        return self._spaces

    def space(self, segment: str) -> tuple[str, WorkspaceAccess] | None:
        spaces = self.spaces()
        if segment in spaces:
            return segment, spaces[segment]
        for name, access in spaces.items():
            if fold(name) == fold(segment):
                return name, access
        return None

    def forget(self) -> None:
        self.cache.clear()
        self._spaces = None


def dav_request(environ: dict[str, Any]) -> DavRequest:
    return environ[ENVIRON_KEY]


def _join(parent: str, name: str) -> str:
    return parent.rstrip("/") + "/" + name


def _forbid(message: str) -> SentenceError:
    return SentenceError(HTTP_FORBIDDEN, message)


# --- Properties and locks shared by every resource -------------------------------------------


class _Node(_DAVResource):
    """What every resource here has: its person's request, its dead properties under its
    identity (``prop_key``), prefetched with its siblings' when listed."""

    prop_key = ""
    dead: dict[str, str] | None = None  # prefetched dead properties
    locks: list[dict[str, Any]] | None = None  # prefetched lockdiscovery

    @property
    def dav(self) -> DavRequest:
        return dav_request(self.environ)

    def _dead(self) -> dict[str, str]:
        if self.dead is None:
            self.dead = dict(
                DavProperty.objects.filter(key=self.prop_key).values_list("name", "value")
            )
        return self.dead

    def get_property_names(self, *, is_allprop: bool) -> list[str]:
        names = ["{DAV:}resourcetype"]
        if self.get_creation_date() is not None:
            names.append("{DAV:}creationdate")
        if self.get_content_length() is not None:
            names.append("{DAV:}getcontentlength")
        if self.get_content_type() is not None:
            names.append("{DAV:}getcontenttype")
        if self.get_last_modified() is not None:
            names.append("{DAV:}getlastmodified")
        names.append("{DAV:}displayname")
        if self.get_etag() is not None:
            names.append("{DAV:}getetag")
        if self.provider.lock_manager is not None and not self.prevent_locking():
            names.extend(["{DAV:}lockdiscovery", "{DAV:}supportedlock"])
        if self.prop_key:
            names.extend(self._dead())
        return names

    def get_property_value(self, name: str) -> Any:
        if name == "{DAV:}lockdiscovery" and self.provider.lock_manager is not None:
            locks = self.locks
            if locks is None:
                locks = self.provider.lock_manager.get_url_lock_list(self.get_ref_url())
            return lockdiscovery(locks, self.provider, self.environ)
        if name == "{DAV:}getetag" and self.get_etag() is not None:
            return f'"{self.get_etag()}"'
        if name.startswith("{DAV:}") or not self.prop_key:
            return super().get_property_value(name)
        value = self._dead().get(name)
        if value is None:
            raise DAVError(404)
        return xml_tools.string_to_xml(value)

    def set_property_value(self, name: str, value: Any, *, dry_run: bool = False) -> Any:
        if name.startswith("{DAV:}") or not self.prop_key:
            return super().set_property_value(name, value, dry_run=dry_run)
        manager = self.provider.prop_manager
        try:
            if value is None:
                manager.remove_property(self.prop_key, name, dry_run)
            else:
                manager.write_property(self.prop_key, name, etree.tostring(value), dry_run)
        except PropertyLimit:
            raise SentenceError(
                507, "Too many or too long properties on this item: nothing was stored."
            ) from None
        self.dead = None
        return None

    def remove_all_properties(self, *, recursive: bool) -> None:
        if self.prop_key:
            self.provider.prop_manager.remove_properties(self.prop_key)

    def may_change(self) -> bool:
        """Whether the person may change this (LOCK it, PROPPATCH it)."""
        return False

    def may_add(self) -> bool:
        """Whether the person may add files here (for a collection)."""
        return False

    def _unlock_all(self, *, recursive: bool) -> None:
        manager = self.provider.lock_manager
        if manager is not None:
            manager.remove_all_locks_from_url(self.get_ref_url(), recursive=recursive)


def lockdiscovery(locks: list[dict[str, Any]], provider: Any, environ: dict[str, Any]) -> Any:
    """The ``{DAV:}lockdiscovery`` element for ``locks`` (as WsgiDAV writes it), each lock's
    root given at the path this person sees it at."""
    element = etree.Element("{DAV:}lockdiscovery")
    now = time.time()
    for lock in locks:
        active = etree.SubElement(element, "{DAV:}activelock")
        etree.SubElement(etree.SubElement(active, "{DAV:}locktype"), "{DAV:}" + lock["type"])
        etree.SubElement(etree.SubElement(active, "{DAV:}lockscope"), "{DAV:}" + lock["scope"])
        etree.SubElement(active, "{DAV:}depth").text = lock["depth"]
        if lock["owner"]:
            active.append(xml_tools.string_to_xml(lock["owner"]))
        remaining = max(0, int(lock["expire"] - now))
        etree.SubElement(active, "{DAV:}timeout").text = f"Second-{remaining}"
        token = etree.SubElement(active, "{DAV:}locktoken")
        etree.SubElement(token, "{DAV:}href").text = lock["token"]
        root = provider.get_resource_inst(provider.ref_url_to_path(lock["root"]), environ)
        if root is not None:
            lockroot = etree.SubElement(active, "{DAV:}lockroot")
            etree.SubElement(lockroot, "{DAV:}href").text = root.get_href()
    return element


# --- The root: the person's workspaces -------------------------------------------------------


class RootResource(_Node, DAVCollection):
    def __init__(self, environ: dict[str, Any]) -> None:
        super().__init__("/", environ)

    def get_display_name(self) -> str:
        return "Commonroom"

    def get_ref_url(self) -> str:
        return "/"

    def get_member_names(self) -> list[str]:
        return list(self.dav.spaces())

    def get_member(self, name: str) -> Any:
        return self.provider.get_resource_inst(_join(self.path, name), self.environ)

    def get_member_list(self) -> list[Any]:
        return [
            ContainerResource("/" + name, self.environ, access, None, [])
            for name, access in self.dav.spaces().items()
        ]

    def prevent_locking(self) -> bool:
        return True

    def create_collection(self, name: str) -> None:
        raise _forbid(NOT_HERE)

    def create_empty_resource(self, name: str) -> Any:
        raise _forbid(NOT_HERE)

    def handle_delete(self) -> bool:
        raise _forbid(NOT_HERE)

    def handle_move(self, dest_path: str) -> bool:
        raise _forbid(NOT_HERE)

    def handle_copy(self, dest_path: str, *, depth_infinity: bool) -> bool:
        raise _forbid(NOT_HERE)

    def set_property_value(self, name: str, value: Any, *, dry_run: bool = False) -> Any:
        raise _forbid(NOT_HERE)


# --- Workspaces and folders ------------------------------------------------------------------


class ContainerResource(_Node, DAVCollection):
    """A workspace's top level (``folder`` None) or one of its folders."""

    def __init__(
        self,
        path: str,
        environ: dict[str, Any],
        access: WorkspaceAccess,
        folder: Any,
        names: list[str],
    ) -> None:
        super().__init__(path, environ)
        self.access = access
        self.folder = folder
        self.names = names  # below the workspace, as shown
        self.prop_key = (
            f"folder:{folder.pk}" if folder is not None else f"workspace:{access.workspace.pk}"
        )

    @property
    def workspace(self) -> Any:
        return self.access.workspace

    @property
    def folder_id(self) -> Any:
        return self.folder.pk if self.folder is not None else None

    def get_ref_url(self) -> str:
        return lock_key(self.workspace.pk, self.names)

    def get_display_name(self) -> str:
        return self.name

    def get_creation_date(self) -> float:
        return float((self.folder or self.workspace).created_at.timestamp())

    def get_last_modified(self) -> float:
        return self.get_creation_date()

    def may_change(self) -> bool:
        if self.folder is None:
            return self.access.can("manage_workspace")
        return self.access.can("edit_documents")

    def may_add(self) -> bool:
        return self.access.can("upload")

    # Members

    def _child_path(self, name: str) -> str:
        return _join(self.path, name)

    def _folder(self, folder: Any) -> ContainerResource:
        return ContainerResource(
            self._child_path(folder.name),
            self.environ,
            self.access,
            folder,
            [*self.names, folder.name],
        )

    def _document(self, doc: Any, shown: str) -> DocumentResource:
        doc_access = DocumentAccess(doc, self.access, abilities_of(self.access, doc))
        return DocumentResource(
            self._child_path(shown), self.environ, doc_access, [*self.names, shown], self
        )

    def _scratch(self, scratch: ScratchFile) -> ScratchResource:
        return ScratchResource(self._child_path(scratch.name), self.environ, scratch, self)

    def get_member_list(self) -> list[Any]:
        user = self.dav.user
        folders = list(folder_children(access=self.access, folder=self.folder))
        held = held_documents(user=user, workspace_id=self.workspace.pk)
        docs = [
            d for d in folder_documents(access=self.access, folder=self.folder) if d.pk not in held
        ]
        shown = member_names([f.name for f in folders], [d.name for d in docs])
        members: list[Any] = [self._folder(f) for f in folders]
        members += [self._document(d, n) for d, n in zip(docs, shown, strict=True)]
        taken = {fold(m.name) for m in members}
        for scratch in scratch_files(
            user=user, workspace_id=self.workspace.pk, folder_id=self.folder_id
        ):
            if fold(scratch.name) not in taken:
                taken.add(fold(scratch.name))
                members.append(self._scratch(scratch))
        self._prefetch(members)
        return members

    def _prefetch(self, members: list[Any]) -> None:
        """The members' dead properties and locks, two queries for the lot."""
        keys = {m.prop_key: m for m in members if m.prop_key}
        for m in members:
            m.dead = {}
        for key, name, value in DavProperty.objects.filter(key__in=list(keys)).values_list(
            "key", "name", "value"
        ):
            keys[key].dead[name] = value
        manager = self.provider.lock_manager
        if manager is None:
            return
        by_root: dict[str, list[dict[str, Any]]] = {}
        for lock in manager.storage.get_lock_list(
            self.get_ref_url(), include_root=False, include_children=True, token_only=False
        ):
            by_root.setdefault(lock["root"], []).append(lock)
        for m in members:
            m.locks = by_root.get("/" + m.get_ref_url().strip("/"), [])

    def get_member_names(self) -> list[str]:
        return [m.name for m in self.get_member_list()]

    def get_member(self, name: str) -> Any:
        return self.child(name)

    def child(self, name: str) -> Any:
        """The member shown as ``name`` (whatever its case), or None."""
        folder = folder_child_named(access=self.access, parent=self.folder, name=name)
        if folder is not None:
            return self._folder(folder)
        user = self.dav.user
        doc = folder_document_named(access=self.access, folder=self.folder, name=name)
        if doc is not None and doc.pk not in held_documents(
            user=user, workspace_id=self.workspace.pk
        ):
            return self._document(doc, doc.name)
        if might_be_numbered(name):
            for member in self.get_member_list():
                if fold(member.name) == fold(name):
                    return member
            return None
        scratch = scratch_named(
            user=user, workspace_id=self.workspace.pk, folder_id=self.folder_id, name=name
        )
        if scratch is not None:
            return self._scratch(scratch)
        return None

    # Writes

    def create_collection(self, name: str) -> None:
        with answered():
            documents.folder_create(
                actor=self.dav.user,
                access=self.access,
                name=name,
                parent=self.folder,
                info=self.dav.info,
            )
        self.dav.forget()

    def create_empty_resource(self, name: str) -> ScratchResource:
        """A new name (a PUT's or a LOCK's): the person's empty placeholder until content
        arrives (``services.content_arrives``). A PUT's is not stored: its body comes next, in
        the same request, and what arrives decides what is stored (a document, or this empty
        placeholder for no bytes); a LOCK's is, as it stands until a later request."""
        if self.environ.get("REQUEST_METHOD") == "PUT":
            now = timezone.now()
            unsaved = ScratchFile(
                user=self.dav.user,
                workspace=self.workspace,
                folder=self.folder,
                name=name,
                name_key=fold(name),
                created_at=now,
                modified_at=now,
            )
            pending = self._scratch(unsaved)
            pending.pending = True
            return pending
        with answered():
            scratch = services.scratch_write(
                actor=self.dav.user, access=self.access, folder=self.folder, name=name
            )
        self.dav.forget()
        return self._scratch(scratch)

    def handle_delete(self) -> bool:
        if self.folder is None:
            raise _forbid("A workspace cannot be deleted over WebDAV: its managers archive it.")
        self.provider.check_unlocked(self, self.environ, depth="infinity")
        with answered():
            documents.folder_delete(
                actor=self.dav.user, access=self.access, folder=self.folder, info=self.dav.info
            )
        self._unlock_all(recursive=True)
        self.dav.forget()
        return True

    def handle_move(self, dest_path: str) -> bool:
        return self.provider.move(self, dest_path)

    def handle_copy(self, dest_path: str, *, depth_infinity: bool) -> bool:
        return self.provider.copy(self, dest_path, depth_infinity=depth_infinity)

    def support_recursive_delete(self) -> bool:
        return True


# --- Documents -------------------------------------------------------------------------------


class BodyWriter:
    """A PUT's body streamed to a scratch file on the data disk while its SHA-256 is computed,
    refused past ``COMMONROOM_MAX_UPLOAD_BYTES`` (413): the raw body, no multipart, never whole
    in memory."""

    def __init__(self, name: str) -> None:
        self.uploaded = TemporaryUploadedFile(name, None, 0, None)
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writelines(self, chunks: Iterable[bytes]) -> None:
        limit = int(settings.COMMONROOM_MAX_UPLOAD_BYTES)
        for chunk in chunks:
            self.size += len(chunk)
            if self.size > limit:
                raise SentenceError(413, too_large_error().message)
            self.sha256.update(chunk)
            self.uploaded.write(chunk)

    def write(self, chunk: bytes) -> None:
        self.writelines([chunk])

    def close(self) -> None:
        self.uploaded.flush()
        self.uploaded.seek(0)
        self.uploaded.size = self.size
        self.uploaded.sha256 = self.sha256.hexdigest()  # type: ignore[attr-defined]

    def discard(self) -> None:
        self.uploaded.close()


class _Writable(_Node, DAVNonCollection):
    """A file a PUT writes: the body to a scratch file, then :meth:`arrived` with it."""

    writer: BodyWriter | None = None
    arrival: services.Arrival | None = None

    def begin_write(self, *, content_type: str | None = None) -> BodyWriter:
        self.check_writable()
        self.writer = BodyWriter(self.name)
        return self.writer

    def end_write(self, *, with_errors: bool) -> None:
        writer, self.writer = self.writer, None
        if writer is None:
            return
        try:
            if with_errors:  # nothing stored: a new name's placeholder never was (``pending``)
                return
            with answered():
                self.arrival = self.arrived(writer.uploaded)
            self.dav.forget()
        finally:
            writer.discard()

    def check_writable(self) -> None:
        raise NotImplementedError

    def arrived(self, uploaded: UploadedFile) -> services.Arrival:
        raise NotImplementedError

    def support_ranges(self) -> bool:
        return True

    def support_etag(self) -> bool:
        return True

    def handle_move(self, dest_path: str) -> bool:
        return self.provider.move(self, dest_path)

    def handle_copy(self, dest_path: str, *, depth_infinity: bool) -> bool:
        return self.provider.copy(self, dest_path, depth_infinity=depth_infinity)


class DocumentResource(_Writable):
    def __init__(
        self,
        path: str,
        environ: dict[str, Any],
        doc_access: DocumentAccess,
        names: list[str],
        parent: ContainerResource,
    ) -> None:
        super().__init__(path, environ)
        self.doc_access = doc_access
        self.document = doc_access.document
        self.version = latest_version(self.document)
        self.names = names
        self.parent = parent
        self.prop_key = f"document:{self.document.pk}"

    def get_ref_url(self) -> str:
        return lock_key(self.doc_access.access.workspace.pk, self.names)

    def get_display_name(self) -> str:
        return self.name

    def get_content_length(self) -> int:
        return int(self.version.size) if self.version is not None else 0

    def get_content_type(self) -> str:
        if self.version is None:
            return "application/octet-stream"
        return served_type(self.version.content_type, self.version.filename)

    def get_creation_date(self) -> float:
        return float(self.document.created_at.timestamp())

    def get_last_modified(self) -> float:
        when = self.version.created_at if self.version is not None else self.document.updated_at
        return float(when.timestamp())

    def get_etag(self) -> str | None:
        if self.arrival is not None:
            return self.arrival.etag
        return self.version.blob_id if self.version is not None else None

    def get_content(self) -> IO[bytes]:
        if self.version is None:
            return io.BytesIO(b"")
        # A store that is away (S3) is a 503 with its sentence, as every refusal below
        # ErrorResponder is (webdav/errors.py).
        version = documents.version_for_download(
            actor=self.dav.user,
            doc_access=self.doc_access,
            number=self.version.number,
            info=self.dav.info,
        )
        return version_file_open(version)

    def may_change(self) -> bool:
        return self.doc_access.can("upload_version")

    def check_writable(self) -> None:
        with answered():
            require(self.doc_access, "upload_version", "You cannot upload new versions here.")

    def arrived(self, uploaded: UploadedFile) -> services.Arrival:
        return services.arrival_at_document(
            actor=self.dav.user,
            doc_access=self.doc_access,
            uploaded=uploaded,
            info=self.dav.info,
        )

    def handle_delete(self) -> bool:
        self.provider.check_unlocked(self, self.environ, depth="0")
        with answered():
            documents.document_delete(
                actor=self.dav.user, doc_access=self.doc_access, info=self.dav.info
            )
        self._unlock_all(recursive=False)
        self.dav.forget()
        return True


class ScratchResource(_Writable):
    """One of the person's scratch files: a client's temporary file, or a placeholder for a
    new name whose content has not arrived."""

    pending = False  # a PUT's new name, not stored: what its body becomes is (``arrived``)

    def __init__(
        self, path: str, environ: dict[str, Any], scratch: ScratchFile, parent: ContainerResource
    ) -> None:
        super().__init__(path, environ)
        self.scratch = scratch
        self.parent = parent
        self.prop_key = f"scratch:{scratch.pk}"

    def get_ref_url(self) -> str:
        name = self.scratch.name
        if is_temporary(name):
            name = scratch_key_name(self.scratch.user_id, name)
        return lock_key(self.parent.workspace.pk, [*self.parent.names, name])

    def get_display_name(self) -> str:
        return self.name

    def get_content_length(self) -> int:
        return int(self.scratch.size)

    def get_content_type(self) -> str:
        found = self.scratch.content_type or guess_type_from_name(self.scratch.name) or ""
        return served_type(found or "application/octet-stream", self.scratch.name)

    def get_creation_date(self) -> float:
        return float(self.scratch.created_at.timestamp())

    def get_last_modified(self) -> float:
        return float(self.scratch.modified_at.timestamp())

    def get_etag(self) -> str | None:
        if self.arrival is not None:
            return self.arrival.etag
        if self.scratch.sha256:
            return self.scratch.sha256
        return hashlib.sha256(bytes(self.scratch.data)).hexdigest()

    def get_content(self) -> IO[bytes]:
        if self.scratch.stands_for_id is not None:
            self._download_check()
        try:
            return scratch_open(self.scratch)
        except FileNotFoundError:
            raise DAVError(404) from None

    def _download_check(self) -> None:
        """A scratch file held aside for a document (Office's save renames it to a temporary
        name) holds that document's bytes: reading it is a download of the document, checked,
        audited and counted as one (decision 27), or refused with the sentence."""
        doc = self.scratch.stands_for
        if doc is None:
            raise DAVError(404)
        access = self.parent.access
        doc_access = DocumentAccess(doc, access, abilities_of(access, doc))
        held = doc.versions.filter(blob_id=self.scratch.sha256).order_by("-number").first()
        with answered():
            if held is None:  # bytes of the person's own since: still the document's place
                documents.download_require(
                    actor=self.dav.user, doc_access=doc_access, what="version", info=self.dav.info
                )
                return
            documents.version_for_download(
                actor=self.dav.user, doc_access=doc_access, number=held.number, info=self.dav.info
            )

    def may_change(self) -> bool:
        return self.parent.may_add()

    def check_writable(self) -> None:
        if not self.parent.may_add():
            with answered():
                raise PermissionDenied(services.CANNOT_WRITE)

    def arrived(self, uploaded: UploadedFile) -> services.Arrival:
        return services.content_arrives(
            actor=self.dav.user,
            access=self.parent.access,
            folder=self.parent.folder,
            name=self.scratch.name,
            uploaded=uploaded,
            info=self.dav.info,
            placeholder=not self.pending,
        )

    def handle_delete(self) -> bool:
        self.provider.check_unlocked(self, self.environ, depth="0")
        with answered():
            services.scratch_delete(
                actor=self.dav.user,
                access=self.parent.access,
                scratch=self.scratch,
                info=self.dav.info,
            )
        self._unlock_all(recursive=False)
        self.dav.forget()
        return True

    def upload(self, name: str) -> UploadedFile:
        """Its content, as an upload of ``name``."""
        if self.scratch.sha256:
            return stored_upload(
                self.scratch.sha256,
                self.scratch.size,
                name=name,
                content_type=self.scratch.content_type,
            )
        return SimpleUploadedFile(name, bytes(self.scratch.data), self.scratch.content_type)


# --- The provider ----------------------------------------------------------------------------


class CommonroomProvider(DAVProvider):
    def __repr__(self) -> str:
        return "CommonroomProvider"

    def is_readonly(self) -> bool:
        return False

    def get_resource_inst(self, path: str, environ: dict[str, Any]) -> Any:
        dav = dav_request(environ)
        key = "/" + path.strip("/")
        if key in dav.cache:
            return dav.cache[key]
        found = self._resolve(key, environ)
        dav.cache[key] = found
        return found

    def _resolve(self, path: str, environ: dict[str, Any]) -> Any:
        parts = [p for p in path.split("/") if p]
        if not parts:
            return RootResource(environ)
        found = dav_request(environ).space(parts[0])
        if found is None:
            return None
        shown, access = found
        node: Any = ContainerResource("/" + shown, environ, access, None, [])
        for name in parts[1:]:
            if not isinstance(node, ContainerResource):
                return None
            node = node.child(name)
            if node is None:
                return None
        return node

    def ref_url_to_path(self, ref_url: str) -> str:
        """A lock's key back to the path this person sees it at (for ``lockroot``)."""
        parts = unquote(ref_url).strip("/").split("/")
        environ = _current.get(None)
        if not parts or not parts[0] or environ is None:
            return "/"
        for shown, access in dav_request(environ).spaces().items():
            if access.workspace.pk.hex == parts[0]:
                return "/" + "/".join([shown, *parts[1:]])
        return "/" + "/".join(parts)

    def custom_request_handler(
        self, environ: dict[str, Any], start_response: Any, default_handler: Any
    ) -> Any:
        _current.set(environ)  # for ref_url_to_path, which WsgiDAV calls without it
        requesting_agent.set(str(environ.get("HTTP_USER_AGENT", ""))[:500])  # a new lock's
        method = environ["REQUEST_METHOD"]
        if method in WRITES and self._workspace_missing(environ):
            # Not a member (or no such workspace): nothing to find, whatever the method.
            raise SentenceError(404, NOT_FOUND)
        if method in ("LOCK", "PROPPATCH"):
            self._may_change(environ)
        if method in ("MOVE", "COPY") and self._destination_missing(environ):
            # WsgiDAV answers 204 for a move or copy its provider did; a new one is 201.
            def created(status: str, headers: Any, exc_info: Any = None) -> Any:
                if status.startswith("204"):
                    status = "201 Created"
                return start_response(status, headers, exc_info)

            return default_handler(environ, created)
        return default_handler(environ, start_response)

    def _workspace_missing(self, environ: dict[str, Any]) -> bool:
        parts = [p for p in environ["PATH_INFO"].split("/") if p]
        return bool(parts) and dav_request(environ).space(parts[0]) is None

    def _destination_missing(self, environ: dict[str, Any]) -> bool:
        destination = urlparse(unquote(environ.get("HTTP_DESTINATION", ""))).path
        mount = self.mount_path + self.share_path
        if not destination.startswith(mount + "/"):
            return False
        return self.get_resource_inst(destination[len(mount) :], environ) is None

    def _may_change(self, environ: dict[str, Any]) -> None:
        """LOCK and PROPPATCH, which no service decides, by the same abilities: whoever may
        change the thing (add files, for a new name); a non-member finds nothing (404)."""
        path = environ["PATH_INFO"]
        res = self.get_resource_inst(path, environ)
        if res is None:
            parent = self.get_resource_inst(util.get_uri_parent(path), environ)
            if parent is None or environ["REQUEST_METHOD"] != "LOCK":
                raise SentenceError(404, NOT_FOUND)
            if not parent.may_add():
                raise _forbid(services.CANNOT_WRITE)
            return
        if not res.may_change():
            if isinstance(res, DocumentResource) and res.doc_access.document.sealed_version_id:
                with answered():
                    require(res.doc_access, "upload_version", services.CANNOT_WRITE)
            raise _forbid("You can read this, but not change it.")

    def check_unlocked(self, res: Any, environ: dict[str, Any], *, depth: str) -> None:
        """423 unless ``res`` (and, for ``infinity``, what is below it) is free of others'
        locks, or the request carries the tokens of those it holds."""
        manager = self.lock_manager
        if manager is None:
            return
        if "wsgidav.conditions.if" not in environ:
            util.parse_if_header_dict(environ)
        manager.check_write_permission(
            url=res.get_ref_url(),
            depth=depth,
            token_list=environ["wsgidav.ifLockTokenList"],
            principal=environ["wsgidav.user_name"],
        )

    # --- MOVE and COPY ---

    def _destination(self, src: Any, dest_path: str) -> tuple[ContainerResource, str, Any]:
        environ = src.environ
        parent = self.get_resource_inst(util.get_uri_parent(dest_path), environ)
        if not isinstance(parent, ContainerResource):
            raise _forbid(NOT_HERE)
        source_ws = src.access if isinstance(src, ContainerResource) else src.parent.access
        if parent.workspace.pk != source_ws.workspace.pk:
            raise _forbid(BETWEEN_WORKSPACES)
        name = util.get_uri_name(dest_path.rstrip("/"))
        return parent, name, self.get_resource_inst(dest_path, environ)

    def _overwritten(self, dest: Any) -> None:
        """What a MOVE or COPY with ``Overwrite: T`` replaces (WsgiDAV refuses ``F`` before):
        a folder or document to the trash, a scratch file deleted. A workspace is never
        replaced."""
        if dest is None:
            return
        dav = dav_request(dest.environ)
        self.check_unlocked(dest, dest.environ, depth="infinity")
        with answered():
            if isinstance(dest, ContainerResource):
                if dest.folder is None:
                    raise PermissionDenied(NOT_HERE)
                documents.folder_delete(
                    actor=dav.user, access=dest.access, folder=dest.folder, info=dav.info
                )
            elif isinstance(dest, DocumentResource):
                documents.document_delete(actor=dav.user, doc_access=dest.doc_access, info=dav.info)
            elif isinstance(dest, ScratchResource):
                services.scratch_delete(
                    actor=dav.user,
                    access=dest.parent.access,
                    scratch=dest.scratch,
                    info=dav.info,
                )
        dest._unlock_all(recursive=True)
        dav.forget()

    def move(self, src: Any, dest_path: str) -> bool:
        parent, name, dest = self._destination(src, dest_path)
        dav = dav_request(src.environ)
        if isinstance(src, ContainerResource):
            self._move_folder(src, parent, name, dest)
        elif isinstance(src, DocumentResource):
            self._move_document(src, parent, name, dest)
        else:
            self._move_scratch(src, parent, name, dest)
        src._unlock_all(recursive=True)
        dav.forget()
        return True

    def _move_folder(
        self, src: ContainerResource, parent: ContainerResource, name: str, dest: Any
    ) -> None:
        if src.folder is None:
            raise _forbid("A workspace cannot be moved or renamed over WebDAV.")
        dav = dav_request(src.environ)
        self._overwritten(dest)
        with answered():
            folder = src.folder
            if folder.parent_id != parent.folder_id:
                folder = documents.folder_move(
                    actor=dav.user,
                    access=src.access,
                    folder=folder,
                    parent=parent.folder,
                    info=dav.info,
                )
            if folder.name != name:
                documents.folder_rename(
                    actor=dav.user, access=src.access, folder=folder, name=name, info=dav.info
                )

    def _move_document(
        self, src: DocumentResource, parent: ContainerResource, name: str, dest: Any
    ) -> None:
        dav = dav_request(src.environ)
        if isinstance(dest, ContainerResource):
            self._overwritten(dest)
            dest = None
        if isinstance(dest, ScratchResource) and is_temporary(dest.scratch.name):
            with answered():
                services.scratch_delete(
                    actor=dav.user, access=parent.access, scratch=dest.scratch, info=dav.info
                )
            dest = None
        if isinstance(dest, DocumentResource):
            with answered():
                latest = src.version
                if latest is not None:
                    upload = stored_upload(latest.blob_id, latest.size, name=dest.document.name)
                    try:
                        dest.arrived(upload)
                    finally:
                        upload.close()
                documents.document_delete(actor=dav.user, doc_access=src.doc_access, info=dav.info)
            return
        if is_temporary(name):
            # Office's save, first step: the original renamed aside.
            with answered():
                services.document_hold_aside(
                    actor=dav.user, doc_access=src.doc_access, folder=parent.folder, name=name
                )
            return
        with answered():
            doc_access = src.doc_access
            if isinstance(dest, ScratchResource):  # an empty placeholder of the person's
                services.scratch_delete(
                    actor=dav.user, access=parent.access, scratch=dest.scratch, info=dav.info
                )
            if src.document.folder_id != parent.folder_id:
                doc = documents.document_move(
                    actor=dav.user, doc_access=doc_access, folder=parent.folder, info=dav.info
                )
                doc_access = DocumentAccess(doc, doc_access.access, doc_access.abilities)
            if doc_access.document.name != name:
                documents.document_rename(
                    actor=dav.user, doc_access=doc_access, name=name, info=dav.info
                )

    def _move_scratch(
        self, src: ScratchResource, parent: ContainerResource, name: str, dest: Any
    ) -> None:
        dav = dav_request(src.environ)
        scratch = src.scratch
        if isinstance(dest, ContainerResource):
            self._overwritten(dest)
            dest = None
        with answered():
            if isinstance(dest, DocumentResource):
                upload = src.upload(dest.document.name)
                try:
                    dest.arrived(upload)
                finally:
                    upload.close()
                services.scratch_delete(
                    actor=dav.user, access=src.parent.access, scratch=scratch, info=dav.info
                )
                return
            if is_temporary(name):
                services.scratch_rename(
                    actor=dav.user, scratch=scratch, folder=parent.folder, name=name
                )
                return
            doc = scratch.stands_for
            if doc is not None and scratch.holding:
                # The document moved aside comes back, under this name and place.
                services.hold_release(actor=dav.user, scratch=scratch)
                doc_access = DocumentAccess(doc, parent.access, abilities_of(parent.access, doc))
                if doc.folder_id != parent.folder_id:
                    doc = documents.document_move(
                        actor=dav.user,
                        doc_access=doc_access,
                        folder=parent.folder,
                        info=dav.info,
                    )
                    doc_access = DocumentAccess(doc, parent.access, doc_access.abilities)
                if doc.name != name:
                    documents.document_rename(
                        actor=dav.user, doc_access=doc_access, name=name, info=dav.info
                    )
                ScratchFile.objects.filter(pk=scratch.pk).delete()
                return
            upload = src.upload(name)
            try:
                services.content_arrives(
                    actor=dav.user,
                    access=parent.access,
                    folder=parent.folder,
                    name=name,
                    uploaded=upload,
                    info=dav.info,
                )
            finally:
                upload.close()
            ScratchFile.objects.filter(pk=scratch.pk).delete()

    def copy(self, src: Any, dest_path: str, *, depth_infinity: bool) -> bool:
        parent, name, dest = self._destination(src, dest_path)
        dav = dav_request(src.environ)
        if isinstance(src, ContainerResource):
            if src.folder is None:
                raise _forbid("A workspace cannot be copied over WebDAV.")
            if depth_infinity:
                with answered():  # its documents' bytes: refused before anything is made
                    documents.folder_download_require(
                        actor=dav.user, access=src.access, folder=src.folder, info=dav.info
                    )
            self._overwritten(dest)
            self._copy_folder(src, parent, name, None, depth_infinity=depth_infinity)
        else:
            if isinstance(dest, ContainerResource):
                self._overwritten(dest)
                dest = None
            self._copy_file(src, parent, name, dest)
        dav.forget()
        return True

    def _file_upload(self, src: Any, name: str) -> UploadedFile:
        dav = dav_request(src.environ)
        if isinstance(src, DocumentResource):
            with answered():
                documents.download_require(
                    actor=src.dav.user,
                    doc_access=src.doc_access,
                    what="webdav_copy",
                    info=src.dav.info,
                )
            latest = src.version
            if latest is None:
                return SimpleUploadedFile(name, b"")
            # A copy elsewhere would be a download without the reader's watermark.
            if download_watermark(doc_access=src.doc_access, reader=dav.user, version=latest):
                with answered():
                    documents.watermarked_elsewhere_refuse(
                        actor=dav.user,
                        doc_access=src.doc_access,
                        what="webdav_copy",
                        number=latest.number,
                        info=dav.info,
                    )
            return stored_upload(
                latest.blob_id, latest.size, name=name, content_type=latest.content_type
            )
        return src.upload(name)

    def _copy_file(self, src: Any, parent: ContainerResource, name: str, dest: Any) -> None:
        dav = dav_request(src.environ)
        upload = self._file_upload(src, name)
        try:
            with answered():
                if isinstance(dest, DocumentResource):
                    dest.arrived(upload)
                    return
                arrival = services.content_arrives(
                    actor=dav.user,
                    access=parent.access,
                    folder=parent.folder,
                    name=name,
                    uploaded=upload,
                    info=dav.info,
                )
        finally:
            upload.close()
        target = arrival.document or arrival.scratch
        if target is not None and src.prop_key:
            kind = "document" if arrival.document is not None else "scratch"
            self.prop_manager.copy_properties(src.prop_key, f"{kind}:{target.pk}")

    def _copy_folder(
        self,
        src: ContainerResource,
        parent: ContainerResource,
        name: str,
        dest: Any,
        *,
        depth_infinity: bool,
    ) -> None:
        dav = dav_request(src.environ)
        with answered():
            folder = documents.folder_create(
                actor=dav.user,
                access=parent.access,
                name=name,
                parent=parent.folder,
                info=dav.info,
            )
        self.prop_manager.copy_properties(src.prop_key, f"folder:{folder.pk}")
        if not depth_infinity:
            return
        dav.forget()
        target = ContainerResource(
            _join(parent.path, folder.name),
            src.environ,
            parent.access,
            folder,
            [*parent.names, folder.name],
        )
        for member in src.get_member_list():
            if isinstance(member, ContainerResource):
                self._copy_folder(member, target, member.name, None, depth_infinity=True)
            elif isinstance(member, DocumentResource):
                self._copy_file(member, target, member.name, None)


__all__ = ["ENVIRON_KEY", "CommonroomProvider", "DavRequest"]
