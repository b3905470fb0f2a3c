"""Websocket routes (the http side is Django's URLconf)."""

from __future__ import annotations

from django.urls import path

from commonroom.live.consumers import PersonalConsumer, WorkspaceConsumer

websocket_urlpatterns = [
    path("ws/w/<uuid:workspace_id>/", WorkspaceConsumer.as_asgi(), name="live_workspace"),
    path("ws/me/", PersonalConsumer.as_asgi(), name="live_personal"),
]
