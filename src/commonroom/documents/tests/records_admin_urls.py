"""The project's routes, with an admin site where workspaces can be deleted (the project's own
admin site has no page for them): what someone with Django's admin rights could set up."""

from __future__ import annotations

from django.contrib import admin
from django.urls import URLPattern, URLResolver, path

from commonroom.urls import urlpatterns as project_urlpatterns
from commonroom.workspaces.models import Workspace

site = admin.AdminSite(name="admin")
site.register(Workspace)

project: list[URLPattern | URLResolver] = list(project_urlpatterns)
urlpatterns: list[URLPattern | URLResolver] = [
    *(p for p in project if not str(p.pattern).startswith("admin/")),
    path("admin/", site.urls),
]
