"""Where the tests find a session in Redis."""

from __future__ import annotations

from redis_sessions.store.keys import stored_id


def redis_key(session_key: str | None, prefix: str = "sessions:") -> str:
    """The Redis key of a session key's session: that of its stored id, under ``prefix``."""
    assert session_key is not None, "a session that has no key yet has no Redis key"
    return f"{prefix}{{{stored_id(session_key)}}}"
