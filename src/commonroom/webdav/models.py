"""What the WebDAV endpoint keeps of its own: locks, clients' dead properties, and each
person's scratch files.

Invariants:
- a :class:`DavLock` is found by its ``root``, a key that is the same for every person
  (``names.lock_key``: the workspace's id, then the names below it, folded), so two people
  who see a workspace under different names still meet each other's locks; it is shared by
  every server process because it is a row, and it ends at ``expire_at``;
- a :class:`DavProperty` belongs to one thing by its identity (``document:<id>``,
  ``folder:<id>``, ``workspace:<id>``, ``scratch:<id>``), so a rename keeps it;
- a :class:`ScratchFile` is seen by its person only, never by anyone else, and never becomes
  part of the workspace by itself: Office's owner files (``~$x.docx``), temporary files
  (``*.tmp``), empty files waiting for their content. A scratch file that ``stands_for`` a
  document is that document moved aside by its person's client in the middle of a save:
  while ``held_until`` is ahead, that person sees the document under this name only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class DavLock(models.Model):
    token = models.CharField(max_length=100, primary_key=True)
    root = models.CharField(max_length=2000, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="+", null=True
    )
    # WsgiDAV's lock fields: "write"; "exclusive" or "shared"; "0" or "infinity"; the
    # client's <owner> XML as it sent it; seconds asked for (capped).
    type = models.CharField(max_length=10, default="write")
    scope = models.CharField(max_length=10)
    depth = models.CharField(max_length=10)
    owner = models.TextField(blank=True)
    # The program that took it ("Word", "" unknown: ``clients.program_name``), for the pages.
    client = models.CharField(max_length=60, blank=True)
    timeout = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now)
    expire_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.root} ({self.scope}, until {self.expire_at:%H:%M:%S})"


class DavProperty(models.Model):
    key = models.CharField(max_length=100)
    name = models.CharField(max_length=500)
    value = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "name"], name="one_dav_property_per_name")
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.name}"


class ScratchFile(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    folder = models.ForeignKey(
        "documents.Folder", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    name = models.CharField(max_length=255)
    name_key = models.CharField(max_length=255)  # the name folded, for lookups
    # Small contents (an owner file) are kept here; larger ones in the blob store by SHA-256
    # (no foreign key: the collector may take them after its grace period, and then the
    # scratch file is gone too).
    data = models.BinaryField(blank=True, default=b"")
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.BigIntegerField(default=0)
    content_type = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(default=timezone.now)
    stands_for = models.ForeignKey(
        "documents.Document", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    held_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "workspace", "folder", "name_key"], name="scratch_place")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def holding(self) -> bool:
        """Whether the document it stands for is still held aside for its person."""
        return (
            self.stands_for_id is not None
            and self.held_until is not None
            and self.held_until > timezone.now()
        )
