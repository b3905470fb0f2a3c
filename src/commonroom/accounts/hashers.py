"""The password hasher: Argon2id at OWASP's recommended cost, at most a few at once.

Django's own Argon2 parameters (100 MiB of memory, two passes, eight lanes) cost 0.2 to 0.5 s
of CPU and 100 MiB per sign-in on these machines (the more, the busier); five hundred people
signing in at nine o'clock would need minutes of both CPUs and, twenty at once, 2 GiB. The
parameters here are the first of OWASP's Password Storage Cheat Sheet (Argon2id, 46 MiB, one
pass, one lane), which it gives as equal in strength to its others: about a quarter of the work
(0.054 s of CPU against 0.22 s, measured on a quiet machine). Stored hashes carry their own
parameters, so those made before still verify, and are rewritten with these at the person's
next sign-in (Django's ``must_update``).

Each process hashes at most ``COMMONROOM_PASSWORD_HASHES_AT_ONCE`` passwords at a time (default
2); a burst of sign-ins waits its turn instead of holding 46 MiB each (decision 57). A turn not
had within ``COMMONROOM_PASSWORD_HASH_WAIT_SECONDS`` answers 503 with a sentence
(:class:`HashingBusy`) rather than letting the queue, and the database connections its sign-ins
hold, grow without end."""

from __future__ import annotations

import threading

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher as DjangoArgon2PasswordHasher

from commonroom.core.exceptions import ApplicationError

HASHING_BUSY_MESSAGE = "Many people are signing in just now. Try again in a minute."

_slots: threading.BoundedSemaphore | None = None
_slots_lock = threading.Lock()


def hashing_slots() -> threading.BoundedSemaphore:
    """The process's turns to hash a password, made at first use from the setting."""
    global _slots
    with _slots_lock:
        if _slots is None:
            at_once = max(int(settings.COMMONROOM_PASSWORD_HASHES_AT_ONCE), 1)
            _slots = threading.BoundedSemaphore(at_once)
        return _slots


class HashingBusy(ApplicationError):
    """No turn to hash a password came within the wait: nothing was checked or changed."""

    status = 503
    code = "busy"

    def __init__(self) -> None:
        super().__init__(HASHING_BUSY_MESSAGE)


class _Turn:
    """A turn to hash, waited for at most ``COMMONROOM_PASSWORD_HASH_WAIT_SECONDS``."""

    def __enter__(self) -> None:
        if not hashing_slots().acquire(timeout=settings.COMMONROOM_PASSWORD_HASH_WAIT_SECONDS):
            raise HashingBusy

    def __exit__(self, *exc: object) -> None:
        hashing_slots().release()


class Argon2PasswordHasher(DjangoArgon2PasswordHasher):
    """Argon2id (``algorithm`` stays "argon2": every stored hash is read by this class)."""

    time_cost = 1
    memory_cost = 47104  # KiB: 46 MiB
    parallelism = 1

    def encode(self, password: str, salt: str) -> str:
        with _Turn():
            return str(super().encode(password, salt))

    def verify(self, password: str, encoded: str) -> bool:
        with _Turn():
            return bool(super().verify(password, encoded))
