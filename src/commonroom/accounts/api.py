"""API operations on the caller's own account and tokens."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from ninja import Query, Router, Schema, Status
from pydantic import Field, StringConstraints

from commonroom.accounts import services
from commonroom.accounts.auth import BrowserSessionAuth
from commonroom.accounts.models import ApiToken, TokenScope, User, UserKind
from commonroom.accounts.selectors import person_name, tokens_for_user
from commonroom.core.pagination import Keyset, PageIn, page_for, page_schema
from commonroom.core.request_info import RequestInfo
from commonroom.core.views import AuthedRequest

router = Router(tags=["account"])

# Text as people type it. PostgreSQL cannot store a NUL character, so none is accepted (422).
Text = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]


class PersonOut(Schema):
    """A person as the other apps' API shows them (an author, a resolver): never an email.
    An external guest is marked as one, with their email's domain, wherever they appear."""

    id: int
    name: str
    is_guest: bool = Field(description="An external guest, not the organisation's staff.")
    guest_domain: str | None = Field(
        description="For a guest, the domain of their email address (null for staff)."
    )


def person_out(user: User | None) -> dict[str, Any] | None:
    """A person as the API shows them: id, name, and whether (and from where) they are a
    guest; never an email address."""
    if user is None:
        return None
    return {
        "id": user.pk,
        "name": user.display_name,
        "is_guest": user.is_guest,
        "guest_domain": user.guest_domain or None,
    }


def person_row_out(row: Mapping[str, Any], prefix: str) -> dict[str, Any] | None:
    """:func:`person_out` of the person read as ``accounts.selectors.person_columns(prefix)``
    in ``row`` (None when there is none: a left join found no one), by the same rules."""
    pk = row[f"{prefix}id"]
    if pk is None:
        return None
    email = row[f"{prefix}email"]
    guest = row[f"{prefix}kind"] == UserKind.GUEST
    return {
        "id": pk,
        "name": person_name(row[f"{prefix}full_name"], email),
        "is_guest": guest,
        "guest_domain": (email.rsplit("@", 1)[-1].lower() if guest else "") or None,
    }


class MeOut(Schema):
    id: int
    email: str
    full_name: str
    kind: str


class TokenOut(Schema):
    id: int
    name: str
    scope: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenIn(Schema):
    name: Text
    scope: TokenScope = TokenScope.READ


class TokenCreated(TokenOut):
    secret: str


def _token_out(t: ApiToken) -> dict[str, object]:
    return {
        "id": t.pk,
        "name": t.name,
        "scope": t.scope,
        "prefix": t.prefix,
        "created_at": t.created_at,
        "last_used_at": t.last_used_at,
        "revoked_at": t.revoked_at,
    }


@router.get("/me", response=MeOut)
def me(request: AuthedRequest) -> object:
    return request.user


TokenPage = page_schema(TokenOut, "TokenPage")
NEWEST_TOKEN_FIRST = Keyset(("-created_at", "-pk"))


@router.get("/me/tokens", response=TokenPage, auth=BrowserSessionAuth())
def token_list(request: AuthedRequest, page: Query[PageIn]) -> object:
    """Your API tokens, revoked ones included, newest first, a page at a time."""
    window = page_for(page, keyset=NEWEST_TOKEN_FIRST, scope=f"tokens:{request.user.pk}")
    rows = window.window(tokens_for_user(user=request.user))
    return window.respond(request, rows, _token_out)


@router.post("/me/tokens", response={201: TokenCreated}, auth=BrowserSessionAuth())
def token_create(request: AuthedRequest, payload: TokenIn) -> object:
    issued = services.token_create(
        actor=request.user,
        name=payload.name,
        scope=payload.scope,
        info=RequestInfo.from_request(request),
    )
    return Status(201, {**_token_out(issued.token), "secret": issued.secret})


@router.delete("/me/tokens/{token_id}", response={204: None}, auth=BrowserSessionAuth())
def token_revoke(request: AuthedRequest, token_id: int) -> object:
    services.token_revoke(
        actor=request.user,
        token_id=token_id,
        info=RequestInfo.from_request(request),
    )
    return Status(204, None)
