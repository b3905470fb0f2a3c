"""Workspaces, their members and invitations.

Invariants: a person has at most one membership per workspace; a workspace always keeps at least
one manager; a membership with an end date (``access_until``, never a manager's) gives no access
once that day is over in the installation's time zone (:func:`current_q`, which every selector
asks); an invitation's token is stored only as its SHA-256 and is used at most once; a
workspace is archived (read-only), never silently destroyed.
"""

from __future__ import annotations

import uuid
from datetime import date

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

# The roles are constants, not data: other apps name them from roles.py.
from commonroom.workspaces.roles import ROLE_RANK as ROLE_RANK
from commonroom.workspaces.roles import ROLE_WITH_ARTICLE as ROLE_WITH_ARTICLE
from commonroom.workspaces.roles import DownloadRule as DownloadRule
from commonroom.workspaces.roles import Role as Role
from commonroom.workspaces.roles import role_with_article as role_with_article


class Workspace(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=2000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    archived_at = models.DateTimeField(null=True, blank=True)
    # How many years a final record (a version approved as one) is kept from its approval:
    # until then neither it nor the workspace can be deleted. 0: no retention.
    record_retention_years = models.PositiveSmallIntegerField(
        default=8, validators=[MaxValueValidator(100)]
    )
    # Whether the external guests who belong to it may create API tokens (a manager's choice;
    # staff always may). A guest may while any workspace of theirs that is not archived allows it.
    guests_may_create_tokens = models.BooleanField(default=False)
    # Who may download originals, per role below manager (managers always may): everyone,
    # staff only (not external guests), or no one. Reading in the browser is everyone's.
    # Decided by permissions.abilities_for_role; decision 27.
    editors_download = models.CharField(
        max_length=10, choices=DownloadRule.choices, default=DownloadRule.EVERYONE
    )
    commenters_download = models.CharField(
        max_length=10, choices=DownloadRule.choices, default=DownloadRule.STAFF
    )
    viewers_download = models.CharField(
        max_length=10, choices=DownloadRule.choices, default=DownloadRule.STAFF
    )
    # Whether an external guest's download of a PDF is stamped on every page with their name,
    # email and the day (a manager's choice; documents.pdf_stamp).
    watermark_guest_downloads = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


def current_q(prefix: str = "", *, today: date | None = None) -> Q:
    """The memberships that still give access now: no end date, or an end date (the last day
    of access, ``access_until``) that is today or later in the installation's time zone.
    ``prefix``: the path to the membership from the rows filtered (``"memberships__"``);
    ``today``: today's date when the caller has it (a query built once and run every day,
    ``core.prepared``), else read from the clock."""
    return Q(**{f"{prefix}access_until__isnull": True}) | Q(
        **{f"{prefix}access_until__gte": timezone.localdate() if today is None else today}
    )


class Membership(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    added_at = models.DateTimeField(default=timezone.now)
    # The last day the person has access (installation's time zone); none: no end. Never a
    # manager's, so that no date can take a workspace's last manager away.
    access_until = models.DateField(null=True, blank=True)
    # The end date the week-ahead email was sent for (once per date: a new date, a new notice).
    access_notice_for = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="one_membership_per_person")
        ]
        ordering = ["user__email"]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.workspace_id} as {self.role}"

    @property
    def access_days_left(self) -> int | None:
        """Whole days of access after today (0: it ends tonight; negative: ended); none: no
        end date."""
        if self.access_until is None:
            return None
        return (self.access_until - timezone.localdate()).days


class Invitation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The page of the workspace the link opens at once accepted (a document the person was
    # invited to read), and its name for the email; empty: the workspace.
    open_path = models.CharField(max_length=300, blank=True)
    open_label = models.CharField(max_length=255, blank=True)
    # The last day of the access it gives (copied to the membership when accepted); none: no end.
    access_until = models.DateField(null=True, blank=True)
    # Why the email could not be sent, if it could not: the manager sees it and invites again.
    email_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.workspace_id}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "withdrawn"
        if self.expires_at <= timezone.now():
            return "expired"
        if self.email_error:
            return "not delivered"
        return "pending"
