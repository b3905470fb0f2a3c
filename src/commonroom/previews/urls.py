"""Preview routes, mounted at the site root by commonroom/urls.py."""

from __future__ import annotations

from django.urls import URLPattern, path

from commonroom.previews import views

V = "w/<uuid:workspace_id>/d/<uuid:document_id>/v/<int:number>/preview/"

urlpatterns: list[URLPattern] = [
    path(V, views.version_preview, name="version_preview"),
    path(
        "w/<uuid:workspace_id>/d/<uuid:document_id>/compare/",
        views.version_compare,
        name="version_compare",
    ),
    path(V + "files/<str:name>", views.preview_file, name="preview_file"),
    path(
        "w/<uuid:workspace_id>/d/<uuid:document_id>/print.css",
        views.print_sheet,
        name="print_sheet",
    ),
]
