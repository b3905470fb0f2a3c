"""The OpenAPI schema and the browsable docs.

The schema must be well-formed (no key twice), document the bearer token and the session cookie
(the only way to manage tokens), the multipart upload bodies, the binary download and the JSON
error shape. The docs page must work on a machine with no internet and under the app's
Content-Security-Policy (``script-src 'self'``): every script and stylesheet it loads is served by
the app itself, and it runs no inline script.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client

OPENAPI = "/api/v1/openapi.json"
DOCS = "/api/v1/docs"


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    assert not duplicates, f"the schema has the key(s) {duplicates} twice in one object"
    return dict(pairs)


@pytest.fixture
def openapi(db: Any) -> dict[str, Any]:
    response = Client().get(OPENAPI)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    return dict(json.loads(response.content, object_pairs_hook=no_duplicate_keys))


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
    ]


def test_the_schema_is_openapi_3_with_every_operation(openapi):
    assert openapi["openapi"].startswith("3.")
    assert openapi["info"]["title"] == "Commonroom API"
    found = {(m, p) for m, p, _ in operations(openapi)}
    for expected in [
        ("GET", "/api/v1/me"),
        ("POST", "/api/v1/me/tokens"),
        ("DELETE", "/api/v1/me/tokens/{token_id}"),
        ("PATCH", "/api/v1/workspaces/{workspace_id}"),
        ("POST", "/api/v1/workspaces/{workspace_id}/invitations"),
        ("POST", "/api/v1/workspaces/{workspace_id}/documents"),
        ("POST", "/api/v1/workspaces/{workspace_id}/documents/{document_id}/versions"),
        (
            "GET",
            "/api/v1/workspaces/{workspace_id}/documents/{document_id}/versions/{number}/content",
        ),
        ("DELETE", "/api/v1/workspaces/{workspace_id}/trash/documents/{document_id}"),
    ]:
        assert expected in found


# Managing tokens takes the browser session only, so a leaked token cannot mint new ones.
SESSION_ONLY = {
    ("GET", "/api/v1/me/tokens"),
    ("POST", "/api/v1/me/tokens"),
    ("DELETE", "/api/v1/me/tokens/{token_id}"),
}


def test_the_schema_documents_the_bearer_token_on_every_operation_but_token_management(openapi):
    schemes = openapi["components"]["securitySchemes"]
    bearer = [name for name, s in schemes.items() if s.get("scheme") == "bearer"]
    cookie = [name for name, s in schemes.items() if s.get("in") == "cookie"]
    assert bearer and cookie, schemes
    (token,), (browser,) = bearer, cookie
    assert schemes[token]["type"] == "http"
    assert "Bearer cr_" in schemes[token]["description"]
    assert schemes[browser]["type"] == "apiKey"
    assert "X-CSRFToken" in schemes[browser]["description"]
    found = {(method, path) for method, path, _ in operations(openapi)}
    assert found >= SESSION_ONLY
    for method, path, op in operations(openapi):
        security = op.get("security", [])
        if (method, path) in SESSION_ONLY:
            assert security == [{browser: []}], f"{method} {path}"
        else:
            assert {token: []} in security, f"{method} {path}"
            assert {browser: []} in security, f"{method} {path}"


def test_uploads_are_documented_as_multipart_with_a_binary_file(openapi):
    paths = openapi["paths"]
    for path in (
        "/api/v1/workspaces/{workspace_id}/documents",
        "/api/v1/workspaces/{workspace_id}/documents/{document_id}/versions",
    ):
        body = paths[path]["post"]["requestBody"]
        form = body["content"]["multipart/form-data"]["schema"]
        assert form["properties"]["file"] == {"format": "binary", "title": "File", "type": "string"}
        assert "file" in form["required"]
        assert "413" in paths[path]["post"]["responses"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/workspaces/{workspace_id}/documents/{document_id}/versions",
        "/api/v1/workspaces/{workspace_id}/documents",  # a same-named file is a new version
    ],
)
def test_the_uploads_document_their_409(openapi, path):
    conflict = openapi["paths"][path]["post"]["responses"]["409"]
    assert "same_as_latest" in conflict["description"]
    schema = conflict["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ErrorOut"}


def test_the_download_is_documented_as_binary_with_its_headers(openapi):
    op = openapi["paths"][
        "/api/v1/workspaces/{workspace_id}/documents/{document_id}/versions/{number}/content"
    ]["get"]
    ok = op["responses"]["200"]
    (media,) = ok["content"].values()
    assert media["schema"] == {"type": "string", "format": "binary"}
    assert {"Content-Disposition", "ETag", "Content-Length"} <= set(ok["headers"])


def test_every_operation_documents_its_errors_in_one_shape(openapi):
    error = openapi["components"]["schemas"]["ErrorOut"]
    assert set(error["required"]) == {"code", "detail"}
    for method, path, op in operations(openapi):
        responses = op["responses"]
        for status in ("401", "403", "404", "422", "503"):
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorOut"}, f"{method} {path} {status}"
        if method != "GET":
            assert "409" in responses and "400" in responses, f"{method} {path}"


def resolve(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    return dict(openapi["components"]["schemas"][ref.rsplit("/", 1)[-1]])


# Every operation that answers a list of things, and so must answer it a page at a time.
LISTS = {
    "/api/v1/me/tokens",
    "/api/v1/workspaces",
    "/api/v1/workspaces/{workspace_id}/members",
    "/api/v1/workspaces/{workspace_id}/invitations",
    "/api/v1/workspaces/{workspace_id}/folders",
    "/api/v1/workspaces/{workspace_id}/documents",
    "/api/v1/workspaces/{workspace_id}/documents/{document_id}/versions",
    "/api/v1/workspaces/{workspace_id}/documents/{document_id}/comments",
    "/api/v1/workspaces/{workspace_id}/documents/{document_id}/suggestions",
    "/api/v1/workspaces/{workspace_id}/documents/{document_id}/approvals",
    "/api/v1/workspaces/{workspace_id}/conversations",
    "/api/v1/workspaces/{workspace_id}/conversations/{conversation_id}/messages",
    "/api/v1/workspaces/{workspace_id}/trash/folders",
    "/api/v1/workspaces/{workspace_id}/trash/documents",
    "/api/v1/notifications",
    "/api/v1/approvals/awaiting",
}


def test_no_operation_answers_a_bare_list(openapi):
    for method, path, op in operations(openapi):
        for status, response in op["responses"].items():
            for content in response.get("content", {}).values():
                schema = resolve(openapi, content.get("schema", {}))
                assert schema.get("type") != "array", f"{method} {path} {status}"


def test_every_list_is_documented_as_a_page_with_its_limit_and_cursor(openapi):
    listed = {p for m, p, op in operations(openapi) if m == "GET" and "cursor" in params(op)}
    assert listed == LISTS
    for path in LISTS:
        op = openapi["paths"][path]["get"]
        limit, cursor = params(op)["limit"], params(op)["cursor"]
        assert limit["in"] == cursor["in"] == "query"
        assert "1 to 200" in limit["description"] and "default 100" in limit["description"]
        assert "next" in cursor["description"] and "bad_cursor" in cursor["description"]
        page = resolve(openapi, op["responses"]["200"]["content"]["application/json"]["schema"])
        assert {"items", "next"} <= set(page["properties"]), path
        assert page["properties"]["items"]["type"] == "array", path
        assert {"type": "null"} in page["properties"]["next"]["anyOf"], path
        assert "bad_cursor" in op["responses"]["400"]["description"], path


def params(op: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in op.get("parameters", [])}


# --- The browsable docs ----------------------------------------------------------------------


class Assets(HTMLParser):
    """The scripts, stylesheets and icons a page loads, and its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            if a.get("src"):
                self.urls.append(str(a["src"]))
            elif (a.get("type") or "text/javascript") not in ("application/json",):
                self._in_inline_script = True
                self.inline_scripts.append("")
        elif tag == "link" and a.get("href"):
            self.urls.append(str(a["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data: str) -> None:
        if self._in_inline_script:
            self.inline_scripts[-1] += data


def test_the_docs_page_loads_only_the_apps_own_files_and_no_inline_script(db):
    from commonroom.core.middleware import CSP

    response = Client().get(DOCS)

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == CSP
    assert "script-src 'self'" in CSP
    page = Assets()
    page.feed(response.content.decode())
    assert page.urls, "the docs page should load Swagger UI"
    external = [u for u in page.urls if "://" in u or u.startswith("//")]
    assert not external, f"the docs page loads files from the internet: {external}"
    assert not page.inline_scripts, "an inline script would be refused by script-src 'self'"
    for url in page.urls:
        asset = Client().get(url)
        assert asset.status_code == 200, f"{url} is not served ({asset.status_code})"
    scripts = [u for u in page.urls if u.endswith(".js")]
    assert any("swagger-ui-bundle" in u for u in scripts), scripts


def test_the_docs_page_points_swagger_at_our_schema(db):
    response = Client().get(DOCS)

    assert OPENAPI in response.content.decode()
