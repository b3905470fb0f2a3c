"""The audit trail in the admin site is read-only: rows are never added, changed or deleted."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from commonroom.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    list_display = ("seq", "created_at", "action", "actor_email", "target_label", "ip")
    list_filter = ("action",)
    search_fields = ("actor_email", "target_label", "target_id")

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
