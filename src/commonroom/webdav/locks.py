"""WebDAV locks in the database, shared by every server process (and machine), for WsgiDAV's
lock manager.

:class:`DatabaseLockStorage` is WsgiDAV's lock-storage interface over ``models.DavLock``.
Keys are ``names.lock_key`` paths (the workspace's id, then names), the same for everyone.
A lock lasts what the client asked for, at most :data:`MAX_TIMEOUT` (an infinite lock too),
:data:`DEFAULT_TIMEOUT` when it asked for nothing, and expires by itself: an expired lock is
never returned, and is deleted by the next lock taken.

:class:`SharedLockManager` is WsgiDAV's lock manager with its check-then-take made atomic
across processes: deciding whether a lock may be taken (and whether a write may start) runs in
a transaction holding the workspace's row lock (``workspaces.services.workspace_lock``), so two
LOCK requests for one document in two processes give one lock and one 423. WsgiDAV's own
in-process lock is taken first, the database's second, always in that order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from wsgidav import util
from wsgidav.dav_error import (
    HTTP_LOCKED,
    DAVError,
    DAVErrorCondition,
    PRECONDITION_CODE_LockConflict,
)
from wsgidav.lock_man.lock_manager import (
    LockManager,
    generate_lock_token,
    normalize_lock_root,
    validate_lock,
)

from commonroom.webdav.clients import program_name
from commonroom.webdav.lock_rows import expired_delete, locks_changed, workspace_of
from commonroom.webdav.models import DavLock
from commonroom.workspaces.services import workspace_lock

MAX_TIMEOUT = 3600.0
DEFAULT_TIMEOUT = 3600.0

# The User-Agent of the request being answered (set by the provider for each request, which
# runs in a context of its own), so that a new lock records the program that took it.
requesting_agent: ContextVar[str] = ContextVar("commonroom_dav_agent", default="")


def _children_prefix(path: str) -> str:
    return path.rstrip("/") + "/"


def _as_dict(row: DavLock) -> dict[str, Any]:
    return {
        "root": row.root,
        "type": row.type,
        "scope": row.scope,
        "depth": row.depth,
        "owner": row.owner.encode("utf-8"),
        "timeout": row.timeout,
        "principal": str(row.user_id),
        "token": row.token,
        "expire": row.expire_at.timestamp(),
    }


def _timeout(asked: Any) -> float:
    if asked is None:
        return DEFAULT_TIMEOUT
    seconds = float(asked)
    if seconds < 0 or seconds > MAX_TIMEOUT:
        return MAX_TIMEOUT
    return seconds


class DatabaseLockStorage:
    """WsgiDAV's lock storage (see ``wsgidav.lock_man.lock_storage``) in ``DavLock`` rows.
    Reads never write (an expired row is simply not returned), so a read never waits for a
    writer's lock."""

    def __repr__(self) -> str:
        return "DatabaseLockStorage"

    def open(self) -> None:
        return None

    def close(self) -> None:
        return None

    def cleanup(self) -> None:
        expired_delete()

    def clear(self) -> None:
        DavLock.objects.all().delete()

    def _live(self) -> Any:
        return DavLock.objects.filter(expire_at__gt=timezone.now())

    def get(self, token: str) -> dict[str, Any] | None:
        row = self._live().filter(token=str(token)[:100]).first()
        return _as_dict(row) if row is not None else None

    def create(self, path: str, lock: dict[str, Any]) -> dict[str, Any]:
        if lock.get("token") is not None:
            raise ValueError("a new lock has no token yet")
        root = normalize_lock_root(path)
        lock["root"] = root
        lock["timeout"] = _timeout(lock.get("timeout"))
        lock["expire"] = time.time() + lock["timeout"]
        validate_lock(lock)
        lock["token"] = generate_lock_token()
        # Under this workspace's row lock (acquire's): only its own expired locks, never
        # another workspace's (their row locks would be taken after this one's).
        expired_delete(workspace_id=workspace_of(root))
        owner = lock["owner"].decode("utf-8", "replace")
        row = DavLock.objects.create(
            token=lock["token"],
            root=root,
            user_id=int(lock["principal"]),
            workspace_id=workspace_of(root),
            type=lock["type"],
            scope=lock["scope"],
            depth=lock["depth"],
            owner=owner,
            client=program_name(requesting_agent.get(), owner),
            timeout=lock["timeout"],
            expire_at=datetime.fromtimestamp(lock["expire"], tz=UTC),
        )
        with transaction.atomic():
            locks_changed([row.workspace_id], actor_id=row.user_id)
        return lock

    def refresh(self, token: str, *, timeout: Any) -> dict[str, Any]:
        seconds = _timeout(timeout)
        expire = datetime.fromtimestamp(time.time() + seconds, tz=UTC)
        if not self._live().filter(token=token).update(timeout=seconds, expire_at=expire):
            raise ValueError("no such lock")
        found = self.get(token)
        if found is None:
            raise ValueError("no such lock")
        return found

    def delete(self, token: str) -> bool:
        with transaction.atomic():
            rows = list(DavLock.objects.filter(token=token).values_list("workspace_id", "user_id"))
            deleted, _ = DavLock.objects.filter(token=token).delete()
            if deleted:
                locks_changed([w for w, _ in rows], actor_id=rows[0][1])
        return bool(deleted)

    def get_lock_list(
        self, path: str, *, include_root: bool, include_children: bool, token_only: bool
    ) -> list[Any]:
        root = normalize_lock_root(path)
        rows: list[DavLock] = []
        if include_root:
            rows.extend(self._live().filter(root=root).order_by("created_at"))
        if include_children:
            rows.extend(
                self._live()
                .filter(root__startswith=_children_prefix(root))
                .exclude(root=root)
                .order_by("created_at")
            )
        if token_only:
            return [row.token for row in rows]
        return [_as_dict(row) for row in rows]

    def locks_along(self, path: str) -> dict[str, list[dict[str, Any]]]:
        """The live locks rooted at ``path`` and at each folder above it, by root: one query
        where asking each in turn took one per level."""
        roots = _along(normalize_lock_root(path))
        by_root: dict[str, list[dict[str, Any]]] = {root: [] for root in roots}
        for row in self._live().filter(root__in=roots).order_by("created_at"):
            by_root[row.root].append(_as_dict(row))
        return by_root


def _along(url: str) -> list[str]:
    """``url`` and every folder above it, as lock roots (``/a/b``, ``/a``, ``/``)."""
    roots = []
    u: str | None = url
    while u:
        roots.append(normalize_lock_root(u))
        u = util.get_uri_parent(u)
    return roots


class SharedLockManager(LockManager):
    """WsgiDAV's lock manager, its decisions serialised per workspace in the database."""

    @contextmanager
    def _serialised(self, url: str) -> Iterator[None]:
        with transaction.atomic():
            workspace = workspace_of(normalize_lock_root(url))
            if workspace is not None:
                workspace_lock(workspace_id=workspace)
            yield

    def acquire(
        self,
        *,
        url: str,
        lock_type: str,
        lock_scope: str,
        lock_depth: str,
        lock_owner: bytes,
        timeout: Any,
        principal: str,
        token_list: list[str],
    ) -> dict[str, Any]:
        url = normalize_lock_root(url)
        self._lock.acquire_write()
        try:
            with self._serialised(url):
                self._check_lock_permission(
                    url, lock_type, lock_scope, lock_depth, token_list, principal
                )
                return self._generate_lock(
                    principal, lock_type, lock_scope, lock_depth, lock_owner, url, timeout
                )
        finally:
            self._lock.release()

    def _begin_write_transaction(
        self, *, url: str, token_list: list[str], principal: str, depth: str = "0"
    ) -> None:
        url = normalize_lock_root(url)
        self._lock.acquire_write()
        try:
            with self._serialised(url):
                errcond = self._get_write_conflicts(url, depth, token_list, principal)
            if len(errcond.hrefs) > 0:
                raise DAVError(HTTP_LOCKED, err_condition=errcond)
            self._active_writes[url] = self._active_writes.get(url, 0) + 1
        finally:
            self._lock.release()

    def _get_write_conflicts(
        self, url: str, depth: str, token_list: list[str], principal: str
    ) -> DAVErrorCondition:
        """WsgiDAV's decision, unchanged (a lock on ``url`` itself, or a depth-infinity lock
        on a folder above it, conflicts unless the request is its holder's with its token; for
        a depth-infinity write, any lock below), with the locks along the path read in one
        query rather than one per level."""
        errcond = DAVErrorCondition(PRECONDITION_CODE_LockConflict)
        url = normalize_lock_root(url)
        for root, locks in self.storage.locks_along(url).items():
            for lock in locks:
                if root != url and lock["depth"] != "infinity":
                    continue  # a folder's depth-0 lock does not hold what is inside it
                if principal == lock["principal"] and lock["token"] in token_list:
                    continue  # the holder, with its token
                errcond.add_href(lock["root"])
        if depth == "infinity":
            for lock in self.storage.get_lock_list(
                url, include_root=False, include_children=True, token_only=False
            ):
                errcond.add_href(lock["root"])
        return errcond

    def locks_on(self, url: str) -> list[dict[str, Any]]:
        """The live locks at ``url`` and below it."""
        return list(
            self.storage.get_lock_list(
                url, include_root=True, include_children=True, token_only=False
            )
        )
