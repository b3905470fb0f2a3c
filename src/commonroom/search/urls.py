"""Pages of the search app, mounted at the site root by commonroom/urls.py."""

from __future__ import annotations

from django.urls import URLPattern, path

from commonroom.search import views

urlpatterns: list[URLPattern] = [
    path("search/", views.search_page, name="search"),
]
