"""Pages of the notifications app, mounted at the site root by commonroom/urls.py."""

from __future__ import annotations

from django.urls import URLPattern, path

from commonroom.notifications import views

urlpatterns: list[URLPattern] = [
    path("notifications/", views.notification_list, name="notification_list"),
    path(
        "notifications/<uuid:notification_id>/open/",
        views.notification_open,
        name="notification_open",
    ),
    path("notifications/read/", views.notification_read_all, name="notification_read_all"),
    path("account/notifications/", views.notification_settings, name="notification_settings"),
    path(
        "w/<uuid:workspace_id>/d/<uuid:document_id>/follow/",
        views.document_follow,
        name="document_follow",
    ),
]
