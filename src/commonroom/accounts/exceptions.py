"""What accounts refuses with, beyond core's errors."""

from __future__ import annotations

from commonroom.core.exceptions import ApplicationError


class TokenRefused(ApplicationError):
    """A real, unrevoked API token whose owner may no longer use tokens (an external guest no
    longer allowed them): 401, with the sentence that says why."""

    status = 401
    code = "token_not_allowed"


class EmailCodeRefused(ApplicationError):
    """A code sent by email that does not let the person through: wrong (``code_wrong``), out
    of time (``code_expired``), used already (``code_used``) or tried too often
    (``code_attempts``). ``fresh_needed`` says whether only a new code can help now."""

    status = 400
    code = "code_wrong"

    @property
    def fresh_needed(self) -> bool:
        return self.code != "code_wrong"
