"""Shortcuts for the conversation tests: everything goes through the real services."""

from __future__ import annotations

from typing import Any

from commonroom.conversations import services
from commonroom.conversations.models import Conversation, Message
from commonroom.workspaces.selectors import workspace_access


def access_for(user: Any, workspace: Any) -> Any:
    return workspace_access(user=user, workspace_id=workspace.pk)


def start(
    user: Any, workspace: Any, title: str = "Budget for Q3", body: str = "Hello all", **kw: Any
) -> Conversation:
    return services.conversation_start(
        actor=user, access=access_for(user, workspace), title=title, body=body, **kw
    )


def post(user: Any, conversation: Conversation, body: str = "A reply", **kw: Any) -> Message:
    return services.message_post(
        actor=user,
        access=access_for(user, conversation.workspace),
        conversation_id=conversation.pk,
        body=body,
        **kw,
    )
