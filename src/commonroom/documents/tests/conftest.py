"""Fixtures for the documents tests: what is stored, as rows and as files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from commonroom.documents.models import Blob, Document, Version
from commonroom.documents.tests.support import files_under


@dataclass
class Stored:
    """Rows and files that exist now, to compare with what exists after an action."""

    documents: int
    versions: int
    blobs: int
    media: list[str]
    upload_tmp: list[str]


class Store:
    def __init__(self, settings: Any) -> None:
        self.settings = settings

    @property
    def media_root(self) -> Path:
        return Path(self.settings.MEDIA_ROOT)

    @property
    def upload_tmp(self) -> Path:
        return Path(self.settings.FILE_UPLOAD_TEMP_DIR)

    def now(self) -> Stored:
        return Stored(
            documents=Document.objects.count(),
            versions=Version.objects.count(),
            blobs=Blob.objects.count(),
            media=files_under(self.media_root) if self.media_root.exists() else [],
            upload_tmp=files_under(self.upload_tmp) if self.upload_tmp.exists() else [],
        )

    def blob_path(self, sha256: str) -> Path:
        return self.media_root / "blobs" / sha256[:2] / sha256[2:4] / sha256


@pytest.fixture
def store(settings: Any) -> Store:
    return Store(settings)
