"""Previews: what a version's file looks like when read in the browser, made once per blob.

A :class:`Preview` belongs to a :class:`~commonroom.documents.models.Blob` (its SHA-256), not to a
version, so every version that shares those bytes shares it. Its HTML is sanitised when it is made
(``previews/html.py``); images it shows are :class:`PreviewFile` rows whose bytes live in the
default storage under ``previews/<sha256>/<name>`` and are only ever served through a view that
checks the reader's access.

A workspace sees a blob's preview only once its own :class:`WorkspacePreview` is made: the
preview task sets it when it runs for that workspace's upload, at once when the blob's preview
was made before. So a new version's preview goes "pending" then "ready" (and its event) in every
workspace, whether its bytes are new or already previewed somewhere the uploader cannot see.
"""

from __future__ import annotations

from django.db import models


class PreviewStatus(models.TextChoices):
    PENDING = "pending", "Being prepared"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
    UNSUPPORTED = "unsupported", "Not available for this kind of file"


class Preview(models.Model):
    blob = models.OneToOneField(
        "documents.Blob", on_delete=models.CASCADE, primary_key=True, related_name="preview"
    )
    status = models.CharField(
        max_length=12, choices=PreviewStatus.choices, default=PreviewStatus.PENDING
    )
    format = models.CharField(max_length=20, blank=True)  # the converter's format: docx, csv...
    kind = models.CharField(max_length=20, blank=True)  # Result.kind: html, table, slides...
    html = models.TextField(blank=True)  # sanitised; {{file:<name>}} for its files
    text = models.TextField(blank=True)  # the words, for search
    notes = models.JSONField(default=list, blank=True)  # sentences for people
    message = models.TextField(blank=True)  # why it failed, for people
    page_count = models.PositiveIntegerField(null=True, blank=True)
    # A Word file's tracked changes (office.wordedit.tracked_revisions); null: not counted.
    revisions = models.PositiveIntegerField(null=True, blank=True)
    converter = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    made_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)  # how long the conversion took

    def __str__(self) -> str:
        return f"preview of {self.blob_id} ({self.status})"

    @property
    def is_ready(self) -> bool:
        return self.status == PreviewStatus.READY


def preview_storage_name(sha256: str, name: str) -> str:
    return f"previews/{sha256}/{name}"


class PreviewFile(models.Model):
    preview = models.ForeignKey(Preview, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=100)  # [A-Za-z0-9._-] only
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    storage_name = models.CharField(max_length=300)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["preview", "name"], name="preview_file_name_unique")
        ]

    def __str__(self) -> str:
        return self.storage_name


class WorkspacePreview(models.Model):
    """A blob's preview as one workspace has it: asked for when a version of the workspace first
    used the blob (``made_at`` null), made when the preview task ran for it. Until then the
    workspace's pages and API show the preview pending, whatever the blob's :class:`Preview`
    says, so shared bytes reveal nothing of another workspace."""

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    blob = models.ForeignKey(
        "documents.Blob", on_delete=models.CASCADE, related_name="workspace_previews"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    made_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "blob"], name="workspace_preview_unique")
        ]
        indexes = [models.Index(fields=["blob", "made_at"], name="workspace_preview_blob")]

    def __str__(self) -> str:
        return f"preview of {self.blob_id} in {self.workspace_id}"
