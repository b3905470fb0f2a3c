"""What a person may do with conversations, derived from their workspace abilities.

Every member reads; starting a topic and posting take the same ability as commenting; authors
edit and delete their own messages, managers may delete any (moderation). An archived workspace
is read-only: its abilities already say so.
"""

from __future__ import annotations

from typing import Any

from commonroom.conversations.models import Message
from commonroom.workspaces.selectors import WorkspaceAccess


def conversation_abilities(access: WorkspaceAccess) -> dict[str, bool]:
    return {
        "view": access.can("view"),
        "start": access.can("comment"),
        "post": access.can("comment"),
    }


def message_abilities(access: WorkspaceAccess, message: Message, user: Any) -> dict[str, bool]:
    can_post = access.can("comment")
    live = not message.is_deleted
    own = message.author_id == getattr(user, "pk", None)
    return {
        "edit": can_post and live and own,
        "delete": live and ((can_post and own) or access.can("manage_members")),
    }
