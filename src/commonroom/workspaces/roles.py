"""The roles a member may have, in order, and how a sentence says each. Constants, not data:
any app may import them (the demo seed names its people's roles)."""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    COMMENTER = "commenter", "Commenter"
    EDITOR = "editor", "Editor"
    MANAGER = "manager", "Manager"


ROLE_RANK = {Role.VIEWER: 1, Role.COMMENTER: 2, Role.EDITOR: 3, Role.MANAGER: 4}

# Each role as said after "as" in a sentence ("invited you as an editor"): its article with it,
# so no template guesses "a" or "an".
ROLE_WITH_ARTICLE = {
    Role.VIEWER: "a viewer",
    Role.COMMENTER: "a commenter",
    Role.EDITOR: "an editor",
    Role.MANAGER: "a manager",
}


def role_with_article(role: str) -> str:
    """``"editor"`` → ``"an editor"``: the role with its article, for a sentence."""
    return ROLE_WITH_ARTICLE[Role(role)]


class DownloadRule(models.TextChoices):
    """Who in one role may download originals (a workspace's setting, per role below manager:
    managers always may, since they decide who else does)."""

    EVERYONE = "everyone", "Everyone"
    STAFF = "staff", "Staff only, not external guests"
    NOBODY = "nobody", "No one"
