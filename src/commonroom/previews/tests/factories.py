"""A ready preview with one image, for tests that need one without running a converter."""

from __future__ import annotations

from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from commonroom.previews.models import (
    Preview,
    PreviewFile,
    PreviewStatus,
    WorkspacePreview,
    preview_storage_name,
)
from commonroom.previews.tests.files import png_bytes


def make_ready_preview(document: Any, *, name: str = "image1.png") -> str:
    """Give the latest version of ``document`` a ready preview showing one PNG; returns the
    file's name."""
    version = document.versions.order_by("-number").first()
    preview, _ = Preview.objects.update_or_create(
        blob_id=version.blob_id,
        defaults={
            "status": PreviewStatus.READY,
            "kind": "html",
            "format": "txt",
            "html": '<p id="p-1">Minutes<img src="{{file:' + name + '}}"></p>',
            "made_at": timezone.now(),
        },
    )
    WorkspacePreview.objects.update_or_create(
        workspace_id=document.workspace_id,
        blob_id=version.blob_id,
        defaults={"made_at": timezone.now()},
    )
    data = png_bytes()
    stored = default_storage.save(preview_storage_name(version.blob_id, name), ContentFile(data))
    PreviewFile.objects.create(
        preview=preview, name=name, content_type="image/png", size=len(data), storage_name=stored
    )
    return name
