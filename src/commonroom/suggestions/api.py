"""The suggestions part of the JSON API (mounted on /api/v1/workspaces by commonroom/api.py): list
a document's suggestions (by state), make one, read one, accept one or a set (one new version),
reject one; accept all the tracked changes of a Word version (one new version); download a Word
version with its suggestions as tracked changes; carry a stale copy's changes as suggestions.
Same selectors, services and abilities as the pages; a non-member gets 404 from
``documents.selectors.document_access`` before anything else is read."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field, StringConstraints

from commonroom.accounts.api import PersonOut, person_out
from commonroom.core.pagination import Keyset, PageIn, page_for, page_schema
from commonroom.core.request_info import RequestInfo
from commonroom.core.views import AuthedRequest
from commonroom.documents.api import DOWNLOAD_OFF_403, NO_NUL, Text, VersionOut, version_out
from commonroom.documents.selectors import DocumentAccess, document_access
from commonroom.suggestions import services
from commonroom.suggestions.downloads import (
    LEFT_OUT,
    SUGGESTIONS_LEFT_OUT,
    THREADS_LEFT_OUT,
    tracked_response,
)
from commonroom.suggestions.models import Kind, State, Suggestion
from commonroom.suggestions.selectors import (
    document_suggestions,
    state_sentence,
    suggestion_get,
    version_tracked_changes,
)
from commonroom.suggestions.tracked import WORD_TYPE

router = Router(tags=["suggestions"])

ClientKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{0,64}$")]
KindName = Literal["replace", "delete", "insert_before", "insert_after", "new_paragraph"]
StateName = Literal["open", "accepted", "rejected", "outdated"]


class SuggestionAbilitiesOut(Schema):
    accept: bool
    reject: bool


class SuggestionOut(Schema):
    id: uuid.UUID
    thread: uuid.UUID = Field(description="The comment thread carrying it (see comments).")
    kind: KindName
    state: StateName
    state_sentence: str = Field(description="The state in words, as the page says it.")
    author: PersonOut
    created_at: datetime
    version: int = Field(description="The version it was made on.")
    applies_to: int = Field(description="The version it applies to (the latest while open).")
    block: str = Field(description='The block of the preview it was made on ("p-<n>").')
    start: int = Field(description="Offsets in the block's text, in UTF-16 code units.")
    end: int
    quote: str = Field(description="The passage it changes, as the preview showed it.")
    new_text: str = Field(description="The text it puts in; empty for a deletion.")
    reason: str
    decided_by: PersonOut | None
    decided_at: datetime | None
    decision_reason: str
    accepted_in: int | None
    outdated_in: int | None
    abilities: SuggestionAbilitiesOut


class SuggestionIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not ignored

    version: int | None = Field(None, description="The version suggested on (default: latest).")
    block: Annotated[str, StringConstraints(pattern=r"^p-[0-9]{1,6}$")] = Field(
        description='The block of that version\'s preview ("p-<n>", its id in the preview HTML).'
    )
    start: int = Field(ge=0, description="Offset in the block's text (UTF-16 code units).")
    end: int = Field(ge=0, description="End offset; the whole block is 0 and its length.")
    kind: KindName
    text: Annotated[str, StringConstraints(pattern=NO_NUL)] = Field(
        "", description="The new text (empty for a deletion)."
    )
    reason: Text = Field("", description="Why: the thread's first comment.")
    quote: Annotated[str, StringConstraints(pattern=NO_NUL, max_length=500)] | None = Field(
        None, description="The passage as shown, whitespace collapsed; checked when sent."
    )
    client_key: ClientKey = Field(
        "", description="Send the same key when retrying: the suggestion is stored once."
    )


class AcceptIn(Schema):
    model_config = ConfigDict(extra="forbid")

    ids: list[uuid.UUID] = Field(
        min_length=1,
        max_length=services.MAX_AT_ONCE,
        description="The suggestions accepted together, in one new version.",
    )


class AcceptOut(Schema):
    version: VersionOut
    suggestions: list[SuggestionOut]


class RejectIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: Text = ""


class ListFilter(Schema):
    state: StateName | None = Field(None, description="Only the suggestions in this state.")


def suggestion_out(s: Suggestion) -> dict[str, Any]:
    return {
        "id": s.pk,
        "thread": s.comment_id,
        "kind": s.kind,
        "state": s.state,
        "state_sentence": state_sentence(s),
        "author": person_out(s.author),
        "created_at": s.created_at,
        "version": s.version.number,
        "applies_to": s.applies_to.number,
        "block": s.block_id,
        "start": s.start,
        "end": s.end,
        "quote": s.quote,
        "new_text": s.new_text,
        "reason": s.reason,
        "decided_by": person_out(s.decided_by),
        "decided_at": s.decided_at,
        "decision_reason": s.decision_reason,
        "accepted_in": s.accepted_in.number if s.accepted_in is not None else None,
        "outdated_in": s.outdated_in.number if s.outdated_in is not None else None,
        "abilities": dict(s.can),
    }


def _info(request: AuthedRequest) -> RequestInfo:
    return RequestInfo.from_request(request)


def _doc(request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID) -> DocumentAccess:
    return document_access(user=request.user, workspace_id=workspace_id, document_id=document_id)


S = "/{workspace_id}/documents/{document_id}/suggestions"


SuggestionPage = page_schema(SuggestionOut, "SuggestionPage")
OLDEST_SUGGESTION_FIRST = Keyset(("created_at", "pk"))


@router.get(S, response=SuggestionPage)
def suggestion_list(
    request: AuthedRequest,
    workspace_id: uuid.UUID,
    document_id: uuid.UUID,
    filters: Query[ListFilter],
    page: Query[PageIn],
) -> object:
    """The document's suggestions, oldest first (only those in ``state`` when given), each with
    what you may do to it, a page at a time."""
    doc_access = _doc(request, workspace_id, document_id)
    state = State(filters.state) if filters.state else None
    window = page_for(
        page,
        keyset=OLDEST_SUGGESTION_FIRST,
        scope=f"suggestions:{document_id}:{filters.state or ''}",
    )
    found = document_suggestions(doc_access=doc_access, state=state, page=window)
    return window.respond(request, found, suggestion_out)


@router.post(S, response={200: SuggestionOut, 201: SuggestionOut})
def suggestion_create(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, payload: SuggestionIn
) -> object:
    """Suggest a change to a passage of a version's preview (commenters, editors, managers).
    201 when made; 200 with the earlier one when ``client_key`` was already used (a retry).
    Refused with a sentence when the passage is not in the preview or not found in the file."""
    doc_access = _doc(request, workspace_id, document_id)
    suggestion = services.suggestion_create(
        actor=request.user,
        doc_access=doc_access,
        version_number=payload.version
        if payload.version is not None
        else doc_access.document.current_version_number,
        block_id=payload.block,
        start=payload.start,
        end=payload.end,
        kind=Kind(payload.kind),
        text=payload.text,
        reason=payload.reason,
        quote=payload.quote,
        client_key=payload.client_key,
        info=_info(request),
    )
    made = suggestion_get(doc_access=doc_access, suggestion_id=suggestion.pk)
    # A suggestion made now carries the comment its thread was started with, just written.
    return Status(201 if suggestion.comment.is_new else 200, suggestion_out(made))


# Before "/{suggestion_id}": its URL would take "accept" for an id.
@router.post(S + "/accept", response=AcceptOut)
def suggestions_accept(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, payload: AcceptIn
) -> object:
    """Accept one suggestion or several (managers and editors): ONE new version with each
    change made; each one's thread is resolved. Refused whole (409, with a sentence) when any
    is not open or cannot be applied; then nothing changes."""
    doc_access = _doc(request, workspace_id, document_id)
    version = services.suggestions_accept(
        actor=request.user,
        doc_access=doc_access,
        suggestion_ids=[str(i) for i in payload.ids],
        info=_info(request),
    )
    chosen = {str(i) for i in payload.ids}
    accepted = [s for s in document_suggestions(doc_access=doc_access) if str(s.pk) in chosen]
    return {"version": version_out(version), "suggestions": [suggestion_out(s) for s in accepted]}


# Before "/{suggestion_id}", for the same reason.
@router.get(
    S + "/tracked-changes",
    response={200: bytes},
    openapi_extra={
        "responses": {
            "403": DOWNLOAD_OFF_403,
            "200": {
                "description": (
                    "The Word (.docx) file of the version with every open suggestion made on it "
                    "or before as a Word tracked change (`w:ins`/`w:del`, by its author, dated "
                    "when it was made) and every open comment thread on a passage of it as a "
                    "Word comment with its replies; stamped as that version (the custom "
                    "document property `CommonroomVersion`), so the file uploaded after "
                    "editing it in Word is known to be based on it. An attachment named "
                    "`<document> (version N, with suggestions).docx`. What could not be "
                    "placed in the file is left out and counted in the headers."
                ),
                "content": {
                    WORD_TYPE: {"schema": {"type": "string", "format": "binary"}},
                },
                "headers": {
                    "Content-Disposition": {
                        "description": "`attachment`, with the file's name.",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^attachment;"},
                    },
                    SUGGESTIONS_LEFT_OUT: {
                        "description": "How many open suggestions could not be placed.",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[0-9]+$"},
                    },
                    THREADS_LEFT_OUT: {
                        "description": (
                            "How many open threads on a passage were left out: their passage "
                            "is not in this version, or not found in its file."
                        ),
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[0-9]+$"},
                    },
                    LEFT_OUT: {
                        "description": "What was left out and why, in words (when anything was).",
                        "required": False,
                        "schema": {"type": "string"},
                    },
                },
            },
            "409": {
                "description": (
                    "The version is not a Word file (`not_word`), or its file cannot be read "
                    "(`not_readable`) or is too large (`too_large`) to add them to."
                ),
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}
                },
            },
        }
    },
)
def suggestions_tracked_download(
    request: AuthedRequest,
    workspace_id: uuid.UUID,
    document_id: uuid.UUID,
    version: int | None = None,
) -> object:
    """A Word version (the latest by default) with its open suggestions as tracked changes and
    its open comment threads as Word comments, for whoever may download the document. 409 with
    a sentence for a version that is not a Word file, or whose file cannot be read."""
    doc_access = _doc(request, workspace_id, document_id)
    made = services.tracked_changes_download(
        actor=request.user,
        doc_access=doc_access,
        number=version if version is not None else doc_access.document.current_version_number,
        info=_info(request),
    )
    return tracked_response(made)


class CarryIn(Schema):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(
        ge=1,
        le=1_000_000,
        description="The latest version, made from an older one than the latest of its time.",
    )


class NotCarriedOut(Schema):
    old: str = Field(description="The paragraph as the copy's base had it (empty: new).")
    new: str = Field(description="The paragraph as the copy has it (empty: deleted).")
    reason: str = Field(description="Why it was not carried.")


class CarryOut(Schema):
    version: VersionOut = Field(description="The new latest version: the one before the copy.")
    suggestions: list[SuggestionOut]
    not_carried: list[NotCarriedOut]
    report: uuid.UUID | None = Field(
        description="The comment listing what was not carried, when anything was not."
    )


# Before "/{suggestion_id}": its URL would take "carry" for an id.
@router.post(S + "/carry", response={201: CarryOut})
def stale_copy_carry(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, payload: CarryIn
) -> object:
    """Carry a stale copy's changes onto the latest as suggestions (managers and editors): the
    latest ``version`` was made from an older version than the latest of its time, so it undoes
    what the versions between changed. The version before it becomes the latest again (a new
    version) and each change the copy made to its base becomes a suggestion on it, by the
    copy's uploader; a change to text the versions between also changed is not carried but
    listed (and in a comment). Refused with a sentence, nothing written, when the version is
    not the latest or not such a copy, has no paragraphs, changed nothing, or the preview of
    the version before it is not ready."""
    doc_access = _doc(request, workspace_id, document_id)
    result = services.stale_copy_carry(
        actor=request.user, doc_access=doc_access, number=payload.version, info=_info(request)
    )
    made = {s.pk for s in result.suggestions}
    return Status(
        201,
        {
            "version": version_out(result.restored),
            "suggestions": [
                suggestion_out(s)
                for s in document_suggestions(doc_access=doc_access)
                if s.pk in made
            ],
            "not_carried": [
                {"old": n.old, "new": n.new, "reason": n.why} for n in result.not_carried
            ],
            "report": result.report.pk if result.report is not None else None,
        },
    )


@router.get(S + "/{suggestion_id}", response=SuggestionOut)
def suggestion_detail(
    request: AuthedRequest,
    workspace_id: uuid.UUID,
    document_id: uuid.UUID,
    suggestion_id: uuid.UUID,
) -> object:
    """One suggestion."""
    doc_access = _doc(request, workspace_id, document_id)
    return suggestion_out(suggestion_get(doc_access=doc_access, suggestion_id=suggestion_id))


@router.post(S + "/{suggestion_id}/reject", response=SuggestionOut)
def suggestion_reject(
    request: AuthedRequest,
    workspace_id: uuid.UUID,
    document_id: uuid.UUID,
    suggestion_id: uuid.UUID,
    payload: RejectIn,
) -> object:
    """Reject a suggestion (managers and editors), with a reason if given; its thread is
    resolved (it stays, and can be reopened to go on talking)."""
    doc_access = _doc(request, workspace_id, document_id)
    services.suggestion_reject(
        actor=request.user,
        doc_access=doc_access,
        suggestion_id=suggestion_id,
        reason=payload.reason,
        info=_info(request),
    )
    return suggestion_out(suggestion_get(doc_access=doc_access, suggestion_id=suggestion_id))


class TrackedChangesOut(Schema):
    version: int
    count: int | None = Field(
        description=(
            "How many tracked changes made in Word the version's file holds (insertions, "
            "deletions, formatting and the others), as its preview counted them; null while "
            "they are not counted (the preview is not made yet, or failed)."
        )
    )
    can_accept: bool = Field(
        description=(
            "Whether you may accept them all as one new version (`accept-tracked-changes`): "
            "there are some, and you are a manager or an editor of a workspace not archived."
        )
    )


@router.get(
    "/{workspace_id}/documents/{document_id}/versions/{number}/tracked-changes",
    response=TrackedChangesOut,
    openapi_extra={
        "responses": {
            "409": {
                "description": "The version is not a Word file (`not_word`).",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}
                },
            }
        }
    },
)
def tracked_changes_count(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, number: int
) -> object:
    """How many tracked changes made in Word version ``number``'s .docx holds, and whether you
    may accept them all (``accept-tracked-changes``), for whoever may read the document."""
    found = version_tracked_changes(
        doc_access=_doc(request, workspace_id, document_id), number=number
    )
    return {"version": found.version, "count": found.count, "can_accept": found.can_accept}


@router.post(
    "/{workspace_id}/documents/{document_id}/versions/{number}/accept-tracked-changes",
    response={201: VersionOut},
    openapi_extra={
        "responses": {
            "409": {
                "description": (
                    "The version is not a Word file (`not_word`), or the accepted file's bytes "
                    "are those of the latest version (`same_as_latest`: no new version was "
                    "made), or the file could not be read in time (`not_accepted`)."
                ),
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}
                },
            }
        }
    },
)
def tracked_changes_accept(
    request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID, number: int
) -> object:
    """Accept every tracked change made in Word in version ``number``'s .docx (managers and
    editors): ONE new version, based on that version (flagged ``based_on_latest: false`` when
    it is not the latest), noting how many insertions and deletions were accepted. Refused with
    a sentence, nothing written, when the file is not a .docx (409 ``not_word``), has no tracked
    changes (``no_tracked_changes``) or has some that cannot be accepted here, such as changes
    to a table's cells (``cannot_accept``)."""
    doc_access = _doc(request, workspace_id, document_id)
    version = services.tracked_changes_accept(
        actor=request.user, doc_access=doc_access, number=number, info=_info(request)
    )
    return Status(201, version_out(version))
