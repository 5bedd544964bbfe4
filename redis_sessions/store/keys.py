"""Session keys: which ones are acceptable, and where they live in Redis."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import TypeGuard

#: A session key from a cookie is sent to Redis only if it matches this.
SESSION_KEY_RE = re.compile(r"[a-z0-9]{8,64}")

#: Length of the keys the engine makes, as Django's own engines do.
NEW_KEY_LENGTH = 32
_KEY_CHARACTERS = b"abcdefghijklmnopqrstuvwxyz234567"
_BYTE_TO_CHARACTER = bytes(_KEY_CHARACTERS[byte % 32] for byte in range(256))


def is_valid_session_key(session_key: object) -> TypeGuard[str]:
    """Tell whether ``session_key`` may name a session: 8 to 64 of ``[a-z0-9]``."""
    return isinstance(session_key, str) and SESSION_KEY_RE.fullmatch(session_key) is not None


def new_session_key() -> str:
    """Return a random session key: 32 characters of ``[a-z2-7]``, 160 random bits.

    That is the strength of Django's own keys (32 of ``[a-z0-9]``, 165 bits),
    drawn from the OS in one call rather than one per character. Each random
    byte picks one of 32 characters (256 is a multiple of 32, so every
    character is equally likely).
    No EXISTS is sent: the create script refuses a key that is taken, and the
    caller then draws another one.
    """
    return secrets.token_bytes(NEW_KEY_LENGTH).translate(_BYTE_TO_CHARACTER).decode("ascii")


#: How many characters a stored id has.
STORED_ID_LENGTH = 32
#: A stored id: what Redis, logs and pages know a session by, never its key.
STORED_ID_RE = re.compile(r"[A-Z2-7]{32}")


def stored_id(session_key: str) -> str:
    """Return the stored id of a session key: the first 160 bits of its SHA-256.

    32 characters of ``[A-Z2-7]`` (base32), as long as the keys the engine
    draws. Upper case, so that a stored id is never a valid session key: a
    stored id read from Redis, a log or a page cannot be sent back as a cookie.
    No secret goes into it: a session key has 160 random bits, too many to try
    keys until one gives a known digest, and rotating ``SECRET_KEY`` leaves
    every stored id as it was.
    """
    return base64.b32encode(hashlib.sha256(session_key.encode()).digest()[:20]).decode()


def is_stored_id(text: object) -> bool:
    """Tell whether ``text`` has the shape of a stored id."""
    return isinstance(text, str) and STORED_ID_RE.fullmatch(text) is not None


def redis_key(prefix: str, session_key: str) -> str:
    """Return the Redis key of a session.

    The session key is wrapped in a hash tag, so on Redis Cluster everything the
    engine keeps for one session hashes to one slot.
    """
    return f"{prefix}{{{session_key}}}"


#: How many characters of a session key logs and the admin show.
ABBREVIATED_LENGTH = 6


def abbreviated(session_key: str) -> str:
    """Return a prefix of a session key that is fit for logs: enough to correlate, too
    short to use."""
    return session_key[:ABBREVIATED_LENGTH] + "..."


def glob_escape(text: str) -> str:
    """Escape what SCAN's MATCH would read as a wildcard."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)
