"""The refusals that a document's state, not a person's role, decides: a sealed document (its
final record stands until a manager reopens it) and a record under its workspace's retention.
Both are :class:`~commonroom.core.exceptions.Conflict` (409) with a sentence; the retention one
is also a :class:`~django.db.models.ProtectedError`, so code deleting rows another way (the
admin site, a shell) sees the kind of refusal Django gives for a protected row."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import ProtectedError
from django.utils import timezone

from commonroom.core.exceptions import Conflict

if TYPE_CHECKING:
    from commonroom.documents.models import Document, Version


def _day(moment: datetime) -> str:
    local = timezone.localtime(moment)
    return f"{local.day} {local:%B %Y}"


class Sealed(Conflict):
    """The document is sealed: nothing may replace or remove its final record."""

    code = "sealed"

    @classmethod
    def of(cls, document: Document) -> Sealed:
        record = document.sealed_version
        if record is None or record.record_at is None:  # pragma: no cover - sealed means both
            return cls(f"“{document.name}” is sealed. A manager can reopen it.")
        return cls(
            f"“{document.name}” is sealed: version {record.number} is its final record, "
            f"approved on {_day(record.record_at)}. A manager can reopen it."
        )


class UnderRetention(ProtectedError, Conflict):
    """A final record still under its workspace's retention cannot be deleted, by anyone."""

    code = "under_retention"
    status = 409
    record: Version | None = None  # the record that is kept (the first, if several are)

    def __init__(self, message: str, protected_objects: Any = ()) -> None:
        # Neither parent's __init__ fits both: set what each of them reads.
        Exception.__init__(self, message, protected_objects)
        self.message = message
        self.protected_objects = protected_objects

    def __str__(self) -> str:
        return self.message

    @classmethod
    def of(cls, record: Version, *, kept_until: datetime, what: str) -> UnderRetention:
        doc = record.document
        refusal = cls(
            f"{what} cannot be deleted: version {record.number} of “{doc.name}” is a final "
            f"record, kept until {_day(kept_until)} under the workspace's retention.",
            {record},
        )
        refusal.record = record
        return refusal
