"""Pages of the suggestions app, mounted at the site root by commonroom/urls.py."""

from __future__ import annotations

from django.urls import URLPattern, path

from commonroom.suggestions import views

D = "w/<uuid:workspace_id>/d/<uuid:document_id>/suggestions/"
S = D + "<uuid:suggestion_id>/"

urlpatterns: list[URLPattern] = [
    path(D, views.suggestion_create, name="suggestion_create"),
    path(D + "accept/", views.suggestions_accept, name="suggestions_accept"),
    path(
        D + "tracked-changes/accept/",
        views.tracked_changes_accept,
        name="tracked_changes_accept",
    ),
    path(
        "w/<uuid:workspace_id>/d/<uuid:document_id>/v/<int:number>/with-suggestions/",
        views.suggestions_tracked_download,
        name="suggestions_tracked_download",
    ),
    path(S, views.suggestion_item, name="suggestion_item"),
    path(S + "reject/", views.suggestion_reject, name="suggestion_reject"),
    path(D + "carry/<int:number>/", views.stale_copy_carry, name="stale_copy_carry"),
]
