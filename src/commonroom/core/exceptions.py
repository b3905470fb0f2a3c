"""The one application error type, translated once at each boundary.

Services raise :class:`ApplicationError` subclasses; the HTML middleware, the JSON API and (later)
websockets and WebDAV each map ``status`` and ``code`` to their own form of error. Nothing below a
boundary builds an HTTP response for an error.
"""

from __future__ import annotations


class ApplicationError(Exception):
    """A failure the user can understand: ``message`` is shown to them as it is."""

    status: int = 400
    code: str = "invalid"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


# What every 404 says, pages (templates/404.html, error.html) and API alike, unless a service
# has something more useful to say (an invitation link cut short, a deleted comment).
NOT_FOUND_MESSAGE = "This page does not exist, or you do not have access to it."


class NotFound(ApplicationError):
    """The thing does not exist *or the actor may not know it exists*: both look the same."""

    status = 404
    code = "not_found"

    def __init__(self, message: str = NOT_FOUND_MESSAGE, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class PermissionDenied(ApplicationError):
    """The actor can see the thing but may not do this to it."""

    status = 403
    code = "permission_denied"


class Conflict(ApplicationError):
    status = 409
    code = "conflict"


class Gone(ApplicationError):
    status = 410
    code = "gone"


class TooLarge(ApplicationError):
    status = 413
    code = "too_large"
