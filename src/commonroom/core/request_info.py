"""Who is asking and from where: the acting context passed from boundaries into services."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest


@dataclass(frozen=True)
class RequestInfo:
    """Where an action came from, for the audit trail. Empty for commands and tasks."""

    ip: str = ""
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> RequestInfo:
        return cls(ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")[:500])


SYSTEM = RequestInfo()


def client_ip(request: HttpRequest) -> str:
    """The peer address. Behind a proxy, uvicorn's --forwarded-allow-ips rewrites REMOTE_ADDR."""
    return str(request.META.get("REMOTE_ADDR", ""))[:64]
