"""A WebDAV client for tests: plain HTTP requests to the real ``/dav/`` WSGI application
(``webdav.app``), in the test's thread and so in its database transaction, with a person's
email and an API token of theirs as Basic credentials."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, unquote

import httpx
from defusedxml import ElementTree as ET
from django.core import signals
from django.db import close_old_connections

from commonroom.accounts.services import token_create
from commonroom.webdav.app import DavApplication

DAV = "{DAV:}"

_APP: DavApplication | None = None


def dav_application() -> Any:
    """The endpoint, behind what a PEP 3333 server does and httpx's WSGI transport does not:
    ``PATH_INFO`` as bytes-in-latin-1 (a2wsgi and uvicorn do so)."""
    global _APP
    if _APP is None:
        _APP = DavApplication()
    app = _APP

    def pep3333(environ: dict[str, Any], start_response: Any) -> Any:
        environ["PATH_INFO"] = environ["PATH_INFO"].encode("utf-8").decode("latin-1")
        return app(environ, start_response)

    return pep3333


@contextmanager
def connections_kept() -> Iterator[None]:
    """As Django's test client: the request signals must not close the test's connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def token_for(user: Any, scope: str = "write") -> str:
    return token_create(actor=user, name="WebDAV", scope=scope).secret


class Dav:
    def __init__(
        self,
        user: Any = None,
        *,
        scope: str = "write",
        auth: Any = None,
        remote_addr: str = "127.0.0.1",
    ) -> None:
        self.user = user
        if auth is None and user is not None:
            auth = (user.email, token_for(user, scope))
        self.http = httpx.Client(
            transport=httpx.WSGITransport(app=dav_application(), remote_addr=remote_addr),
            base_url="http://testserver",
            auth=auth,
        )

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with connections_kept():
            return self.http.request(method, url(path), **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def put(self, path: str, content: bytes, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, content=content, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def mkcol(self, path: str) -> httpx.Response:
        return self.request("MKCOL", path)

    def move(
        self, path: str, dest: str, *, overwrite: bool = True, **headers: str
    ) -> httpx.Response:
        return self.request(
            "MOVE",
            path,
            headers={
                "Destination": "http://testserver" + url(dest),
                "Overwrite": "T" if overwrite else "F",
                **headers,
            },
        )

    def copy(self, path: str, dest: str, *, overwrite: bool = True) -> httpx.Response:
        return self.request(
            "COPY",
            path,
            headers={
                "Destination": "http://testserver" + url(dest),
                "Overwrite": "T" if overwrite else "F",
            },
        )

    def propfind(
        self,
        path: str,
        depth: str = "1",
        body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return self.request(
            "PROPFIND",
            path,
            headers={"Depth": depth, **(headers or {})},
            content=(body or "").encode(),
        )

    def listing(self, path: str) -> dict[str, dict[str, Any]]:
        """PROPFIND Depth 1: each member's properties by its path, the folder's own excluded."""
        response = self.propfind(path)
        assert response.status_code == 207, (response.status_code, response.text)
        found = properties(response)
        own = "/dav" + path.rstrip("/")
        return {href: props for href, props in found.items() if href.rstrip("/") != own}

    def lock(
        self,
        path: str,
        *,
        owner: str = "Tom",
        timeout: str = "Second-3600",
        depth: str = "0",
        agent: str | None = None,
    ) -> httpx.Response:
        body = (
            '<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:">'
            "<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
            f"<D:owner><D:href>{owner}</D:href></D:owner></D:lockinfo>"
        )
        headers = {"Timeout": timeout, "Depth": depth}
        if agent is not None:
            headers["User-Agent"] = agent
        return self.request("LOCK", path, content=body.encode(), headers=headers)

    def unlock(self, path: str, token: str) -> httpx.Response:
        return self.request("UNLOCK", path, headers={"Lock-Token": f"<{token}>"})


def url(path: str) -> str:
    return "/dav" + quote(path)


def properties(response: httpx.Response) -> dict[str, dict[str, Any]]:
    """A 207 Multi-Status body: each href (unquoted) with its found properties' texts (an
    element's tag list for ``resourcetype``)."""
    root = ET.fromstring(response.content)
    found: dict[str, dict[str, Any]] = {}
    for item in root.findall(f"{DAV}response"):
        href = unquote(item.findtext(f"{DAV}href") or "")
        props: dict[str, Any] = {}
        for propstat in item.findall(f"{DAV}propstat"):
            if "200" not in (propstat.findtext(f"{DAV}status") or ""):
                continue
            for prop in propstat.find(f"{DAV}prop") or []:
                name = prop.tag.replace(DAV, "")
                if name == "resourcetype":
                    props[name] = [child.tag.replace(DAV, "") for child in prop]
                elif len(prop):
                    props[name] = prop
                else:
                    props[name] = prop.text or ""
        found[href] = props
    return found


# What Word for Windows says it is when it opens a document over WebDAV.
WORD = "Microsoft Office Word 2014 (16.0.17928) Windows NT 10.0"


def lock_token(response: httpx.Response) -> str:
    return response.headers["Lock-Token"].strip("<>")
