"""What workspaces answers for other apps: whether a workspace of a guest's allows them API
tokens (``accounts.hooks.guest_api_tokens``, which accounts asks in its permissions)."""

from __future__ import annotations

from commonroom.accounts import hooks as accounts_hooks
from commonroom.workspaces.selectors import guests_tokens_allowed

accounts_hooks.guest_api_tokens.add(guests_tokens_allowed)
