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


class CircuitOpen(StoreUnavailable):
    """Redis failed to answer several operations in a row, and this one was not sent.

    Raised at once, without waiting for a timeout, while the store's circuit
    breaker is open (``BREAKER_FAILURES``, ``BREAKER_RESET``). It is a
    :class:`StoreUnavailable`, and handled as one.
    """


class SessionDestroyed(UpdateError, RedisSessionsError):
    """A save was refused because the session was destroyed (a logout, say).

    A subclass of Django's ``UpdateError``, which the session middleware turns
    into ``SessionInterrupted``.
    """


class SessionTooLarge(RedisSessionsError, ValueError):
    """A save was refused because the session would exceed ``MAX_SESSION_BYTES``.

    Nothing was written: the session in Redis stays as it was. It is not an
    ``UpdateError``, so Django's session middleware lets it through and the
    request fails with a server error, as for any other bug in the view that
    filled the session. The message names the size, the limit and the largest
    keys of the session (never their values).
    """
