"""The URL map. Every route here is covered by the permission matrix test, which walks it."""

from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import include, path

from commonroom.accounts import sso
from commonroom.accounts import views as account_views
from commonroom.api import api
from commonroom.core.views import healthz, metrics, readyz
from commonroom.documents import views as doc_views
from commonroom.workspaces import views as ws_views

W = "w/<uuid:workspace_id>/"

# An error outside any view: a full disk answers 507 with a sentence, anything else 500.html.
handler500 = "commonroom.core.middleware.server_error"

# The admin site signs in through allauth: the same second factor and rate limit as everyone.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]


def not_offered(request: HttpRequest) -> HttpResponse:
    """A person's email address is their identity here: it is not changed from the web."""
    raise Http404()


urlpatterns = [
    # The API first: every API request (uploads among them) is matched by its first pattern
    # rather than after every page's pattern and include tried before it. No other route
    # can match a path under api/v1/ (tests/api/test_api_urls.py), so no answer changes.
    path("api/v1/", api.urls),
    path("", ws_views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("w/new/", ws_views.workspace_create, name="workspace_create"),
    path("guests/", ws_views.guests, name="guests"),
    path(W, doc_views.workspace_detail, name="workspace_detail"),
    path(W + "settings/", ws_views.workspace_settings, name="workspace_settings"),
    path(W + "members/", ws_views.workspace_members_view, name="workspace_members"),
    path(W + "members/<int:membership_id>/", ws_views.member_update, name="member_update"),
    path(
        W + "invitations/<uuid:invitation_id>/revoke/",
        ws_views.invitation_revoke,
        name="invitation_revoke",
    ),
    path(W + "upload/", doc_views.upload, name="upload"),
    path(W + "folders/new/", doc_views.folder_create, name="folder_create"),
    path(W + "f/<uuid:folder_id>/", doc_views.folder_detail, name="folder_detail"),
    path(W + "f/<uuid:folder_id>/action/", doc_views.folder_action, name="folder_action"),
    path(W + "d/<uuid:document_id>/", doc_views.document_detail, name="document_detail"),
    path(W + "d/<uuid:document_id>/heading/", doc_views.document_heading, name="document_heading"),
    path(W + "d/<uuid:document_id>/readers/", doc_views.document_readers, name="document_readers"),
    path(
        W + "d/<uuid:document_id>/readers/remind/",
        doc_views.document_readers_remind,
        name="document_readers_remind",
    ),
    path(W + "d/<uuid:document_id>/action/", doc_views.document_action, name="document_action"),
    path(
        W + "d/<uuid:document_id>/lock/break/",
        doc_views.document_lock_break,
        name="document_lock_break",
    ),
    path(W + "d/<uuid:document_id>/versions/", doc_views.version_upload, name="version_upload"),
    path(
        W + "d/<uuid:document_id>/v/<int:number>/download/",
        doc_views.version_download,
        name="version_download",
    ),
    path(W + "trash/", doc_views.trash, name="trash"),
    path(W + "trash/<str:kind>/<uuid:item_id>/", doc_views.trash_action, name="trash_action"),
    path(W + "audit/", ws_views.audit_trail, name="workspace_audit"),
    path("audit/", account_views.global_audit_trail, name="global_audit"),
    path("invitations/<str:token>/", ws_views.invitation_accept, name="invitation_accept"),
    path("account/security/", account_views.security, name="account_security"),
    path(
        "account/sign-out-everywhere/",
        account_views.sign_out_everywhere,
        name="account_sign_out_everywhere",
    ),
    path("account/tokens/", account_views.tokens, name="account_tokens"),
    path(
        "account/tokens/<int:token_id>/revoke/",
        account_views.token_revoke,
        name="account_token_revoke",
    ),
    path("", include("commonroom.comments.urls")),
    path("", include("commonroom.conversations.urls")),
    path("", include("commonroom.notifications.urls")),
    path("", include("commonroom.previews.urls")),
    path("", include("commonroom.search.urls")),
    path("", include("commonroom.suggestions.urls")),
    path("", include("commonroom.approvals.urls")),
    path("accounts/email/", not_offered, name="account_email_not_offered"),
    # The second factor's own pages, beside allauth's (under /accounts/: open to a person who
    # still has to set one up).
    path("accounts/second-factor/", account_views.second_factor, name="account_second_factor"),
    path(
        "accounts/second-factor/continue/",
        account_views.second_factor_continue,
        name="account_second_factor_continue",
    ),
    path(
        "accounts/second-factor/email/",
        account_views.email_code_setup,
        name="account_email_code_setup",
    ),
    path(
        "accounts/second-factor/email/remove/",
        account_views.email_code_remove,
        name="account_email_code_remove",
    ),
    path("accounts/email-code/", account_views.email_code, name="account_email_code"),
    path(
        "accounts/email-code/instead/",
        account_views.email_code_instead,
        name="account_email_code_instead",
    ),
    path(
        "accounts/email-code/confirm/",
        account_views.email_code_confirm,
        name="account_email_code_confirm",
    ),
    # allauth's OpenID Connect routes, answered by ours (accounts/sso.py): the same paths, so
    # the address registered at the identity provider is allauth's own.
    path("accounts/oidc/<str:provider_id>/login/", sso.login, name="sso_login"),
    path("accounts/oidc/<str:provider_id>/login/callback/", sso.callback, name="sso_callback"),
    # allauth's sign-in page, its forms from one address limited without allauth's lock.
    path("accounts/login/", account_views.sign_in_page, name="account_login"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]
