"""The workspace event log that live screens follow.

Invariants: an event is written in the same transaction as the change it reports, so it exists
exactly when the change does; ids only increase, so "everything after id N" is the whole of what
a reconnecting screen missed, in order; an event carries only what every member of its workspace
may see.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Event(models.Model):
    id = models.BigAutoField(primary_key=True)
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=40)
    data = models.JSONField(default=dict)
    # Which process wrote it, so the embedded relay only re-announces other processes' events.
    origin = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["workspace", "id"], name="event_workspace_id")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"
