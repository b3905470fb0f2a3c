"""Helpers for the JSON API tests: clients that authenticate as a given person, with a personal
access token or with the browser session, URL builders and the error-shape check.

Every request goes through the whole Django stack (middleware, ninja, services) with the test
client; nothing below the HTTP boundary is called directly except to build the starting data.
"""

from __future__ import annotations

from typing import Any

from django.test import Client

API = "/api/v1"


def token_for(user: Any, scope: str = "write") -> str:
    """A new personal access token of ``user``, as its secret (shown once)."""
    from commonroom.accounts.services import token_create

    return token_create(actor=user, name=f"tests ({scope})", scope=scope).secret


def bearer(user: Any, scope: str = "write") -> Client:
    """A client that sends ``Authorization: Bearer <token>`` of ``user`` on every request."""
    return Client(headers={"Authorization": f"Bearer {token_for(user, scope)}"})


def session(user: Any, *, enforce_csrf: bool = True) -> Client:
    """A signed-in browser session; by default the CSRF checks a real browser faces apply."""
    client = Client(enforce_csrf_checks=enforce_csrf)
    client.force_login(user)
    return client


def csrf_token(client: Client) -> str:
    """The CSRF token a page would give the signed-in browser (set as a cookie by any page)."""
    client.get("/")
    cookie = client.cookies.get("csrftoken")
    assert cookie is not None, "the home page should set the CSRF cookie"
    return str(cookie.value)


def signed_in(user: Any) -> Client:
    """A signed-in browser session that sends its CSRF token with every request, as the app's
    own pages do: what managing API tokens (``/me/tokens``) requires."""
    client = session(user)
    client.defaults["HTTP_X_CSRFTOKEN"] = csrf_token(client)
    return client


def as_user(user: Any, scope: str = "write") -> Client:
    """A client for ``user`` (None: anonymous, no credentials at all)."""
    return Client() if user is None else bearer(user, scope)


def ws_url(workspace: Any, rest: str = "") -> str:
    return f"{API}/workspaces/{workspace.pk}{rest}"


def doc_url(workspace: Any, document_id: Any, rest: str = "") -> str:
    return f"{API}/workspaces/{workspace.pk}/documents/{document_id}{rest}"


def upload_via_api(
    client: Client,
    workspace: Any,
    name: str = "minutes.txt",
    content: bytes = b"Minutes of the weekly budget meeting.\n",
    **fields: Any,
) -> Any:
    """POST a multipart upload (field ``file``) to the documents endpoint."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {"file": SimpleUploadedFile(name, content, content_type="text/plain"), **fields}
    return client.post(ws_url(workspace, "/documents"), data=data)


def error_of(response: Any) -> dict[str, Any]:
    """The JSON error body, checked to have exactly the API's error shape."""
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    assert set(body) == {"code", "detail"}, body
    assert isinstance(body["code"], str) and body["code"]
    assert body["detail"]
    return dict(body)
