from __future__ import annotations

from typing import Any

import pytest

# The body guard's fixtures (the application under uvicorn for a module; files up to 64 MB),
# which WebDAV's PUTs meet as every upload does (test_bodies.py).
from commonroom.core.tests.test_upload_bodies import large_files, server  # noqa: F401
from commonroom.webdav.tests.client import Dav


@pytest.fixture
def dav(team: Any) -> dict[str, Dav]:
    """A WebDAV client for each person of the team (write tokens), and one for the outsider."""
    return {role: Dav(user) for role, user in team.by_role.items() if user is not None}
