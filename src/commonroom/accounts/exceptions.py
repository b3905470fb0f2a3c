"""What accounts refuses with, beyond core's errors."""

from __future__ import annotations

from commonroom.core.exceptions import ApplicationError


class TokenRefused(ApplicationError):
    """A real, unrevoked API token whose owner may no longer use tokens (an external guest no
    longer allowed them): 401, with the sentence that says why."""

    status = 401
    code = "token_not_allowed"
