"""What ``commonroom audit verify --files`` checks: that the files the audited rows name are in
storage. The rows are other apps' (documents' versions), so each such app adds its own check
with :func:`add_files_check` from its ``AppConfig.ready()``; audit runs them and reports, and
imports none of those apps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class FilesResult:
    """What one app's check found: ``problems`` (a sentence each, naming the row and its file),
    and what the command says when there are none (``passed``) or some (``failed``)."""

    passed: str
    failed: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


FilesCheck = Callable[[], FilesResult]
_checks: list[FilesCheck] = []


def add_files_check(check: FilesCheck) -> None:
    """``check`` runs on every ``audit verify --files``, in the order checks were added."""
    if check not in _checks:
        _checks.append(check)


def audit_files_verify() -> list[FilesResult]:
    """Every added check's result. Kept apart from the chain walk on purpose: a size query per
    file (a ``stat``, or a HEAD on S3), no reading; hashing every byte is ``fsck``'s job."""
    return [check() for check in _checks]
