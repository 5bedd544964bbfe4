"""Ended sessions: why a session ended, and what its tombstone tells a later request.

A destroyed session leaves a tombstone under its key for ``TOMBSTONE_TTL``
seconds: a hash of three short fields, the time it ended (``#x``), why
(``#r``, one of the reasons below) and the user id it had (``#u``, none for an
anonymous session). A request that presents the key meanwhile finds an
:class:`Ended` record, and the session engine sends
:data:`redis_sessions.signals.ended_session_presented`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from redis_sessions.store import codec

#: The user logged out, or the session was flushed (``SessionStore.delete()``).
LOGOUT = "logout"
#: The session moved to a new key (``cycle_key()``: a login, or
#: ``update_session_auth_hash()`` after a password change).
CYCLE = "cycle"
#: The user's password changed, with ``REVOKE_ON_PASSWORD_CHANGE``.
PASSWORD = "password"
#: A staff member ended it in the admin.
ADMIN = "admin"
#: Its user ended it from another session, on the "Your sessions" page or
#: through :mod:`redis_sessions.devices`.
DEVICE = "device"
#: The user logged in once more than ``MAX_SESSIONS_PER_USER`` allows, and
#: this was their least recently active session.
LIMIT = "limit"
#: Revoked by the ``sessions revoke`` command, or by code that called
#: :meth:`Store.destroy() <redis_sessions.store.Store.destroy>` or
#: :meth:`~redis_sessions.store.Store.destroy_user_sessions` without a reason.
REVOKE = "revoke"

#: The reasons the engine itself gives.
REASONS = (LOGOUT, CYCLE, PASSWORD, ADMIN, DEVICE, LIMIT, REVOKE)

#: What a reason may be: a short code, so that the tombstone stays small.
REASON_RE = re.compile(r"[a-z][a-z0-9_]{0,15}")


def check_reason(reason: str) -> str:
    """Return ``reason``, or raise ``ValueError`` if it is not a short code."""
    if not isinstance(reason, str) or REASON_RE.fullmatch(reason) is None:
        raise ValueError(
            f"A reason is 1 to 16 characters of [a-z0-9_], starting with a letter, not {reason!r}."
        )
    return reason


class Ended(NamedTuple):
    """What the tombstone of an ended session says."""

    #: The stored id of the session's key (:func:`redis_sessions.store.keys.stored_id`).
    stored_id: str
    #: The user id the session had, or None for an anonymous session.
    user_id: str | None
    #: Unix time the session ended.
    ended: int
    #: Why it ended: one of :data:`REASONS`, a site's own code, or None for a
    #: tombstone that records none.
    reason: str | None


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode(errors="replace")


def read_tombstone(stored_id: str, fields: Mapping[bytes, bytes]) -> Ended:
    """The :class:`Ended` record of a tombstone's hash."""
    try:
        ended = int(fields.get(codec.DESTROYED) or 0)
    except ValueError:
        ended = 0
    user_id, reason = _text(fields.get(codec.USER_ID)), _text(fields.get(codec.REASON))
    return Ended(stored_id, user_id, ended, reason)
