"""Writing to the audit trail. The only code that inserts :class:`AuditEvent` rows."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from commonroom.audit.models import AuditEvent, AuditHead
from commonroom.core.request_info import SYSTEM, RequestInfo
from commonroom.core.text import plain_text

HASHED_FIELDS = (
    "seq",
    "created_at",
    "action",
    "actor_id",
    "actor_email",
    "workspace_id",
    "document_id",
    "target_type",
    "target_id",
    "target_label",
    "ip",
    "user_agent",
    "data",
    "prev_hash",
)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def event_hash(event: AuditEvent) -> str:
    """SHA-256 over the row's recorded fields, in a fixed canonical JSON form."""
    payload = {name: _canonical(getattr(event, name)) for name in HASHED_FIELDS}
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def _scrub(value: Any) -> Any:
    """Recorded text holds no control characters (PostgreSQL refuses NUL, even inside JSON)."""
    if isinstance(value, str):
        return plain_text(value)
    if isinstance(value, dict):
        return {plain_text(str(k)): _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def audit_record(
    *,
    action: str,
    actor: Any = None,
    actor_email: str = "",
    info: RequestInfo = SYSTEM,
    workspace_id: uuid.UUID | None = None,
    document_id: uuid.UUID | None = None,
    target_type: str = "",
    target_id: str = "",
    target_label: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction (or its own)."""
    with transaction.atomic():
        head, _ = AuditHead.objects.select_for_update().get_or_create(pk=1)
        actor_pk = getattr(actor, "pk", None) if actor is not None else None
        event = AuditEvent(
            seq=head.seq + 1,
            created_at=timezone.now(),
            action=action,
            actor_id=actor_pk,
            actor_email=plain_text(getattr(actor, "email", "") or actor_email)[:254],
            workspace_id=workspace_id,
            document_id=document_id,
            target_type=target_type,
            target_id=str(target_id)[:64],
            target_label=plain_text(target_label)[:300],
            ip=plain_text(info.ip)[:64],
            user_agent=plain_text(info.user_agent)[:500],
            data=_scrub(json.loads(json.dumps(data or {}, default=str))),
            prev_hash=head.hash,
        )
        event.hash = event_hash(event)
        event.save(force_insert=True)
        head.seq = event.seq
        head.hash = event.hash
        head.save(update_fields=["seq", "hash"])
    return event
