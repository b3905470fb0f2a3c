"""Pages of the conversations app, mounted at the site root by commonroom/urls.py."""

from __future__ import annotations

from django.urls import URLPattern, path

from commonroom.conversations import views

W = "w/<uuid:workspace_id>/"
C = W + "c/<uuid:conversation_id>/"
M = C + "m/<uuid:message_id>/"

urlpatterns: list[URLPattern] = [
    path(W + "c/", views.conversation_list, name="conversation_list"),
    path(W + "c/new/", views.conversation_start, name="conversation_start"),
    path(C, views.conversation_detail, name="conversation_detail"),
    path(C + "row/", views.conversation_row, name="conversation_row"),
    path(C + "messages/", views.message_post, name="message_post"),
    path(M, views.message_fragment, name="message_fragment"),
    path(M + "edit/", views.message_edit, name="message_edit"),
    path(M + "delete/", views.message_delete, name="message_delete"),
]
