"""What a workspace event says: one typed class per kind of data, ids and facts only.

Pages and API clients receive the same events (``{"type": "event", "id", "kind", "data"}``), so
an event carries no markup, DOM id, page URL or sentence: each client builds what it shows (the
page's script fetches a fragment by a URL it derives from the ids). ``services.publish`` takes
one of these classes, so a misspelt kind or field is a type error, and the OpenAPI schema
(:func:`openapi_components`) is written from the same classes, so the documentation cannot drift
from what is sent.

Invariant: an event carries only what every member of its workspace may see.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DocumentKind = Literal[
    "document.renamed", "document.trashed", "document.restored", "document.purged"
]
FolderKind = Literal[
    "folder.created", "folder.renamed", "folder.trashed", "folder.restored", "folder.purged"
]


class EventData(BaseModel):
    """The base of every kind's data. ``kind`` is sent beside the data, not in it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str

    def data(self) -> dict[str, Any]:
        """The event's data as stored and sent: JSON values, without ``kind``."""
        return self.model_dump(mode="json", exclude={"kind"})


class CommentEvent(EventData):
    """A comment was posted, or a comment changed (edited, deleted, resolved, reopened)."""

    kind: Literal["comment.created", "comment.updated"]
    document: uuid.UUID
    thread: uuid.UUID = Field(description="The thread's first comment (itself, if it is one).")
    comment: uuid.UUID
    version: int = Field(description="The number of the version it was made on.")
    author_id: int = Field(description="Who did it (the user id, as in the members list).")
    client_key: str = Field(
        default="", description="The key the poster's client sent with a new comment."
    )


class PassagesEvent(EventData):
    """Threads anchored to passages were looked for in a new version's preview: each thread
    listed got a new place or state there (found again, its passage changed, or it could not be
    looked for: the preview could not be made). Fetch each thread to show it."""

    kind: Literal["comment.passages"]
    document: uuid.UUID
    number: int = Field(description="The version looked in.")
    found: list[uuid.UUID] = Field(description="Threads whose passage is in it, unchanged.")
    changed: list[uuid.UUID] = Field(description="Threads whose passage changed in it.")
    unchecked: list[uuid.UUID] = Field(description="Threads that could not be looked for in it.")
    more: int = Field(
        default=0,
        description=(
            "How many more threads got a new place or state than the lists name (they name "
            "200 at most in all): the page reads the document's threads again."
        ),
    )


class MessageEvent(EventData):
    """A message was posted in a conversation, or changed (edited, deleted)."""

    kind: Literal["message.created", "message.updated"]
    conversation: uuid.UUID
    message: uuid.UUID
    author_id: int = Field(description="Who did it (the user id, as in the members list).")
    client_key: str = Field(default="", description="The key the poster's client sent with it.")


class ConversationEvent(EventData):
    """A conversation was started (with ``message``, its first) or has a new or changed
    message (``message``): its place in the workspace's list of conversations changes."""

    kind: Literal["conversation.created", "conversation.updated"]
    conversation: uuid.UUID
    message: uuid.UUID
    author_id: int = Field(description="Who did it (the user id, as in the members list).")
    client_key: str = Field(default="", description="The key the poster's client sent with it.")


class PreviewEvent(EventData):
    """The preview of a document's latest version is made (or could not be made)."""

    kind: Literal["preview.ready"]
    document: uuid.UUID
    number: int = Field(description="The version whose preview it is.")
    status: Literal["ready", "failed"]


class VersionEvent(EventData):
    """A version was added: uploaded (version 1 makes the document) or an old one restored."""

    kind: Literal["version.created"]
    document: uuid.UUID
    folder: uuid.UUID | None = Field(description="The document's folder (null: the top level).")
    name: str = Field(description="The document's name.")
    number: int
    restored_from: int | None = Field(
        default=None, description="The version it restores, when it is a restored one."
    )
    author_id: int = Field(description="Who added it (the user id, as in the members list).")


class DocumentEvent(EventData):
    """A document was renamed, moved to the trash, restored from it (perhaps to the top level,
    perhaps with a new name), or purged from it for good."""

    kind: DocumentKind
    document: uuid.UUID
    folder: uuid.UUID | None = Field(description="Its folder (null: the top level).")
    name: str = Field(description="Its name (after the change).")
    actor_id: int = Field(description="Who did it (the user id, as in the members list).")


class DocumentMovedEvent(EventData):
    """A document was moved to another folder."""

    kind: Literal["document.moved"]
    document: uuid.UUID
    folder: uuid.UUID | None = Field(description="Where it is now (null: the top level).")
    from_folder: uuid.UUID | None = Field(description="Where it was (null: the top level).")
    name: str
    actor_id: int = Field(description="Who did it (the user id, as in the members list).")


class DocumentSealedEvent(EventData):
    """A document was sealed (its latest version became its final record) or reopened by a
    manager (new versions go above the record, which stays one)."""

    kind: Literal["document.sealed", "document.reopened"]
    document: uuid.UUID
    folder: uuid.UUID | None = Field(description="Its folder (null: the top level).")
    number: int = Field(description="The version that is the final record.")
    actor_id: int = Field(description="Who did it (the user id, as in the members list).")


class EditLocksEvent(EventData):
    """Someone's program took or ended an edit lock in this workspace (Word opening or closing
    a document over WebDAV, a manager breaking a lock, a lock expiring). A lock may hold one
    document or a whole folder: pages showing who holds what ask again."""

    kind: Literal["locks.changed"]
    actor_id: int | None = Field(
        description="Whose program took or released it (the user id, as in the members list); "
        "null when a manager broke it or it expired."
    )


class FolderEvent(EventData):
    """A folder was created, renamed, moved to the trash with everything in it, restored, or
    purged for good. The documents it takes to (or brings back from) the trash have no event
    of their own: they are inside it."""

    kind: FolderKind
    folder: uuid.UUID
    parent: uuid.UUID | None = Field(description="The folder it is in (null: the top level).")
    name: str = Field(description="Its name (after the change).")
    actor_id: int = Field(description="Who did it (the user id, as in the members list).")


class FolderMovedEvent(EventData):
    """A folder was moved into another (or to the top level)."""

    kind: Literal["folder.moved"]
    folder: uuid.UUID
    parent: uuid.UUID | None = Field(description="Where it is now (null: the top level).")
    from_parent: uuid.UUID | None = Field(description="Where it was (null: the top level).")
    name: str
    actor_id: int = Field(description="Who did it (the user id, as in the members list).")


SuggestionEventKind = Literal[
    "suggestion.created", "suggestion.accepted", "suggestion.rejected", "suggestion.outdated"
]


class SuggestionEvent(EventData):
    """A suggestion was made, accepted, rejected, or outdated by a new version. Its thread's
    comments have their own events; fetch the suggestion to show its change and state."""

    kind: SuggestionEventKind
    document: uuid.UUID
    suggestion: uuid.UUID
    thread: uuid.UUID = Field(description="The comment that opens the suggestion's thread.")
    version: int = Field(
        description="The version it applies to (made on, moved to, accepted in or outdated by)."
    )
    actor_id: int = Field(description="Who did it (the user id, as in the members list).")


ApprovalEventKind = Literal[
    "approval.requested", "approval.changed", "approval.decided", "approval.ended"
]


class ApprovalEvent(EventData):
    """An approval request was made, changed (approvers, due date, a reminder), decided on by
    one approver, or ended (approved and sealed, declined, cancelled, or ended by a new
    version). Fetch the request to show it."""

    kind: ApprovalEventKind
    document: uuid.UUID
    request: uuid.UUID
    version: int = Field(description="The version the request is for.")
    state: str = Field(description="The request's state after the change.")
    actor_id: int | None = Field(
        description="Who did it (the user id, as in the members list); null for the server's "
        "own jobs."
    )


DATA_CLASSES: tuple[type[EventData], ...] = (
    CommentEvent,
    PassagesEvent,
    MessageEvent,
    ConversationEvent,
    PreviewEvent,
    VersionEvent,
    DocumentEvent,
    DocumentMovedEvent,
    DocumentSealedEvent,
    EditLocksEvent,
    FolderEvent,
    FolderMovedEvent,
    SuggestionEvent,
    ApprovalEvent,
)


def kinds_of(data_class: type[EventData]) -> tuple[str, ...]:
    """The kinds whose data ``data_class`` is (the values its ``kind`` may take)."""
    schema = data_class.model_json_schema()["properties"]["kind"]
    return tuple(schema["enum"]) if "enum" in schema else (schema["const"],)


# Every kind a workspace event can have, and the class of its data.
KINDS: dict[str, type[EventData]] = {
    kind: data_class for data_class in DATA_CLASSES for kind in kinds_of(data_class)
}


def openapi_components(ref_prefix: str = "#/components/schemas/") -> dict[str, Any]:
    """The schemas of the websocket's event messages, for the API's OpenAPI document: one per
    kind of data, and ``LiveEvent``, the message, whose ``kind`` says which ``data`` it has."""
    components: dict[str, Any] = {}
    branches: list[dict[str, Any]] = []
    mapping: dict[str, str] = {}
    for data_class in DATA_CLASSES:
        name = data_class.__name__
        schema = data_class.model_json_schema(ref_template=ref_prefix + "{model}")
        schema["properties"].pop("kind")
        schema["required"] = [f for f in schema.get("required", []) if f != "kind"]
        components[name] = schema
        message = f"{name}Message"
        components[message] = {
            "title": message,
            "type": "object",
            "properties": {
                "type": {"const": "event", "type": "string"},
                "id": {"type": "integer", "description": "Increases with every event."},
                "kind": {"enum": list(kinds_of(data_class)), "type": "string"},
                "data": {"$ref": ref_prefix + name},
            },
            "required": ["type", "id", "kind", "data"],
            "additionalProperties": False,
        }
        branches.append({"$ref": ref_prefix + message})
        mapping.update({kind: ref_prefix + message for kind in kinds_of(data_class)})
    components["LiveEvent"] = {
        "title": "LiveEvent",
        "description": (
            "A workspace event, as sent on the websocket `/ws/w/{workspace_id}/?after={id}` "
            "(authenticated like the API). Ids and facts only: fetch what to show by id."
        ),
        "oneOf": branches,
        "discriminator": {"propertyName": "kind", "mapping": mapping},
    }
    return components
