from __future__ import annotations

from typing import Any

import pytest

from commonroom.webdav.tests.client import Dav


@pytest.fixture
def dav(team: Any) -> dict[str, Dav]:
    """A WebDAV client for each person of the team (write tokens), and one for the outsider."""
    return {role: Dav(user) for role, user in team.by_role.items() if user is not None}
