"""Pages of the comments app, mounted at the site root by commonroom/urls.py."""

from __future__ import annotations

from django.urls import URLPattern, path

from commonroom.comments import views

W = "w/<uuid:workspace_id>/"
D = W + "d/<uuid:document_id>/comments/"
C = D + "<uuid:comment_id>/"

urlpatterns: list[URLPattern] = [
    path(D, views.comment_create, name="comment_create"),
    path(C, views.comment_thread, name="comment_thread"),
    path(C + "reply/", views.comment_reply, name="comment_reply"),
    path(C + "edit/", views.comment_edit, name="comment_edit"),
    path(C + "delete/", views.comment_delete, name="comment_delete"),
    path(C + "resolve/", views.comment_resolve, name="comment_resolve"),
    path(C + "reopen/", views.comment_reopen, name="comment_reopen"),
    path(W + "mentions/", views.workspace_mention_candidates, name="workspace_mention_candidates"),
]
