"""Where other apps plug into workspaces, without workspaces knowing them (``core.hooks``).

**Changes.** A service that changes who may see a workspace, or as what, tells :func:`changed`
inside its transaction, after the change is written and before its audit row. Live follows
(its ``receivers.py``): a removed member's sockets on the workspace close (also when their
access reached its end date: ``actor`` is then ``None``), and a member whose role changed is
told on their open pages. Notifications emails a member whose access ends within a week
(``MemberAccessEnding``, once per end date), and tells someone added at once that they were
(``MemberAdded``).

**The home page.** The home page ("My workspaces") shows what needs the person across their
workspaces, which other apps keep (unread mentions, threads waiting, conversations with new
messages, documents changed since). Each such app adds a part with :func:`add_home_part`,
returning the template context it contributes; the view asks :func:`home_context`.

So workspaces imports none of the apps that follow it or add to its pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from commonroom.core.hooks import Hook, PageParts
from commonroom.workspaces.roles import Role

if TYPE_CHECKING:
    from commonroom.accounts.models import User
    from commonroom.workspaces.models import Workspace

# --- Changes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberRoleChanged:
    """The member ``user_id`` of ``workspace`` now has ``role`` (was ``old_role``): what their
    open pages offer was decided by the old one."""

    actor: User
    workspace: Workspace
    user_id: int
    old_role: str
    role: str

    @property
    def role_label(self) -> str:
        """The new role's name for people ("Editor")."""
        return str(Role(self.role).label)


@dataclass(frozen=True)
class MemberAdded:
    """``user_id``, who already had an account, was invited to ``workspace`` and is a member
    at once, with ``role``; ``open_path`` is the page they were invited to read ("" for the
    workspace itself), named ``open_label``; ``access_until`` is the last day of their access
    when the invitation gave one."""

    actor: User
    workspace: Workspace
    user_id: int
    role: str
    open_path: str = ""
    open_label: str = ""
    access_until: date | None = None


@dataclass(frozen=True)
class MemberRemoved:
    """``user_id`` is no longer a member of ``workspace``: nothing of it may reach them now.
    ``actor`` is the manager who removed them, or ``None`` when their access reached its end
    date (the scheduled job)."""

    actor: User | None
    workspace: Workspace
    user_id: int


@dataclass(frozen=True)
class MemberAccessEnding:
    """The access of ``user_id`` to ``workspace`` ends after ``access_until`` (its last day),
    within a week: they are to be told, once per date (notifications emails them)."""

    workspace: Workspace
    user_id: int
    access_until: date


Change = MemberAdded | MemberRoleChanged | MemberRemoved | MemberAccessEnding

hook: Hook[Change] = Hook("workspaces")
subscribe = hook.subscribe
unsubscribe = hook.unsubscribe
subscribed = hook.subscribed
changed = hook.changed


# --- The home page -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HomePage:
    """The home page being drawn for ``user``."""

    user: User


home_parts: PageParts[HomePage] = PageParts()
add_home_part = home_parts.add
home_context = home_parts.context
