"""What a person may do with conversations, derived from their workspace abilities.

Every member reads; starting a topic and posting take the same ability as commenting; authors
edit and delete their own messages, managers may delete any (moderation). An archived workspace
is read-only: its abilities already say so. Abilities are named by ``Literal`` types, so a
misspelt name is a type error (see ``workspaces.permissions``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypedDict

from commonroom.conversations.models import Message
from commonroom.workspaces.selectors import WorkspaceAccess

if TYPE_CHECKING:
    from commonroom.accounts.models import User

ConversationAbility = Literal["view", "start", "post"]
MessageAbility = Literal["edit", "delete"]


class ConversationAbilities(TypedDict):
    view: bool
    start: bool
    post: bool


class MessageAbilities(TypedDict):
    edit: bool
    delete: bool


def conversation_abilities(access: WorkspaceAccess) -> ConversationAbilities:
    return {
        "view": access.can("view"),
        "start": access.can("comment"),
        "post": access.can("comment"),
    }


def message_abilities(access: WorkspaceAccess, message: Message, user: User) -> MessageAbilities:
    return message_abilities_as(
        access, deleted=message.is_deleted, author_id=message.author_id, user=user
    )


def message_abilities_as(
    access: WorkspaceAccess, *, deleted: bool, author_id: Any, user: User
) -> MessageAbilities:
    """:func:`message_abilities` of a message known by whether it is deleted and who wrote it
    (a row of a list read as values)."""
    can_post = access.can("comment")
    live = not deleted
    own = author_id == user.pk
    return {
        "edit": can_post and live and own,
        "delete": live and ((can_post and own) or access.can("manage_members")),
    }
