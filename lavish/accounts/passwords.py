"""Password hashing with Argon2id.

The parameters are the app's `ARGON2_PARAMETERS` (an `argon2.Parameters`; None, the default,
means argon2-cffi's own: RFC 9106's low-memory profile, 64 MiB and 3 passes). Only code sets
it, never the environment, so a deployment cannot weaken it by accident; the tests use
`argon2.profiles.CHEAPEST`, which makes a hash ~1000x cheaper.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

_EXTENSION = "lavish_password_hasher"


@dataclass(frozen=True)
class _Hasher:
    hasher: PasswordHasher
    # Verifying against this when the account does not exist keeps the timing the same; made
    # with the same parameters as real hashes.
    dummy_hash: str


def _current() -> _Hasher:
    app = current_app._get_current_object()
    found = app.extensions.get(_EXTENSION)
    if found is None:
        parameters = app.config.get("ARGON2_PARAMETERS")
        hasher = PasswordHasher.from_parameters(parameters) if parameters else PasswordHasher()
        found = app.extensions[_EXTENSION] = _Hasher(hasher, hasher.hash("lavish-timing-equaliser"))
    return found


def hash_password(password: str) -> str:
    return _current().hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    current = _current()
    try:
        return (
            current.hasher.verify(password_hash or current.dummy_hash, password)
            and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than today's (rehash at login)."""
    try:
        return _current().hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False
