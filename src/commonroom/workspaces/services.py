"""Every write to workspaces, memberships and invitations.

Each service is keyword-only, atomic, checks the abilities it needs and records its audit event
in the same transaction. Emails are sent only after the transaction commits.

Access that ends (decision 29): an invitation and a membership may carry ``access_until``, the
last day of access in the installation's time zone (never a manager's). The selectors stop
counting the membership once that day is over; the scheduled jobs (``schedule.py``) tell the
person a week before (:func:`memberships_access_notify`, once per date) and, once the day has
passed, remove the membership as a manager's removal does (:func:`memberships_access_end`:
``MemberRemoved``, so live closes their sockets; audited). :func:`guests_remove` removes
several external guests at once, from the workspaces their manager manages.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from commonroom.accounts.permissions import account_abilities
from commonroom.accounts.selectors import name_key
from commonroom.audit.actions import Action
from commonroom.audit.services import audit_record, audit_rows_last
from commonroom.core.exceptions import (
    ApplicationError,
    Conflict,
    Gone,
    NotFound,
    PermissionDenied,
)
from commonroom.core.request_info import SYSTEM, RequestInfo
from commonroom.core.text import plain_text
from commonroom.workspaces import hooks
from commonroom.workspaces.models import (
    DownloadRule,
    Invitation,
    Membership,
    Role,
    Workspace,
    current_q,
    role_with_article,
)
from commonroom.workspaces.permissions import DOWNLOAD_FIELDS, WorkspaceAbility
from commonroom.workspaces.selectors import (
    WorkspaceAccess,
    access_for,
    managed_guests_chosen,
    member_users,
    parse_uuid,
    role_now,
    workspace_access,
    workspace_locked,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from commonroom.accounts.models import User

log = logging.getLogger(__name__)
Users = get_user_model()


def deny(access: WorkspaceAccess, message: str) -> NoReturn:
    """Refuse an action; in an archived workspace, say that is why."""
    if access.workspace.is_archived:
        raise PermissionDenied("This workspace is archived and read-only.")
    raise PermissionDenied(message)


def require_ability(access: WorkspaceAccess, ability: WorkspaceAbility, message: str) -> None:
    if not access.can(ability):
        deny(access, message)


def lock_access(*, actor: User, access: WorkspaceAccess) -> WorkspaceAccess:
    """Inside a write's transaction: lock the workspace row and read the actor's role again.

    Writes to one workspace's tree and names queue on this lock, and a write decided on this
    request's earlier read cannot land after the person was removed, demoted or the workspace
    archived meanwhile."""
    # Two statements, not one: on PostgreSQL the role is read by a statement that starts once
    # the lock is held, so it sees a removal committed by whoever held the lock before. Both
    # built once per process (core.prepared).
    ws = workspace_locked(access.workspace.pk)
    if ws is None:
        raise NotFound()
    role = role_now(workspace_id=ws.pk, user_id=actor.pk)
    if role is None:
        raise NotFound()
    return access_for(workspace=ws, role=role, user=actor)


def workspace_lock(*, workspace_id: Any) -> None:
    """Inside a transaction: lock the workspace's row, as :func:`lock_access` does but for no
    one in particular (live's events, written by whichever service or task, queue on it so that
    one workspace's events commit in id order; search's late writes, such as a preview's words,
    queue on it behind the workspace's changes). A workspace that does not exist locks
    nothing."""
    workspace_locked(workspace_id)


def _clean_name(name: str) -> str:
    name = plain_text(name)
    if not name:
        raise ApplicationError("Enter a name for the workspace.", code="name_required")
    if len(name) > 120:
        raise ApplicationError("The name must be 120 characters or fewer.", code="name_too_long")
    return name


MAX_RETENTION_YEARS = 100


def _clean_retention_years(value: int | str | None) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdecimal() or int(text) > MAX_RETENTION_YEARS:
        raise ApplicationError(
            f"Keep final records for a whole number of years from 0 to {MAX_RETENTION_YEARS} "
            "(0: no retention).",
            code="invalid_retention",
        )
    return int(text)


_RULES_SAID = "everyone, staff (not external guests) or nobody"


def _clean_downloads(value: Mapping[str, Any] | None) -> dict[str, DownloadRule]:
    """The download setting asked for, role by role (only the roles given change), or a
    sentence: an unknown role or rule, or managers not allowed (decision 27: managers always
    may, so no setting leaves no one able to download)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ApplicationError(
            "Give who may download as each role's rule: " + _RULES_SAID + ".",
            code="invalid_download_setting",
        )
    cleaned: dict[str, DownloadRule] = {}
    for role, rule in value.items():
        if role not in Role.values:
            raise ApplicationError(
                f"There is no role called {plain_text(str(role))[:40]!r}: the roles are manager, "
                "editor, commenter and viewer.",
                code="invalid_download_setting",
            )
        if not isinstance(rule, str) or rule not in DownloadRule.values:
            raise ApplicationError(
                f"Choose who among the {role}s may download: {_RULES_SAID}.",
                code="invalid_download_setting",
            )
        if role == Role.MANAGER:
            if rule != DownloadRule.EVERYONE:
                raise ApplicationError(
                    "Managers can always download: they decide who else may, and turning it "
                    "off for them would leave no one able to download. Nothing was changed.",
                    code="managers_download",
                )
            continue
        cleaned[role] = DownloadRule(rule)
    return cleaned


def _ws_audit(
    access_or_ws: WorkspaceAccess | Workspace,
    *,
    action: str,
    actor: User | None,
    info: RequestInfo,
    **kwargs: Any,
) -> None:
    ws = access_or_ws.workspace if isinstance(access_or_ws, WorkspaceAccess) else access_or_ws
    kwargs.setdefault("target_type", "workspace")
    kwargs.setdefault("target_id", str(ws.pk))
    kwargs.setdefault("target_label", ws.name)
    audit_record(action=action, actor=actor, info=info, workspace_id=ws.pk, **kwargs)


@transaction.atomic
def workspace_create(
    *, actor: User, name: str, description: str = "", info: RequestInfo = SYSTEM
) -> Workspace:
    """Staff create workspaces and become their first manager; guests cannot."""
    if not account_abilities(actor)["create_workspace"]:
        raise PermissionDenied("External guests cannot create workspaces.")
    ws = Workspace.objects.create(
        name=_clean_name(name),
        description=plain_text(description, multiline=True)[:2000],
        created_by=actor,
    )
    Membership.objects.create(workspace=ws, user=actor, role=Role.MANAGER)
    _ws_audit(ws, action=Action.WORKSPACE_CREATED, actor=actor, info=info)
    return ws


@transaction.atomic
def workspace_update(
    *,
    actor: User,
    access: WorkspaceAccess,
    name: str | None = None,
    description: str | None = None,
    record_retention_years: int | str | None = None,
    guests_may_create_tokens: bool | None = None,
    downloads: Mapping[str, Any] | None = None,
    watermark_guest_downloads: bool | None = None,
    info: RequestInfo = SYSTEM,
) -> Workspace:
    """Change the workspace's details: its name, description, how many years its final
    records are kept (``record_retention_years``, 0 to 100; 0: no retention), whether its
    external guests may create API tokens (``guests_may_create_tokens``), who may download
    originals (``downloads``: role → ``everyone``, ``staff`` or ``nobody``; managers always
    may) and whether external guests' PDF downloads are stamped with their watermark
    (``watermark_guest_downloads``). ``None`` (or an empty form field) leaves a detail as it
    is; anything refused changes nothing."""
    access = lock_access(actor=actor, access=access)
    require_ability(access, "manage_workspace", "Only managers can change the workspace details.")
    years = _clean_retention_years(record_retention_years)
    rules = _clean_downloads(downloads)
    ws = access.workspace
    changes: dict[str, Any] = {}
    if name is not None and _clean_name(name) != ws.name:
        changes["name"] = [ws.name, _clean_name(name)]
        ws.name = _clean_name(name)
    if description is not None and plain_text(description, multiline=True) != ws.description:
        changes["description"] = "changed"
        ws.description = plain_text(description, multiline=True)[:2000]
    if years is not None and years != ws.record_retention_years:
        changes["record_retention_years"] = [ws.record_retention_years, years]
        ws.record_retention_years = years
    if guests_may_create_tokens is not None:
        allowed = bool(guests_may_create_tokens)
        if allowed != ws.guests_may_create_tokens:
            changes["guests_may_create_tokens"] = [ws.guests_may_create_tokens, allowed]
            ws.guests_may_create_tokens = allowed
    for role, rule in rules.items():
        field = DOWNLOAD_FIELDS[role]
        if getattr(ws, field) != rule:
            changes[field] = [getattr(ws, field), str(rule)]
            setattr(ws, field, rule)
    if watermark_guest_downloads is not None:
        stamped = bool(watermark_guest_downloads)
        if stamped != ws.watermark_guest_downloads:
            changes["watermark_guest_downloads"] = [ws.watermark_guest_downloads, stamped]
            ws.watermark_guest_downloads = stamped
    if changes:
        ws.save(
            update_fields=[
                "name",
                "description",
                "record_retention_years",
                "guests_may_create_tokens",
                *DOWNLOAD_FIELDS.values(),
                "watermark_guest_downloads",
            ]
        )
        _ws_audit(ws, action=Action.WORKSPACE_UPDATED, actor=actor, info=info, data=changes)
    return ws


@transaction.atomic
def workspace_set_archived(
    *, actor: User, access: WorkspaceAccess, archived: bool, info: RequestInfo = SYSTEM
) -> Workspace:
    access = lock_access(actor=actor, access=access)
    require_ability(
        access,
        "archive" if archived else "unarchive",
        "Only managers can archive or reopen a workspace.",
    )
    ws = access.workspace
    ws.archived_at = timezone.now() if archived else None
    ws.save(update_fields=["archived_at"])
    action = Action.WORKSPACE_ARCHIVED if archived else Action.WORKSPACE_UNARCHIVED
    _ws_audit(ws, action=action, actor=actor, info=info)
    return ws


# --- Access end dates ------------------------------------------------------------------------

# How many days before the end of someone's access they are told by email (once per date).
ACCESS_NOTICE_DAYS = 7


def _parse_day(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApplicationError(
            "Enter the end date as a real day, month and year.", code="invalid_date"
        ) from None


def clean_access_until(value: date | str | None, *, role: str) -> date | None:
    """The end date given for someone with ``role``: the last day of their access, today or
    later, and never a manager's (a date could otherwise take a workspace's last manager
    away). Empty: no end."""
    day = _parse_day(value)
    if day is None:
        return None
    if day < timezone.localdate():
        raise ApplicationError(
            f"The end date {day:%-d %B %Y} has passed: choose today or a later day.",
            code="access_until_past",
        )
    if role == Role.MANAGER:
        raise ApplicationError(
            "A manager's access cannot end on a date: a workspace must keep its managers. "
            "Choose another role, or no end date.",
            code="access_until_manager",
        )
    return day


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- Invitations -----------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def invitation_url(token: str) -> str:
    return settings.SITE_URL + reverse("invitation_accept", kwargs={"token": token})


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str

    @property
    def url(self) -> str:
        """The link: to the page the invitation opens at (``?next=``) when it names one."""
        url = invitation_url(self.token)
        if self.invitation.open_path:
            url += "?" + urlencode({"next": self.invitation.open_path})
        return url


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ApplicationError("Enter a valid email address.", code="invalid_email") from None
    return email


_OPEN_PATH = re.compile(r"^/w/[0-9a-f-]{36}/(?:[a-z]+/[0-9a-f-]{36}/)*$")


@transaction.atomic
def invitation_create(
    *,
    actor: User,
    access: WorkspaceAccess,
    email: str,
    role: str,
    open_path: str = "",
    open_label: str = "",
    access_until: date | str | None = None,
    info: RequestInfo = SYSTEM,
) -> IssuedInvitation:
    """Invite ``email`` with ``role``: a single-use link that expires, sent once committed.
    ``open_path``: a page of this workspace the link opens at once accepted (the document the
    person is invited to read, named ``open_label`` in the email). ``access_until``: the last
    day of the access it gives (see :func:`clean_access_until`); none: no end."""
    access = lock_access(actor=actor, access=access)
    email, until = _invitable(
        access, email=email, role=role, open_path=open_path, access_until=access_until
    )
    return _invitation_issue(
        actor=actor,
        access=access,
        email=email,
        role=role,
        open_path=open_path,
        open_label=open_label,
        until=until,
        info=info,
    )


def _invitation_issue(
    *,
    actor: User,
    access: WorkspaceAccess,
    email: str,
    role: str,
    open_path: str,
    open_label: str,
    until: date | None,
    info: RequestInfo,
) -> IssuedInvitation:
    """The invitation itself, once :func:`_invitable` passed under the workspace's lock (which
    ``access`` was read under): made, audited, emailed after the commit."""
    ws = access.workspace
    now = timezone.now()
    _replace_pending(ws, email, now)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        workspace=ws,
        email=email,
        role=role,
        token_hash=_token_hash(token),
        invited_by=actor,
        expires_at=now + timedelta(days=settings.COMMONROOM_INVITATION_DAYS),
        open_path=open_path,
        open_label=plain_text(open_label)[:255] if open_path else "",
        access_until=until,
    )
    _ws_audit(
        access,
        action=Action.INVITATION_SENT,
        actor=actor,
        info=info,
        target_type="invitation",
        target_id=str(invitation.pk),
        target_label=email,
        data={
            "role": role,
            "expires_at": invitation.expires_at.isoformat(),
            **({"opens": open_path} if open_path else {}),
            **({"access_until": until.isoformat()} if until else {}),
        },
    )
    issued = IssuedInvitation(invitation=invitation, token=token)
    transaction.on_commit(lambda: _send_invitation_email(issued, inviter=actor))
    return issued


def _invitable(
    access: WorkspaceAccess,
    *,
    email: str,
    role: str,
    open_path: str,
    access_until: date | str | None,
) -> tuple[str, date | None]:
    """The checks every invitation passes (under the workspace's lock): a manager invites, a
    valid address, a role, an end date that may be given (:func:`clean_access_until`), a page
    of this workspace, not a member already. The address, cleaned, and the end date."""
    require_ability(access, "manage_members", "Only managers can invite people.")
    email = normalise_email(email)
    if role not in Role.values:
        raise ApplicationError("Choose a role.", code="invalid_role")
    until = clean_access_until(access_until, role=role)
    ws = access.workspace
    if open_path and (not _OPEN_PATH.match(open_path) or not open_path.startswith(f"/w/{ws.pk}/")):
        raise ApplicationError("That page is not in this workspace.", code="invalid_page")
    if ws.memberships.filter(current_q(), user__email__iexact=email).exists():
        raise Conflict(f"{email} is already a member of this workspace.", code="already_member")
    return email, until


def _replace_pending(ws: Workspace, email: str, now: Any) -> None:
    """A new invitation (or being added at once) replaces any pending one for the address."""
    ws.invitations.filter(
        email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)


@dataclass(frozen=True)
class Invited:
    """What inviting someone did: ``added`` when they already had an account (a member at
    once), else ``issued``, the invitation whose link was emailed to them."""

    email: str
    added: Membership | None = None
    issued: IssuedInvitation | None = None

    @property
    def invitation(self) -> Invitation:
        """The invitation sent (refused when they were added at once instead)."""
        if self.issued is None:
            raise Conflict(f"{self.email} was added at once: there is no invitation.")
        return self.issued.invitation

    def told(self, *, opens: str = "") -> str:
        """What the inviter is told. An invitation's link is emailed to the invitee only
        (whoever holds it can create the account), so it is never shown here."""
        if self.added is not None:
            where = f" Their link opens {opens}." if opens else ""
            until = self.added.access_until
            ends = f" Their access ends after {until:%-d %B %Y}." if until else ""
            return (
                f"{self.added.user.display_name} ({self.email}) already had an account, so they "
                f"are a member now and were told by email.{where}{ends}"
            )
        return f"Invitation sent to {self.email}{f': their link opens {opens}' if opens else ''}."


@transaction.atomic
def member_invite(
    *,
    actor: User,
    access: WorkspaceAccess,
    email: str,
    role: str,
    open_path: str = "",
    open_label: str = "",
    access_until: date | str | None = None,
    info: RequestInfo = SYSTEM,
) -> Invited:
    """Invite ``email`` with ``role``, as the pages and the API do. Someone who already has an
    account is added at once (a member from now on, so they can be mentioned straight away;
    told by a notification and an email whose link opens ``open_path``, else the workspace);
    anyone else gets an invitation (:func:`invitation_create`). ``access_until``, the last day
    of the access given (decision 29), goes on the membership made at once, as on the
    invitation. An account that is switched off is refused with a sentence. Decision 30."""
    access = lock_access(actor=actor, access=access)
    clean, until = _invitable(
        access, email=email, role=role, open_path=open_path, access_until=access_until
    )
    person = Users.objects.filter(email__iexact=clean).first()
    if person is None:  # checked and locked above: not again
        issued = _invitation_issue(
            actor=actor,
            access=access,
            email=clean,
            role=role,
            open_path=open_path,
            open_label=open_label,
            until=until,
            info=info,
        )
        return Invited(email=clean, issued=issued)
    if not person.is_active:
        raise ApplicationError(
            f"The account for {clean} is switched off, so it cannot be added. Ask an "
            "administrator to switch it back on.",
            code="account_inactive",
        )
    ws = access.workspace
    _replace_pending(ws, clean, timezone.now())
    ended = Membership.objects.filter(workspace=ws, user=person).first()
    if ended is not None:  # their earlier access ended and the job has not removed it yet
        _renew(ended, role=role, access_until=until)
        membership = ended
    else:
        membership = Membership.objects.create(
            workspace=ws, user=person, role=role, access_until=until
        )
    label = plain_text(open_label)[:255] if open_path else ""
    hooks.changed(
        hooks.MemberAdded(
            actor=actor,
            workspace=ws,
            user_id=person.pk,
            role=role,
            open_path=open_path,
            open_label=label,
            access_until=until,
        )
    )
    _ws_audit(
        access,
        action=Action.MEMBER_ADDED,
        actor=actor,
        info=info,
        target_type="user",
        target_id=str(person.pk),
        target_label=clean,
        data={
            "role": role,
            "invited": True,
            **({"opens": open_path} if open_path else {}),
            **({"access_until": until.isoformat()} if until else {}),
        },
    )
    transaction.on_commit(
        lambda: _send_added_email(membership, inviter=actor, open_path=open_path, open_label=label)
    )
    return Invited(email=clean, added=membership)


def _send_added_email(
    membership: Membership, *, inviter: User, open_path: str, open_label: str
) -> None:
    """Tell someone added at once that they were, with a link to what they were invited to
    read (the site's own page: they sign in as usual, second factor and all)."""
    ws = membership.workspace
    path = open_path or reverse("workspace_detail", args=[ws.pk])
    context = {
        "workspace": ws,
        "inviter": inviter,
        "url": settings.SITE_URL + path,
        "role": role_with_article(membership.role),
        "open_label": open_label,
        "membership": membership,
    }
    try:
        send_mail(
            subject=(
                f"{inviter.display_name} added you to {ws.name} to read {open_label}"
                if open_label
                else f"{inviter.display_name} added you to {ws.name} on Commonroom"
            ),
            message=render_to_string("workspaces/email/added.txt", context),
            from_email=None,
            recipient_list=[membership.user.email],
        )
    except Exception:
        # They are a member whatever happens to the email: the notification tells them too.
        log.exception("could not send the added-to-workspace email to %s", membership.user.email)


def _send_invitation_email(issued: IssuedInvitation, *, inviter: User) -> None:
    inv = issued.invitation
    context = {
        "invitation": inv,
        "workspace": inv.workspace,
        "inviter": inviter,
        "url": issued.url,
        "role": role_with_article(inv.role),
    }
    try:
        send_mail(
            subject=(
                f"{inviter.display_name} invited you to read {inv.open_label} on Commonroom"
                if inv.open_label
                else f"{inviter.display_name} invited you to {inv.workspace.name} on Commonroom"
            ),
            message=render_to_string("workspaces/email/invitation.txt", context),
            from_email=None,
            recipient_list=[inv.email],
        )
    except Exception as exc:
        # The link is never shown to the inviter, so a failed email must be visible to them:
        # the invitation is marked "not delivered" and can be withdrawn and sent again.
        log.exception("could not send the invitation email to %s", inv.email)
        Invitation.objects.filter(pk=inv.pk).update(
            email_error=str(exc)[:300] or type(exc).__name__
        )


@transaction.atomic
def invitation_revoke(
    *, actor: User, access: WorkspaceAccess, invitation_id: Any, info: RequestInfo = SYSTEM
) -> Invitation:
    access = lock_access(actor=actor, access=access)
    require_ability(access, "manage_members", "Only managers can withdraw invitations.")
    inv = (
        access.workspace.invitations.select_for_update()
        .filter(pk=parse_uuid(invitation_id))
        .first()
    )
    if inv is None:
        raise NotFound()
    if inv.accepted_at is None and inv.revoked_at is None:
        inv.revoked_at = timezone.now()
        inv.save(update_fields=["revoked_at"])
        _ws_audit(
            access,
            action=Action.INVITATION_REVOKED,
            actor=actor,
            info=info,
            target_type="invitation",
            target_id=str(inv.pk),
            target_label=inv.email,
        )
    return inv


def invitation_for_token(token: str, *, lock: bool = False) -> Invitation:
    """The invitation a link points at, if it can still be used; a clear error if not. With
    ``lock``, its workspace's row is locked first, as every write in a workspace does (so
    accepting never deadlocks with a manager withdrawing it or inviting again, and waits for
    an archive in progress), then its own row, and every check is made on the locked rows."""
    digest = _token_hash(token or "")
    qs = Invitation.objects.select_related("workspace", "invited_by")
    if lock:
        workspace_id = (
            Invitation.objects.filter(token_hash=digest).values_list("workspace_id", flat=True)
        ).first()
        if workspace_id is not None:
            list(Workspace.objects.select_for_update().filter(pk=workspace_id).values_list("pk"))
        qs = qs.select_for_update(of=("self",))
    inv = qs.filter(token_hash=digest).first()
    if inv is None:
        raise NotFound("This invitation link is not valid. Check you copied all of it.")
    if inv.accepted_at is not None:
        raise Gone("This invitation has already been used. Sign in to reach the workspace.")
    if inv.revoked_at is not None:
        raise Gone("This invitation was withdrawn. Ask the workspace manager for a new one.")
    if inv.expires_at <= timezone.now():
        raise Gone("This invitation has expired. Ask the workspace manager for a new one.")
    if inv.workspace.is_archived:
        raise Gone("This workspace has been archived.")
    if inv.access_until is not None and inv.access_until < timezone.localdate():
        raise Gone(
            f"The access this invitation offered ended on {inv.access_until:%-d %B %Y}. "
            "Ask the workspace manager for a new one."
        )
    return inv


def account_kind_for(email: str) -> str:
    """Staff if the address is in one of the organisation's own domains, else external guest."""
    domain = email.rsplit("@", 1)[-1].lower()
    return "staff" if domain in settings.COMMONROOM_STAFF_EMAIL_DOMAINS else "guest"


def _refuse_a_members_name(workspace: Workspace, name: str) -> None:
    """A newcomer's name may not read as a member's (``accounts.selectors.name_key``), so
    that nobody can pass for a colleague: refused with a sentence."""
    key = name_key(name)
    if not key:
        return
    if any(name_key(user.display_name) == key for user in member_users(workspace)):
        raise ApplicationError(
            f"Someone in this workspace is already called “{name}”. Add something that tells "
            "you apart, such as your organisation or a middle initial.",
            code="name_taken",
        )


@transaction.atomic
def invitation_accept(
    *,
    token: str,
    user: User | AnonymousUser | None = None,
    full_name: str = "",
    password: str = "",
    info: RequestInfo = SYSTEM,
) -> Membership:
    """Use an invitation once. A signed-in person accepts for themselves (the address must
    match); someone without an account gets one with ``password``: a staff account when the
    address is in ``COMMONROOM_STAFF_EMAIL_DOMAINS``, otherwise an external guest account."""
    inv = invitation_for_token(token, lock=True)
    if user is not None and user.is_authenticated:
        if user.email.lower() != inv.email.lower():
            raise PermissionDenied(
                f"This invitation was sent to {inv.email}, but you are signed in as "
                f"{user.email}. Sign out first, then open the link again."
            )
        person = user
    else:
        if Users.objects.filter(email__iexact=inv.email).exists():
            raise ApplicationError(
                "You already have an account: sign in, then open the link again.",
                code="sign_in_first",
            )
        name = plain_text(full_name)[:150]
        _refuse_a_members_name(inv.workspace, name)
        person = Users(email=inv.email, full_name=name, kind=account_kind_for(inv.email))
        try:
            validate_password(password, user=person)
        except ValidationError as exc:
            raise ApplicationError(" ".join(exc.messages), code="weak_password") from None
        person.set_password(password)
        try:
            with transaction.atomic():
                person.save()
        except IntegrityError:
            raise Conflict("An account with this address was just created.") from None
    membership, created = Membership.objects.get_or_create(
        workspace=inv.workspace,
        user=person,
        defaults={"role": inv.role, "access_until": inv.access_until},
    )
    if not created and membership.access_until and membership.access_until < timezone.localdate():
        # Their earlier access ended and the job has not removed it yet: this one replaces it.
        _renew(membership, role=inv.role, access_until=inv.access_until)
    inv.accepted_at = timezone.now()
    inv.accepted_by = person
    inv.save(update_fields=["accepted_at", "accepted_by"])
    _ws_audit(
        inv.workspace,
        action=Action.INVITATION_ACCEPTED,
        actor=person,
        info=info,
        target_type="invitation",
        target_id=str(inv.pk),
        target_label=inv.email,
        data={
            "role": membership.role,
            "new_account": user is None or not user.is_authenticated,
            **({"access_until": _day(membership.access_until)} if membership.access_until else {}),
        },
    )
    return membership


def _renew(membership: Membership, *, role: str, access_until: date | None) -> None:
    """A membership whose access ended (not yet removed by the job) given again."""
    membership.role = role
    membership.access_until = access_until
    membership.access_notice_for = None
    membership.added_at = timezone.now()
    membership.save(update_fields=["role", "access_until", "access_notice_for", "added_at"])


# --- Members ---------------------------------------------------------------------------------


@transaction.atomic
def membership_add(
    *,
    actor: User,
    access: WorkspaceAccess,
    user: User,
    role: str,
    access_until: date | str | None = None,
    info: RequestInfo = SYSTEM,
) -> Membership:
    """Add someone who already has an account, with ``role``, without an invitation to accept
    (the demo seed's people). Only those who manage members; a member already is refused.
    ``access_until``: the last day of their access (:func:`clean_access_until`)."""
    access = lock_access(actor=actor, access=access)
    require_ability(access, "manage_members", "Only managers can add people.")
    if role not in Role.values:
        raise ApplicationError("Choose a role.", code="invalid_role")
    until = clean_access_until(access_until, role=role)
    ws = access.workspace
    if Membership.objects.filter(current_q(), workspace=ws, user=user).exists():
        raise Conflict(
            f"{user.email} is already a member of this workspace.", code="already_member"
        )
    ended = Membership.objects.filter(workspace=ws, user=user).first()
    if ended is not None:
        _renew(ended, role=role, access_until=until)
        membership = ended
    else:
        membership = Membership.objects.create(
            workspace=ws, user=user, role=role, access_until=until
        )
    _ws_audit(
        access,
        action=Action.MEMBER_ADDED,
        actor=actor,
        info=info,
        target_type="user",
        target_id=str(user.pk),
        target_label=user.email,
        data={"role": role, **({"access_until": until.isoformat()} if until else {})},
    )
    return membership


def _lock_members(access: WorkspaceAccess) -> list[Membership]:
    """The workspace's members whose access has not ended, locked (under the workspace's
    lock: redundant, see ``core/tests/test_row_locks.py``)."""
    return list(
        Membership.objects.select_for_update()
        .filter(current_q(), workspace_id=access.workspace.pk)
        .select_related("user")
        .order_by("pk")
    )


def _find(members: list[Membership], membership_id: Any) -> Membership:
    try:
        pk = int(membership_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    for m in members:
        if m.pk == pk:
            return m
    raise NotFound()


@transaction.atomic
def membership_change_role(
    *,
    actor: User,
    access: WorkspaceAccess,
    membership_id: Any,
    role: str,
    info: RequestInfo = SYSTEM,
) -> Membership:
    access = lock_access(actor=actor, access=access)
    require_ability(access, "manage_members", "Only managers can change roles.")
    if role not in Role.values:
        raise ApplicationError("Choose a role.", code="invalid_role")
    members = _lock_members(access)
    target = _find(members, membership_id)
    managers = [m for m in members if m.role == Role.MANAGER]
    if target.role == Role.MANAGER and role != Role.MANAGER and len(managers) == 1:
        raise Conflict("A workspace needs at least one manager.", code="last_manager")
    if role == Role.MANAGER and target.access_until is not None:
        raise Conflict(
            f"{target.user.display_name}'s access ends on {target.access_until:%-d %B %Y}. "
            "Remove the end date before making them a manager: a manager's access does not "
            "end on a date.",
            code="access_until_manager",
        )
    if target.role != role:
        old = target.role
        target.role = role
        target.save(update_fields=["role"])
        # Their open pages say so (what those pages offer was decided by the old role): live.
        hooks.changed(
            hooks.MemberRoleChanged(
                actor=actor,
                workspace=access.workspace,
                user_id=target.user_id,
                old_role=old,
                role=role,
            )
        )
        _ws_audit(
            access,
            action=Action.MEMBER_ROLE_CHANGED,
            actor=actor,
            info=info,
            target_type="user",
            target_id=str(target.user_id),
            target_label=target.user.email,
            data={"from": old, "to": role},
        )
    return target


@transaction.atomic
def membership_remove(
    *, actor: User, access: WorkspaceAccess, membership_id: Any, info: RequestInfo = SYSTEM
) -> None:
    """Remove someone: from the next request on, nothing of the workspace reaches them."""
    access = lock_access(actor=actor, access=access)
    require_ability(access, "manage_members", "Only managers can remove people.")
    members = _lock_members(access)
    target = _find(members, membership_id)
    managers = [m for m in members if m.role == Role.MANAGER]
    if target.role == Role.MANAGER and len(managers) == 1:
        raise Conflict("A workspace needs at least one manager.", code="last_manager")
    email = target.user.email
    user_id = target.user_id
    target.delete()
    # Their open screens on this workspace close now (live; each event is checked again too).
    hooks.changed(hooks.MemberRemoved(actor=actor, workspace=access.workspace, user_id=user_id))
    _ws_audit(
        access,
        action=Action.MEMBER_REMOVED,
        actor=actor,
        info=info,
        target_type="user",
        target_id=str(user_id),
        target_label=email,
    )


# --- Access that ends -------------------------------------------------------------------------


@transaction.atomic
def membership_set_access_until(
    *,
    actor: User,
    access: WorkspaceAccess,
    membership_id: Any,
    access_until: date | str | None,
    info: RequestInfo = SYSTEM,
) -> Membership:
    """Set, move or remove (``None`` or empty) the last day of a member's access. Audited as
    set (a first date, or an earlier one) or extended (a later date, or none)."""
    access = lock_access(actor=actor, access=access)
    require_ability(access, "manage_members", "Only managers can change when access ends.")
    members = _lock_members(access)
    target = _find(members, membership_id)
    day = clean_access_until(access_until, role=target.role)
    old = target.access_until
    if day == old:
        return target
    target.access_until = day
    target.save(update_fields=["access_until"])
    extended = old is not None and (day is None or day > old)
    _ws_audit(
        access,
        action=Action.MEMBER_ACCESS_EXTENDED if extended else Action.MEMBER_ACCESS_END_SET,
        actor=actor,
        info=info,
        target_type="user",
        target_id=str(target.user_id),
        target_label=target.user.email,
        data={"from": _day(old), "to": _day(day)},
    )
    return target


def memberships_access_end(*, today: date | None = None) -> int:
    """The scheduled job: each membership whose last day (``access_until``) is over is removed
    as a manager's removal is (``MemberRemoved``: live closes the person's sockets on the
    workspace, approvals take them off open requests) and audited, each in its own transaction
    under its workspace's lock. Safe to run twice; returns how many ended."""
    today = today or timezone.localdate()
    ended = 0
    due = Membership.objects.filter(access_until__lt=today).order_by("pk")
    for pk, workspace_id in list(due.values_list("pk", "workspace_id")):
        with transaction.atomic():
            workspace_lock(workspace_id=workspace_id)
            # Read again under the lock: extended or removed meanwhile, it is left alone.
            m = (
                Membership.objects.select_related("user", "workspace")
                .filter(pk=pk, access_until__lt=today)
                .first()
            )
            if m is None:
                continue
            until, user = m.access_until, m.user
            m.delete()
            hooks.changed(hooks.MemberRemoved(actor=None, workspace=m.workspace, user_id=user.pk))
            _ws_audit(
                m.workspace,
                action=Action.MEMBER_ACCESS_ENDED,
                actor=None,
                info=SYSTEM,
                target_type="user",
                target_id=str(user.pk),
                target_label=user.email,
                data={"access_until": _day(until), "role": m.role},
            )
            ended += 1
    return ended


def memberships_access_notify(*, today: date | None = None) -> int:
    """The scheduled job: each person whose access ends within :data:`ACCESS_NOTICE_DAYS` is
    told once per end date (``MemberAccessEnding``, which notifications emails). The notice is
    claimed by a conditional UPDATE, so two runs at once tell them once; a new date, a new
    notice. Returns how many were told."""
    today = today or timezone.localdate()
    not_told = Q(access_notice_for__isnull=True) | ~Q(access_notice_for=F("access_until"))
    due = Membership.objects.filter(
        not_told,
        access_until__gte=today,
        access_until__lte=today + timedelta(days=ACCESS_NOTICE_DAYS),
    ).order_by("pk")
    told = 0
    for pk, day in list(due.values_list("pk", "access_until")):
        if day is None:  # not matched by the filter: for the type checker
            continue
        with transaction.atomic():
            claimed = (
                Membership.objects.filter(not_told, pk=pk, access_until=day).update(
                    access_notice_for=day
                )
                == 1
            )
            if not claimed:
                continue
            m = Membership.objects.select_related("user", "workspace").get(pk=pk)
            hooks.changed(
                hooks.MemberAccessEnding(workspace=m.workspace, user_id=m.user_id, access_until=day)
            )
            _ws_audit(
                m.workspace,
                action=Action.MEMBER_ACCESS_NOTICE,
                actor=None,
                info=SYSTEM,
                target_type="user",
                target_id=str(m.user_id),
                target_label=m.user.email,
                data={"access_until": _day(day)},
            )
            told += 1
    return told


@transaction.atomic
def guests_remove(
    *, actor: User, membership_ids: Iterable[Any], info: RequestInfo = SYSTEM
) -> list[Membership]:
    """Remove several external guests at once from the workspaces ``actor`` manages, each a
    :func:`membership_remove` (audited, their sockets closed). All or none: an id that is not
    a guest's membership of a workspace ``actor`` manages (forged, someone else's, staff)
    refuses the lot with a sentence."""
    chosen = managed_guests_chosen(user=actor, membership_ids=membership_ids)
    # Workspaces locked in one order (their ids), so two such removals never deadlock.
    chosen.sort(key=lambda m: (str(m.workspace_id), m.pk))
    with audit_rows_last():
        for m in chosen:
            membership_remove(
                actor=actor,
                access=workspace_access(user=actor, workspace_id=m.workspace_id),
                membership_id=m.pk,
                info=info,
            )
    return chosen
