"""A Word file's own tracked changes, accepted in a confined child (``revisions_child.py``
through ``core.sandbox``), never in the server's process: the file is an upload, untrusted.

:func:`accepted_copy` gives the version's file with every tracked change accepted, how many
there were, and the version stamp it carries (the one the child set, so the upload does not
run a second child to read it back); it raises :class:`ApplicationError` with a sentence when
the file has none, cannot be read, holds changes that cannot be accepted here (a table's cells),
or the child failed.
Nothing is written: the caller adds the new version (``services.tracked_changes_accept``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from commonroom.core.exceptions import ApplicationError, Conflict
from commonroom.core.sandbox import Limits, run_child
from commonroom.documents.stamping import PROPERTY, Stamp, local_source, work_folder
from commonroom.office.wordedit import RevisionCount

if TYPE_CHECKING:
    from commonroom.documents.models import Version

log = logging.getLogger(__name__)

CHILD_MODULE = "commonroom.suggestions.revisions_child"
MAX_BYTES = 100 * 1024 * 1024
LIMITS = Limits(seconds=60, memory_mb=1536, file_mb=2 * MAX_BYTES // (1024 * 1024))
FAILED = (
    "The tracked changes of version {n} could not be accepted here: the file could not be "
    "read in time. Nothing was changed; accept them in Word and upload the file."
)


@dataclass(frozen=True)
class Accepted:
    """The file with its tracked changes accepted, what they were, and its version stamp
    (naming the version accepted; ``None`` when the file carries none)."""

    data: bytes
    found: RevisionCount
    stamp: Stamp | None


def no_tracked_changes(number: int) -> ApplicationError:
    return ApplicationError(
        f"Version {number} has no tracked changes to accept.", code="no_tracked_changes"
    )


def _count(value: object) -> int:
    return value if type(value) is int and 0 <= value < 10_000_000 else 0


def accepted_copy(version: Version) -> Accepted:
    """``version``'s Word file with every tracked change accepted (its version stamp, if it has
    one, naming ``version``), made in the confined child."""
    n = version.number
    if version.size > MAX_BYTES:
        raise ApplicationError(
            f"Version {n} is too large to accept its tracked changes here: accept them in Word.",
            code="too_large",
        )
    stamp = Stamp.of(version)
    with work_folder() as work:
        source = local_source(version.blob_id, work)
        outdir = work / "out"
        outdir.mkdir()
        run = run_child(
            CHILD_MODULE,
            ["accept", str(source), str(outdir), PROPERTY, stamp.value],
            work=work,
            limits=LIMITS,
        )
        answer = run.answer
        if run.code != 0 or answer is None or answer.get("refused"):
            log.warning(
                "suggestions: accepting the tracked changes of version %s of %s failed: "
                "code %s, answer %s, %s",
                n,
                version.document_id,
                run.code,
                answer,
                run.errors[-500:],
            )
            raise Conflict(FAILED.format(n=n), code="not_accepted")
        if not answer.get("ok"):
            if answer.get("code") == "no_tracked_changes":
                raise no_tracked_changes(n)
            message = str(answer.get("message") or "").strip()
            if answer.get("code") != "refused" or not message:
                raise Conflict(FAILED.format(n=n), code="not_accepted")
            raise ApplicationError(message, code="cannot_accept")
        made = outdir / "accepted"
        stamped = answer.get("stamp")
        if made.is_symlink() or not made.is_file() or stamped not in (None, stamp.value):
            raise Conflict(FAILED.format(n=n), code="not_accepted")
        found = RevisionCount(
            *(_count(answer.get(k)) for k in ("insertions", "deletions", "others"))
        )
        return Accepted(made.read_bytes(), found, stamp if stamped else None)
