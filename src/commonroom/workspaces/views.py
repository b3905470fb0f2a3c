"""Workspace pages: home, create, settings, members and invitations. Thin: parse, ask, render."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from commonroom.accounts.permissions import account_abilities
from commonroom.accounts.selectors import safe_next
from commonroom.accounts.views import sign_in
from commonroom.audit.views import render_trail
from commonroom.core.exceptions import ApplicationError, PermissionDenied
from commonroom.core.views import AuthedRequest, back_with_error, form_value, info
from commonroom.workspaces import hooks, services
from commonroom.workspaces.models import DownloadRule, Role, role_with_article
from commonroom.workspaces.permissions import DOWNLOAD_FIELDS
from commonroom.workspaces.selectors import (
    account_exists,
    guests_overview,
    managed_guests_chosen,
    workspace_access,
    workspace_invitations,
    workspace_members,
    workspaces_for_user,
)


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    accesses = workspaces_for_user(user=request.user)
    return render(
        request,
        "workspaces/home.html",
        {
            "accesses": accesses,
            "can_create": account_abilities(request.user)["create_workspace"],
            # The way to the external guests page, for those who manage any workspace's people.
            "manages_members": any(a.can("manage_members") for a in accesses),
            # What needs me (unread mentions, threads waiting for me, conversations with new
            # messages, documents changed since): the apps that keep them add it.
            **hooks.home_context(hooks.HomePage(user=request.user)),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def workspace_create(request: AuthedRequest) -> HttpResponse:
    if not account_abilities(request.user)["create_workspace"]:
        raise PermissionDenied("External guests cannot create workspaces.")
    error = None
    if request.method == "POST":
        try:
            ws = services.workspace_create(
                actor=request.user,
                name=form_value(request, "name"),
                description=form_value(request, "description"),
                info=info(request),
            )
        except ApplicationError as exc:
            error = exc
        else:
            messages.success(request, f"Workspace “{ws.name}” created. Invite people next.")
            return redirect("workspace_members", workspace_id=ws.pk)
    return render(
        request,
        "workspaces/create.html",
        {"error": error, "form": request.POST},
        status=400 if error else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def workspace_settings(request: AuthedRequest, workspace_id: str) -> HttpResponse:
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    if not access.can("open_settings"):
        raise PermissionDenied("Only managers can change the workspace settings.")
    here = reverse("workspace_settings", args=[access.workspace.pk])
    if request.method == "POST":
        action = form_value(request, "action")
        try:
            if action == "archive":
                services.workspace_set_archived(
                    actor=request.user, access=access, archived=True, info=info(request)
                )
                messages.success(request, "The workspace is archived: it is now read-only.")
            elif action == "unarchive":
                services.workspace_set_archived(
                    actor=request.user, access=access, archived=False, info=info(request)
                )
                messages.success(request, "The workspace is open again.")
            else:
                services.workspace_update(
                    actor=request.user,
                    access=access,
                    name=form_value(request, "name"),
                    description=form_value(request, "description"),
                    record_retention_years=form_value(request, "record_retention_years"),
                    # A checkbox: the form always has it, sent only when ticked.
                    guests_may_create_tokens=form_value(request, "guests_may_create_tokens")
                    == "yes",
                    # Each role's rule, as sent (a role the form did not send stays as it is).
                    downloads={
                        role: form_value(request, f"download_{role}")
                        for role in Role.values
                        if f"download_{role}" in request.POST
                    },
                    watermark_guest_downloads=form_value(request, "watermark_guest_downloads")
                    == "yes",
                    info=info(request),
                )
                messages.success(request, "Workspace details saved.")
        except ApplicationError as exc:
            if exc.status == 404:
                raise  # no longer a member (or a forged id): not found, as on every page
            return back_with_error(request, exc, here)
        return redirect(here)
    return render(
        request,
        "workspaces/settings.html",
        {
            "access": access,
            "workspace": access.workspace,
            "download_choices": [
                (role, plural, getattr(access.workspace, DOWNLOAD_FIELDS[role]))
                for role, plural in (
                    ("editor", "Editors"),
                    ("commenter", "Commenters"),
                    ("viewer", "Viewers"),
                )
            ],
            "download_rules": DownloadRule.choices,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def workspace_members_view(request: AuthedRequest, workspace_id: str) -> HttpResponse:
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    here = reverse("workspace_members", args=[access.workspace.pk])
    typed: dict[str, str] = {}
    if request.method == "POST":
        typed = {
            "email": form_value(request, "email"),
            "role": form_value(request, "role"),
            "access_until": form_value(request, "access_until"),
        }
        try:
            invited = services.member_invite(
                actor=request.user,
                access=access,
                email=typed["email"],
                role=typed["role"],
                access_until=typed["access_until"],
                info=info(request),
            )
        except ApplicationError as exc:
            if exc.status == 404:
                raise  # no longer a member (or a forged id): not found, as on every page
            # The page again, with what was typed kept and the refusal beside it.
            typed["error"] = exc.message
        else:
            messages.success(request, invited.told())
            # To the top, where it says so (the form is sent to "#invite", kept on a redirect).
            return redirect(f"{here}#maincontent")
    return render(
        request,
        "workspaces/members.html",
        {
            "access": access,
            "workspace": access.workspace,
            "members": workspace_members(access=access),
            "invitations": workspace_invitations(access=access)[:50],
            "roles": Role.choices,
            "typed": typed,
            "today": timezone.localdate(),
            "time_zone": settings.TIME_ZONE,
        },
        status=400 if typed.get("error") else 200,
    )


@login_required
@require_POST
def member_update(request: AuthedRequest, workspace_id: str, membership_id: int) -> HttpResponse:
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    here = reverse("workspace_members", args=[access.workspace.pk])
    action = form_value(request, "action")
    until = form_value(request, "access_until") if action == "access_until" else ""
    try:
        if action == "access_until" and not until:
            # A date half typed comes as nothing: never taken as "no end date" (that button
            # is its own), which would make the access permanent unseen.
            raise ApplicationError(
                "Enter the last day of their access as a whole date, or choose “No end date”.",
                code="access_until_missing",
            )
        if action in ("access_until", "access_clear"):
            m = services.membership_set_access_until(
                actor=request.user,
                access=access,
                membership_id=membership_id,
                access_until=until,
                info=info(request),
            )
            messages.success(
                request,
                f"{m.user.display_name}'s access now ends at the end of {m.access_until:%-d %B %Y}."
                if m.access_until
                else f"{m.user.display_name}'s access no longer ends on a date.",
            )
        elif action == "remove":
            services.membership_remove(
                actor=request.user, access=access, membership_id=membership_id, info=info(request)
            )
            messages.success(request, "Removed from the workspace.")
            if not access.workspace.memberships.filter(user=request.user).exists():
                return redirect("home")
        else:
            services.membership_change_role(
                actor=request.user,
                access=access,
                membership_id=membership_id,
                role=form_value(request, "role"),
                info=info(request),
            )
            messages.success(request, "Role changed.")
    except ApplicationError as exc:
        if exc.status == 404:
            raise
        return back_with_error(request, exc, here)
    return redirect(here)


@login_required
@require_POST
def invitation_revoke(
    request: AuthedRequest, workspace_id: str, invitation_id: str
) -> HttpResponse:
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    services.invitation_revoke(
        actor=request.user, access=access, invitation_id=invitation_id, info=info(request)
    )
    messages.success(request, "Invitation withdrawn.")
    return redirect("workspace_members", workspace_id=access.workspace.pk)


@login_required
@require_http_methods(["GET", "POST"])
def guests(request: AuthedRequest) -> HttpResponse:
    """Every external guest of the workspaces the person manages, with their last visit;
    several removed at once after one confirmation (``action=confirm`` shows it, ``remove``
    does it)."""
    here = reverse("guests")
    chosen = []
    if request.method == "POST":
        ids = request.POST.getlist("membership")
        try:
            if form_value(request, "action") == "remove":
                removed = services.guests_remove(
                    actor=request.user, membership_ids=ids, info=info(request)
                )
                messages.success(
                    request,
                    f"Removed {len(removed)} {'person' if len(removed) == 1 else 'people'}.",
                )
                return redirect(here)
            chosen = managed_guests_chosen(user=request.user, membership_ids=ids)
        except ApplicationError as exc:
            return back_with_error(request, exc, here)
    return render(
        request,
        "workspaces/guests.html",
        {
            "rows": guests_overview(user=request.user),
            "chosen": chosen,
            "today": timezone.localdate(),
        },
    )


@require_http_methods(["GET", "POST"])
def _invited_page(request: AuthedRequest, workspace_id: object, wanted: str) -> str:
    """The page of the invited workspace the invitation link names (``?next=``, such as one of
    its documents), if it names one of this site inside that workspace; else the workspace."""
    there = reverse("workspace_detail", args=[workspace_id])
    url = safe_next(request, wanted)
    inside = url is not None and url.startswith(there) and ".." not in url and "\\" not in url
    return url if url and inside else there


def invitation_accept(request: AuthedRequest, token: str) -> HttpResponse:
    """Open to anyone holding the link: the token is the credential, used once. Once accepted,
    on to the workspace, or the page of it the link names (``?next=``): through the second
    factor's set-up first when one is required, which keeps it."""
    invitation = services.invitation_for_token(token)
    signed_in = request.user.is_authenticated
    has_account = account_exists(invitation.email)
    wanted = request.POST.get("next") or request.GET.get("next") or invitation.open_path
    there = _invited_page(request, invitation.workspace_id, str(wanted))
    error = None
    if request.method == "POST":
        try:
            membership = services.invitation_accept(
                token=token,
                user=request.user if signed_in else None,
                full_name=form_value(request, "full_name"),
                password=form_value(request, "password"),
                info=info(request),
            )
        except ApplicationError as exc:
            if exc.status in (404, 410):
                raise
            error = exc
        else:
            messages.success(request, f"Welcome to {membership.workspace.name}.")
            if not signed_in:
                return sign_in(request, membership.user, redirect_url=there)
            return redirect(there)
    return render(
        request,
        "workspaces/invitation.html",
        {
            "invitation": invitation,
            "signed_in": signed_in,
            "has_account": has_account,
            "error": error,
            "role": role_with_article(invitation.role),
            "next": there,
            "login_url": reverse("account_login") + "?next=" + request.path,
        },
        status=400 if error else 200,
    )


@login_required
def audit_trail(request: AuthedRequest, workspace_id: str) -> HttpResponseBase:
    """The workspace's audit trail, for those who may see it (its managers)."""
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    if not access.can("view_audit"):
        raise PermissionDenied("Only managers can see the audit trail.")
    return render_trail(
        request,
        workspace_id=access.workspace.pk,
        context={"access": access, "workspace": access.workspace},
        filename=f"audit-{access.workspace.pk}.csv",
    )
