"""Argon2 with the cheapest parameters, for tests only.

The stored hashes are real Argon2 (``argon2$argon2id$...``) and are checked by the real code;
only the work factors are lowered so that a test creating a handful of people stays fast.
"""

from __future__ import annotations

from commonroom.accounts.hashers import Argon2PasswordHasher


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 64
    parallelism = 1


TEST_PASSWORD_HASHERS = [
    "commonroom.accounts.tests.hashers.FastArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
