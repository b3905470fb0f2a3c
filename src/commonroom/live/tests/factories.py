"""Events for the tests of the live transport, which does not care what an event says."""

from __future__ import annotations

import uuid
from typing import Final

from commonroom.live.events import FolderEvent, FolderKind

KIND: Final = "folder.created"
# Another kind, for the event a test publishes last to show that nothing else came before it.
LATER: Final = "folder.renamed"


def an_event(n: int = 0, kind: FolderKind = KIND) -> FolderEvent:
    """A real kind of event (a folder created), told apart by its name: ``f"Folder {n}"``."""
    return FolderEvent(kind=kind, folder=uuid.uuid4(), parent=None, name=f"Folder {n}", actor_id=1)
