"""Session keys: which ones are acceptable, and where they live in Redis."""

from __future__ import annotations

import re

from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.utils.crypto import get_random_string

#: A session key from a cookie is sent to Redis only if it matches this.
SESSION_KEY_RE = re.compile(r"[a-z0-9]{8,64}")

#: Length of the keys the engine makes, as Django's own engines do.
NEW_KEY_LENGTH = 32


def is_valid_session_key(session_key: object) -> bool:
    """Tell whether ``session_key`` may name a session: 8 to 64 of ``[a-z0-9]``."""
    return isinstance(session_key, str) and SESSION_KEY_RE.fullmatch(session_key) is not None


def new_session_key() -> str:
    """Return a random session key.

    No EXISTS is sent: the create script refuses a key that is taken, and the
    caller then draws another one.
    """
    return get_random_string(NEW_KEY_LENGTH, VALID_KEY_CHARS)


def redis_key(prefix: str, session_key: str) -> str:
    """Return the Redis key of a session.

    The session key is wrapped in a hash tag, so on Redis Cluster everything the
    engine keeps for one session hashes to one slot.
    """
    return f"{prefix}{{{session_key}}}"


def abbreviated(session_key: str) -> str:
    """Return a prefix of a session key that is fit for logs: enough to correlate, too
    short to use."""
    return session_key[:6] + "..."
