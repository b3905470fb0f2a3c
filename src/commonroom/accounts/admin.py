"""Administrators manage people in Django's admin site: create staff accounts, deactivate people,
allow an external guest API tokens, take away a code by email as someone's second factor (when
they lost that mailbox)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from commonroom.accounts.models import ApiToken, EmailCodeFactor, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "full_name", "kind", "is_active", "is_superuser", "last_login")
    list_filter = ("kind", "is_active", "is_superuser", "api_tokens_allowed")
    search_fields = ("email", "full_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("full_name", "kind")}),
        ("Access", {"fields": ("is_active", "api_tokens_allowed", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "full_name", "kind", "password1", "password2"),
            },
        ),
    )
    readonly_fields = ("last_login", "date_joined")
    filter_horizontal = ()


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = ("name", "user", "scope", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope",)
    search_fields = ("name", "user__email", "prefix")
    readonly_fields = (
        "user",
        "name",
        "scope",
        "prefix",
        "secret_hash",
        "created_at",
        "last_used_at",
        "last_used_ip",
        "revoked_at",
    )

    # Tokens are made and revoked by their owner (secret shown only to them, every change
    # audited); administrators can look, and deactivate the person to stop every token at once.
    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(EmailCodeFactor)
class EmailCodeFactorAdmin(admin.ModelAdmin[EmailCodeFactor]):
    """Who gets a code by email at sign-in. Set up only by the person (after typing a code sent
    to them); an administrator may only look, and delete one (audited as every admin change)."""

    list_display = ("user", "created_at", "last_used_at")
    search_fields = ("user__email",)
    readonly_fields = ("user", "created_at", "last_used_at")

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
