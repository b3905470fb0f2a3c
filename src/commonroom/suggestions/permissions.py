"""Who may suggest, and who may decide: derived from the document abilities
(``documents.permissions``), in one place, named by :data:`SuggestionAbility`.

- Suggesting is commenting with a change: whoever may comment on the document (commenters,
  editors, managers; guests by their role), while the workspace is not archived and the
  document not in the trash (then nobody may comment), on a document whose kind suggestions
  can change (.docx, .txt, .md).
- Deciding (accepting, rejecting) makes or refuses a new version: whoever may upload new
  versions (editors and managers), so nobody while the document is sealed (the seal's
  sentence says why).
- Downloading a Word version with its suggestions as tracked changes: whoever may download
  the document.

A non-member never reaches these: the selectors answer 404 first. A member without the right
gets :class:`PermissionDenied` with a sentence (``workspaces.services.deny``, which says when
the workspace is archived instead).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypedDict

from commonroom.core.exceptions import Conflict
from commonroom.documents.permissions import require
from commonroom.documents.selectors import DocumentAccess
from commonroom.previews.convert import format_for
from commonroom.suggestions.models import Suggestion
from commonroom.suggestions.passages import FORMATS
from commonroom.workspaces.services import deny

if TYPE_CHECKING:
    from commonroom.documents.models import Version

SuggestionAbility = Literal["accept", "reject"]

CANNOT_SUGGEST = "You can read this document but not suggest changes to it."
CANNOT_DECIDE = "Only the workspace's managers and editors can accept or reject suggestions."
UNSUPPORTED = (
    "Suggestions can change Word (.docx), text (.txt) and Markdown (.md) files only: this "
    "version is another kind of file."
)


class NotWord(Conflict):
    """A version that is not a Word (.docx) file, asked for tracked changes: to count or accept
    its own (``selectors.version_tracked_changes``, ``services.tracked_changes_accept``) or to
    download it with the suggestions as tracked changes (``services.tracked_changes_download``).
    One sentence and one code (409 ``not_word``) for all, on pages and in the API."""

    code = "not_word"

    def __init__(self, number: int) -> None:
        super().__init__(
            f"Version {number} is not a Word (.docx) file: tracked changes are made, downloaded "
            "and accepted in Word files only."
        )


class SuggestionAbilities(TypedDict):
    accept: bool
    reject: bool


def version_format(version: Version) -> str | None:
    """The format suggestions read ``version`` as ("docx", "txt", "md"), or None."""
    fmt = format_for(version.content_type, version.filename)
    return fmt if fmt in FORMATS else None


def may_suggest(doc_access: DocumentAccess, version: Version | None = None) -> bool:
    """Whether this reader may suggest a change (to ``version``, when given)."""
    if not doc_access.can("comment"):
        return False
    return version is None or version_format(version) is not None


def may_decide(doc_access: DocumentAccess) -> bool:
    """Whether this reader may accept or reject the document's suggestions."""
    return doc_access.can("upload_version")


def suggestion_abilities(doc_access: DocumentAccess, suggestion: Suggestion) -> SuggestionAbilities:
    decide = may_decide(doc_access) and suggestion.is_open
    return {"accept": decide, "reject": decide}


def require_suggest(doc_access: DocumentAccess) -> None:
    if not doc_access.can("comment"):
        deny(doc_access.access, CANNOT_SUGGEST)


def require_decide(doc_access: DocumentAccess) -> None:
    """Refused with a sentence; on a sealed document, the seal's (409 ``sealed``)."""
    require(doc_access, "upload_version", CANNOT_DECIDE)


def may_download(doc_access: DocumentAccess) -> bool:
    """Whether this reader may download the document (with its suggestions, too)."""
    return doc_access.can("download")


def may_carry(doc_access: DocumentAccess, version: Version) -> bool:
    """Whether this reader is offered to carry ``version``'s changes onto the version before it
    as suggestions: it is the latest, it was made from an older version than the latest of its
    time (a stale copy), its kind of file has paragraphs, and the reader may decide and
    restore versions."""
    return (
        may_decide(doc_access)
        and doc_access.can("restore_version")
        and version.number == doc_access.document.current_version_number
        and version.number > 1
        and not version.based_on_latest
        and bool(version.based_on_number)
        and version_format(version) is not None
    )
