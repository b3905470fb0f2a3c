"""The project's routes, with an admin site where workspaces can be deleted (the project's own
admin site has no page for them): what someone with Django's admin rights could set up."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from commonroom.urls import urlpatterns as project_urlpatterns
from commonroom.workspaces.models import Workspace

site = admin.AdminSite(name="admin")
site.register(Workspace)

urlpatterns = [
    *(p for p in project_urlpatterns if not str(p.pattern).startswith("admin/")),
    path("admin/", site.urls),
]
