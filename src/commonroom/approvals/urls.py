"""Pages of the approvals app, mounted at the site root by commonroom/urls.py."""

from __future__ import annotations

from django.urls import URLPattern, path

from commonroom.approvals import views

D = "w/<uuid:workspace_id>/d/<uuid:document_id>/approvals/"
R = D + "<uuid:request_id>/"

urlpatterns: list[URLPattern] = [
    path(D, views.request_create, name="approval_create"),
    path(R, views.request_item, name="approval_item"),
    path(R + "change/", views.request_change, name="approval_change"),
    path(R + "approve/", views.request_approve, name="approval_confirm"),
    path(R + "decline/", views.request_decline, name="approval_decline"),
    path(
        "w/<uuid:workspace_id>/d/<uuid:document_id>/v/<int:number>/certificate/",
        views.record_certificate_download,
        name="record_certificate",
    ),
]
