"""Conversations on the pages of other apps: the home page lists the conversations with new
messages for the person (``workspaces.hooks``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commonroom.conversations.selectors import conversations_with_new_messages
from commonroom.workspaces import hooks as workspaces


def home_page(page: workspaces.HomePage) -> Mapping[str, Any]:
    return {"conversations": conversations_with_new_messages(user=page.user)}


def connect() -> None:
    workspaces.add_home_part(home_page)
