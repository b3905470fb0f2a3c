"""How many uploads one person has in progress, across every server process and machine.

Each person has ``COMMONROOM_MAX_CONCURRENT_UPLOADS`` slots, each a key in Django's cache (Redis
with ``REDIS_URL``, so every process sees the same ones; see ``core.shared_state``). An upload
takes a free slot with the cache's atomic ``add`` before any of its body is read and gives it
back just before the last part of its answer is sent (so a client holding its answer may send the
next one at once, to any process), or when the request ends, however it ends. A slot is a lease
of ``LEASE_SECONDS``, renewed while its upload is in progress: a process that is killed (and so
never gives its slots back) leaves them to expire within that time, so nobody is locked out for
longer.

Invariant: a person never has more uploads reading their body at once than they have slots,
whichever processes serve them (at worst, after a lease lapsed unseen, one more for a moment).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from commonroom.core.exceptions import ApplicationError

# How long a slot outlives its last renewal; renewed every third of it.
LEASE_SECONDS = 60
RENEW_SECONDS = LEASE_SECONDS / 3


@dataclass(frozen=True)
class UploadSlot:
    key: str
    holder: str  # this upload's own mark, so that only it gives the slot back


class TooManyUploads(ApplicationError):
    status = 429
    code = "too_many_uploads"


def slots_allowed() -> int:
    return max(int(settings.COMMONROOM_MAX_CONCURRENT_UPLOADS), 1)


def slot_key(person_id: int, number: int) -> str:
    return f"upload-slot:{person_id}:{number}"


def too_many_uploads() -> TooManyUploads:
    count = slots_allowed()
    uploads = "upload" if count == 1 else "uploads"
    return TooManyUploads(
        f"You already have {count} {uploads} in progress; wait for one to finish."
    )


def upload_slot_take(*, person_id: int) -> UploadSlot | None:
    """A free slot of ``person_id``'s, now theirs for ``LEASE_SECONDS``, or None if all are
    taken."""
    holder = secrets.token_hex(8)
    for number in range(slots_allowed()):
        key = slot_key(person_id, number)
        if cache.add(key, holder, timeout=LEASE_SECONDS):
            return UploadSlot(key, holder)
    return None


def upload_slot_renew(slot: UploadSlot) -> None:
    """Another ``LEASE_SECONDS`` for ``slot``; taken again if its lease lapsed and nobody else
    took it meanwhile."""
    if cache.get(slot.key) == slot.holder:
        cache.touch(slot.key, LEASE_SECONDS)
    else:
        cache.add(slot.key, slot.holder, timeout=LEASE_SECONDS)


def upload_slot_give_back(slot: UploadSlot) -> None:
    """Free ``slot`` unless another upload holds it now (its lease lapsed and was taken)."""
    if cache.get(slot.key) == slot.holder:
        cache.delete(slot.key)
