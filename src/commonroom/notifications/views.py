"""Notification pages: the list, opening one, marking all read, email settings, following a
document. Thin: parse, ask a selector or a service, render or redirect."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from commonroom.core.exceptions import ApplicationError
from commonroom.core.views import AuthedRequest, back_with_error, form_value
from commonroom.documents.selectors import document_access
from commonroom.notifications import services
from commonroom.notifications.models import EMAIL_HINTS, EmailChoice
from commonroom.notifications.selectors import notification_list as list_for
from commonroom.notifications.selectors import unread_count

PAGE_SIZE = 50


@login_required
def notification_list(request: AuthedRequest) -> HttpResponse:
    unread_only = request.GET.get("unread") == "true"
    page = Paginator(list_for(user=request.user, unread_only=unread_only), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "notifications/list.html",
        {"page": page, "unread_only": unread_only, "unread": unread_count(request.user)},
    )


def _local(url: str) -> str:
    """Only a path on this site: anything else goes to the notifications list."""
    if url.startswith("/") and url_has_allowed_host_and_scheme(url, allowed_hosts=None):
        return url
    return reverse("notification_list")


@login_required
@require_http_methods(["GET", "POST"])
def notification_open(request: AuthedRequest, notification_id: str) -> HttpResponse:
    """Mark the notification read and go where it points."""
    notification = services.mark_read(user=request.user, notification_id=notification_id)
    return redirect(_local(notification.target_url))


@login_required
@require_POST
def notification_read_all(request: AuthedRequest) -> HttpResponse:
    n = services.mark_all_read(user=request.user)
    messages.success(request, f"{n} notification{'s' if n != 1 else ''} marked as read.")
    return redirect("notification_list")


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request: AuthedRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            services.settings_update(user=request.user, email=form_value(request, "email"))
        except ApplicationError as exc:
            return back_with_error(request, exc, reverse("notification_settings"))
        messages.success(request, "Your notification settings are saved.")
        return redirect("notification_settings")
    return render(
        request,
        "notifications/settings.html",
        {
            "prefs": services.settings_for(request.user),
            "choices": [(c.value, c.label, EMAIL_HINTS[c]) for c in EmailChoice],
        },
    )


@login_required
@require_POST
def document_follow(request: AuthedRequest, workspace_id: str, document_id: str) -> HttpResponse:
    doc_access = document_access(
        user=request.user, workspace_id=workspace_id, document_id=document_id
    )
    back = reverse("document_detail", args=[doc_access.access.workspace.pk, document_id])
    action = form_value(request, "action")
    if action == "follow":
        services.follow(user=request.user, doc_access=doc_access)
        messages.success(
            request, "You are following this document: new comments and versions will notify you."
        )
    elif action == "unfollow":
        services.unfollow(user=request.user, doc_access=doc_access)
        messages.success(request, "You no longer follow this document.")
    else:
        return back_with_error(request, ApplicationError("Unknown action."), back)
    return redirect(back)
