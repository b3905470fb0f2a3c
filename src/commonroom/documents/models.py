"""Folders, documents, their append-only versions, and the content-addressed blobs behind them.

Invariants:
- a :class:`Version` never changes after it is written; a document's versions are numbered
  1, 2, 3... without gaps or duplicates (``Document.current_version_number`` is the last one);
- a :class:`Blob` is named by the SHA-256 of its bytes and stored once, however many versions use
  it; its file is completely written and flushed before any version pointing at it commits;
- deleting moves to the trash (``deleted_at``); only a purge removes rows, and only the garbage
  collector removes a blob's file, once no version refers to it;
- a version's ``record_at`` (it is a final record) is set once and never cleared; a document
  whose ``sealed_version`` is set takes no new version, name, place or trip to the trash until a
  manager reopens it (``services.document_reopen``); a record under its workspace's retention
  is never deleted, by a purge or any other way (``receivers``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Blob(models.Model):
    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    # Refreshed whenever an upload reuses this blob, so the collector leaves it alone.
    touched_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.sha256

    @property
    def storage_name(self) -> str:
        return blob_storage_name(self.sha256)


def blob_storage_name(sha256: str) -> str:
    return f"blobs/{sha256[:2]}/{sha256[2:4]}/{sha256}"


class TrashMixin(models.Model):
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # When a folder goes to the trash, everything inside goes with it and names it here, so
    # restoring the folder brings back exactly what went with it.
    trashed_with = models.UUIDField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def in_trash(self) -> bool:
        return self.deleted_at is not None


class Folder(TrashMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="folders"
    )
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    name = models.CharField(max_length=255)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        indexes = [
            # The API's folder lists in their order (name, id), at the top level and inside a
            # folder, as the documents' below; and the trash's, last put there first.
            models.Index(
                fields=["workspace", "name", "id"],
                condition=models.Q(parent__isnull=True, deleted_at__isnull=True),
                name="folder_top_level_by_name",
            ),
            models.Index(
                fields=["parent", "name", "id"],
                condition=models.Q(deleted_at__isnull=True),
                name="folder_in_folder_by_name",
            ),
            models.Index(
                fields=["workspace", "-deleted_at", "-id"],
                condition=models.Q(deleted_at__isnull=False, trashed_with__isnull=True),
                name="folder_trash_by_time",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Document(TrashMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="documents"
    )
    folder = models.ForeignKey(
        Folder, on_delete=models.CASCADE, null=True, blank=True, related_name="documents"
    )
    name = models.CharField(max_length=255)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    current_version_number = models.PositiveIntegerField(default=0)
    # Set: the document is sealed, this version (its latest when sealed) its final record.
    # Cleared only by a manager's reopening; the version stays a record (``record_at``).
    sealed_version = models.ForeignKey(
        "Version", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["workspace", "folder", "deleted_at"], name="doc_listing"),
            # A folder's listing read in the order it is shown, so that a page of 100 out of
            # ten thousand is read from the index, never the whole folder sorted: one index
            # for the top level, one inside folders (partial, as PostgreSQL reads an order
            # from an index only after columns compared with "=", never "IS NULL").
            models.Index(
                fields=["workspace", "name", "id"],
                condition=models.Q(folder__isnull=True, deleted_at__isnull=True),
                name="doc_top_level_by_name",
            ),
            models.Index(
                fields=["folder", "name", "id"],
                condition=models.Q(deleted_at__isnull=True),
                name="doc_in_folder_by_name",
            ),
            # The trash (what was put there on its own, not with a folder), last put there
            # first: a page read from the index rather than every document of the workspace
            # filtered and sorted.
            models.Index(
                fields=["workspace", "-deleted_at", "-id"],
                condition=models.Q(deleted_at__isnull=False, trashed_with__isnull=True),
                name="doc_trash_by_time",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Version(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="versions")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=120)
    size = models.BigIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=500, blank=True)
    # The version the author started from. When it was not the latest at upload time, the
    # upload is still kept, and flagged so that everyone sees two amendments crossed.
    based_on_number = models.PositiveIntegerField(null=True, blank=True)
    based_on_latest = models.BooleanField(default=True)
    # The base was read from the file itself (the version stamped into it when it was
    # downloaded, documents/stamping.py), not from the page the upload came from.
    based_on_from_file = models.BooleanField(default=False)
    # The first earlier version with the same bytes, if any ("identical to version N").
    identical_to_number = models.PositiveIntegerField(null=True, blank=True)
    restored_from_number = models.PositiveIntegerField(null=True, blank=True)
    # Sent by the client with each upload; the same key twice gives the same version once.
    upload_key = models.CharField(max_length=64, null=True, blank=True)
    # When this version became a final record (its approval's rule was met): set once, never
    # cleared, even when the document is reopened.
    record_at = models.DateTimeField(null=True, blank=True)
    # Made while someone else had the document open for editing in another program (a WebDAV
    # lock: ``hooks.edit_locks``): who, in which program ("" unknown), since when. The version
    # is kept all the same; their next save comes in as a newer one.
    while_locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    while_locked_in = models.CharField(max_length=60, blank=True)
    while_locked_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="one_number_per_version"),
            models.UniqueConstraint(
                fields=["document", "upload_key"],
                condition=models.Q(upload_key__isnull=False),
                name="one_version_per_upload_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_id} v{self.number}"

    @property
    def sha256(self) -> str:
        return self.blob_id

    @property
    def is_record(self) -> bool:
        return self.record_at is not None


class ReadBy(models.TextChoices):
    """What showed that a person read a version (``services.version_read_record``)."""

    PREVIEW = "preview", "Read its preview"
    DOWNLOAD = "download", "Downloaded it"
    APPROVAL = "approval", "Approved it"


class VersionRead(models.Model):
    """A read receipt: ``reader`` read ``version`` (first at ``read_at``, shown by ``read_by``).

    One per person and version, ever: a replayed reading, a second download, a reading after an
    approval change nothing (the first stands). Written only by
    ``services.version_read_record``, which also writes its audit row (``version.read``)."""

    version = models.ForeignKey(Version, on_delete=models.CASCADE, related_name="reads")
    # The version's document, so "who has read what" and "new since you last read it" are read
    # per document without a join through the versions.
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="+")
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(default=timezone.now)
    read_by = models.CharField(max_length=10, choices=ReadBy.choices)
    # For a reading of the preview: the seconds it was open and visible, as the page counted.
    visible_seconds = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "reader"], name="one_read_per_version"),
        ]
        indexes = [models.Index(fields=["reader", "document"], name="read_by_reader")]

    def __str__(self) -> str:
        return f"{self.reader_id} read {self.version_id}"


class ReadReminder(models.Model):
    """Those who had not read a document's latest version were reminded: at most once a day per
    document (``day``, the installation's local date), whoever asks."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    version_number = models.PositiveIntegerField()
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField(default=timezone.now)
    recipients = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["document", "day"], name="one_read_reminder_a_day"),
        ]

    def __str__(self) -> str:
        return f"{self.document_id} reminded on {self.day}"
