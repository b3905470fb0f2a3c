"""How other apps follow conversations without conversations knowing them (``core.hooks``).

Every conversations service that writes a topic or a message tells :func:`changed` what it did,
as one of the frozen change types below, inside its transaction, after the change is written and
before its audit row. Search (the topic's and messages' entries) and notifications (who is told,
and the excerpt they quote) subscribe from their ``receivers.py``; what they write commits or
rolls back with the change. So conversations imports neither of them: they import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from commonroom.core.hooks import Hook

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.conversations.models import Conversation, Message


@dataclass(frozen=True)
class ConversationStarted:
    """A topic was started; its first message is told as a :class:`MessagePosted` too."""

    actor: User
    conversation: Conversation
    first_message: Message


@dataclass(frozen=True)
class MessagePosted:
    """A message was written in a conversation (the first of a new topic included).
    ``mentioned``: the members its text mentions."""

    actor: User
    message: Message
    mentioned: tuple[User, ...]


@dataclass(frozen=True)
class MessageEdited:
    """Its author changed a message's text (the earlier text is kept as a revision)."""

    actor: User
    message: Message


@dataclass(frozen=True)
class MessageDeleted:
    """A message became a tombstone: its text is gone, its place in the conversation stays."""

    actor: User
    message: Message


Change = ConversationStarted | MessagePosted | MessageEdited | MessageDeleted

hook: Hook[Change] = Hook("conversations")
subscribe = hook.subscribe
unsubscribe = hook.unsubscribe
subscribed = hook.subscribed
changed = hook.changed
