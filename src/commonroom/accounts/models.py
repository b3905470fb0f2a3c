"""People and their API tokens.

Invariants: an email address belongs to one user (compared case-insensitively, stored lower-case);
a token's secret is never stored, only its SHA-256; a revoked token never authenticates again.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone

from commonroom.core.fragments import person_shown


class UserKind(models.TextChoices):
    STAFF = "staff", "Staff"
    GUEST = "guest", "External guest"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


def person_name(full_name: str | None, email: str | None) -> str:
    """How a person is named on every page: their full name, or else their address (for rows
    read as values, without a ``User``)."""
    return full_name or email or ""


class NamedPerson:
    """How a person is named on every page, for a ``User`` and for a person read as values
    (``accounts.selectors.PersonRow``) alike: from ``pk``, ``full_name``, ``email`` and
    ``kind``. Each name or guest mark read is noted for the page fragment being drawn, if any
    (``core.fragments``: a kept fragment naming them is checked against them)."""

    __slots__ = ()

    pk: Any
    full_name: str
    email: str
    kind: str

    @property
    def display_name(self) -> str:
        person_shown(self.pk)
        return person_name(self.full_name, self.email)

    @property
    def is_guest(self) -> bool:
        person_shown(self.pk)
        return self.kind == UserKind.GUEST

    @property
    def guest_domain(self) -> str:
        """For an external guest, the domain of their email address (shown beside their name,
        so that a guest cannot pass for a colleague of the same name); "" for staff."""
        return self.email.rsplit("@", 1)[-1].lower() if self.is_guest else ""


class User(NamedPerson, AbstractBaseUser, PermissionsMixin):
    """A person who signs in. ``kind`` says staff or external guest; ``is_superuser`` marks an
    administrator (sees the whole audit trail); ``is_staff`` only opens Django's admin site;
    ``api_tokens_allowed`` lets an external guest create API tokens."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    kind = models.CharField(max_length=10, choices=UserKind.choices, default=UserKind.STAFF)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    # An administrator's allowance for an external guest to create API tokens even where none of
    # their workspaces allows it (staff always may: accounts/permissions.py decides).
    api_tokens_allowed = models.BooleanField(
        "may create API tokens",
        default=False,
        help_text=(
            "For an external guest: may create API tokens even if none of their workspaces "
            "allows guests' tokens. Staff always may."
        ),
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.display_name

    def get_full_name(self) -> str:
        return self.display_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class TokenScope(models.TextChoices):
    READ = "read", "Read only"
    WRITE = "write", "Read and write"


class ApiToken(models.Model):
    """A personal access token for the JSON API (and later WebDAV app passwords)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=10, choices=TokenScope.choices, default=TokenScope.READ)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.CharField(max_length=64, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_write(self) -> bool:
        return self.scope == TokenScope.WRITE


class EmailCodeFactor(models.Model):
    """A person's choice of "a code by email" as their second factor: after their password,
    each sign-in asks for a code sent to their address (:class:`EmailCode`). It counts as a
    second factor for the policy beside allauth's authenticators
    (``selectors.second_factor_missing``)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="email_code_factor")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"code by email for {self.user_id}"


class EmailCodePurpose(models.TextChoices):
    SIGN_IN = "sign_in", "Signing in"
    SET_UP = "set_up", "Setting up a code by email"
    CONFIRM = "confirm", "Confirming it is you"


class EmailCode(models.Model):
    """One code sent by email: six digits, good for ``EMAIL_CODE_MINUTES`` minutes, once, for one
    purpose. Only a keyed hash of it is stored (``code_hash``: the salt, then HMAC-SHA-256 under
    the installation's secret key). ``attempts`` counts the tries at it and ``used_at`` marks it
    used, each changed by one conditional UPDATE, so every server process sees the same count and
    a code is accepted once however many requests race with it."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="email_codes")
    purpose = models.CharField(max_length=10, choices=EmailCodePurpose.choices)
    code_hash = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="email_code_user_time")]

    def __str__(self) -> str:
        return f"{self.purpose} code for {self.user_id}"
