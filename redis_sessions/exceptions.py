"""The package's exceptions.

Where Django defines the contract, the engine raises Django's own exceptions:
``CreateError`` and ``UpdateError`` from ``django.contrib.sessions.backends.base``.
Everything else derives from :class:`RedisSessionsError`.
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import UpdateError


class RedisSessionsError(Exception):
    """Base class of the exceptions raised by this package."""


class StoreUnavailable(RedisSessionsError):
    """Redis could not be reached or refused a session operation.

    The engine never falls back to an empty session when this happens: that would
    log the user out and replace their cookie. The request fails instead, and the
    session stays in Redis as it was.
    """


class SessionDestroyed(UpdateError, RedisSessionsError):
    """A save was refused because the session was destroyed (a logout, say).

    A subclass of Django's ``UpdateError``, which the session middleware turns
    into ``SessionInterrupted``.
    """
