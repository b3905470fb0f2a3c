"""What someone with write access to the database (and nothing else) can do: plain SQL on the
audit tables, and the app's own hash function run with a key of their choosing."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Field

from commonroom.audit.models import AuditChainHead, AuditEvent, chain_key
from commonroom.audit.services import event_hash

EVENTS = AuditEvent._meta.db_table
HEADS = AuditChainHead._meta.db_table


def sql(query: str, params: list[Any] | tuple[Any, ...] = ()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(query, params)


def _field(name: str) -> Field[Any, Any]:
    found = AuditEvent._meta.get_field(name)
    assert isinstance(found, Field)
    return found


def db_value(field_name: str, value: Any) -> Any:
    """``value`` as the database stores ``field_name`` (a UUID as 32 hex on SQLite, JSON text)."""
    return _field(field_name).get_db_prep_save(value, connection)


def set_column(row_id: int, field_name: str, value: Any) -> None:
    column = _field(field_name).column
    sql(f"UPDATE {EVENTS} SET {column} = %s WHERE id = %s", [db_value(field_name, value), row_id])  # noqa: S608


def delete_rows(ids: list[int]) -> None:
    for row_id in ids:
        sql(f"DELETE FROM {EVENTS} WHERE id = %s", [row_id])  # noqa: S608


def move_head(chain: str, seq: int, digest: str) -> None:
    sql(f"UPDATE {HEADS} SET seq = %s, hash = %s WHERE chain = %s", [seq, digest, chain])  # noqa: S608


def rows_of(chain: str) -> list[AuditEvent]:
    return [e for e in AuditEvent.objects.order_by("seq") if chain_key(e.workspace_id) == chain]


def rehash_forward(chain: str, from_seq: int, key: bytes, change: dict[str, Any]) -> None:
    """Change row ``from_seq`` of ``chain``, then re-hash it and every later row with ``key``
    (each row's ``prev_hash`` the new hash before it), and move the head to the new last hash:
    the forgery that a chain of unkeyed hashes cannot tell from the real thing."""
    prev = None
    for row in rows_of(chain):
        if row.seq < from_seq:
            prev = row.hash
            continue
        if row.seq == from_seq:
            for name, value in change.items():
                setattr(row, name, value)
                set_column(row.pk, name, value)
        if prev is not None:
            row.prev_hash = prev
            set_column(row.pk, "prev_hash", prev)
        row.hash = event_hash(row, key)
        set_column(row.pk, "hash", row.hash)
        prev = row.hash
        last = row
    move_head(chain, last.seq, last.hash)
