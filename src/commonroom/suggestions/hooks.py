"""What suggestions tell the apps that follow them (``core.hooks``), without importing them.

``SuggestionMade`` is told inside :func:`services.suggestion_create`'s transaction, when the
suggestion is written: inside the comment's service, as ``comments.hooks`` tells suggestions of
the thread's first comment, so before the comment's audit row and the suggestion's (the audit
rows stay the transaction's last writes). Suggestions follow ``comments.hooks`` after search and
notifications (``INSTALLED_APPS`` order), so their entries and notifications for the comment
exist by then; a follower reworded before them would be written over. It carries
facts, not the model: the thread's first comment, the passage as the preview showed it and the
text suggested. Notifications follow it (the thread's notifications say "X suggested a change
to <document>"), and search (the suggested text is found with the thread's comment).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from commonroom.core.hooks import Hook

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.comments.models import Comment


@dataclass(frozen=True)
class SuggestionMade:
    """A suggestion was made: ``comment`` opens its thread; ``quote`` is the passage it
    changes, ``new_text`` what it puts there (empty for a deletion)."""

    actor: User
    comment: Comment
    quote: str
    new_text: str


Change = SuggestionMade

hook: Hook[Change] = Hook("suggestions")
subscribe = hook.subscribe
unsubscribe = hook.unsubscribe
subscribed = hook.subscribed
changed = hook.changed
