"""Pages of the notifications app, mounted at the site root by commonroom/urls.py."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
