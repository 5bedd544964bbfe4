"""The engine's signals, and its receivers of Django's.

:data:`ended_session_presented` is sent when a request presents the key of a
session that ended; :data:`session_degraded` when a request is served an
empty session because Redis is unavailable. The receivers end a user's other sessions when their
password changes (``REVOKE_ON_PASSWORD_CHANGE``).
"""

from __future__ import annotations

import logging
from typing import Any
from weakref import WeakSet

from django.dispatch import Signal

from redis_sessions.conf import conf
from redis_sessions.devices import record_device
from redis_sessions.store import get_store
from redis_sessions.store.ended import PASSWORD

logger = logging.getLogger("redis_sessions")

#: Sent when a request presents the key of a session that ended less than
#: ``TOMBSTONE_TTL`` seconds ago: that cookie may have been stolen. Sent by
#: the session's first load, so at most once per request, with ``sender`` the
#: session's class (the engine's ``SessionStore``, or a site's subclass of it)
#: and these arguments:
#:
#: * ``stored_id``: the stored id of the session's key
#:   (:func:`redis_sessions.store.keys.stored_id`), never the key itself;
#: * ``user_id``: the user id the session had, a string, or None for an
#:   anonymous session;
#: * ``ended``: when it ended, an aware ``datetime`` in UTC, to the second;
#: * ``reason``: why, one of ``"logout"``, ``"cycle"``, ``"password"``,
#:   ``"admin"``, ``"device"`` and ``"revoke"`` (see
#:   :mod:`redis_sessions.store.ended`), a
#:   code a site gave :meth:`Store.destroy() <redis_sessions.store.Store.destroy>`,
#:   or None for a tombstone that records none;
#: * ``request``: the ``HttpRequest`` that presented it, when the engine's
#:   :class:`~redis_sessions.middleware.SessionMiddleware` made the session;
#:   None with Django's own middleware, or a session made outside a request.
#:
#: A session loaded asynchronously sends it with ``asend()``, sync receivers
#: included. An exception a receiver raises propagates, as with Django's own
#: signals.
ended_session_presented = Signal()

#: Sent when ``ON_UNAVAILABLE = "anonymous"`` serves a request an empty session
#: because Redis could not be reached: once per request, by the session's
#: first load, with ``sender`` the session's class and these arguments:
#:
#: * ``stored_id``: the stored id of the cookie's key, or None for a request
#:   without one;
#: * ``exception``: the :class:`~redis_sessions.exceptions.StoreUnavailable`
#:   (a :class:`~redis_sessions.exceptions.CircuitOpen` while the circuit
#:   breaker is open);
#: * ``request``: as for :data:`ended_session_presented`.
#:
#: A site counts or reports degraded requests with it; the engine logs each
#: one as a warning of the ``redis_sessions`` logger.
session_degraded = Signal()

#: Users being saved with a password other than the one in the database.
_new_passwords: WeakSet[Any] = WeakSet()


def note_password_change(
    sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    """With ``REVOKE_ON_PASSWORD_CHANGE``, note a user saved with a new password.

    The password field as saved is compared with the database's, a query per
    save of a user that may change it: saves that name their fields without
    the password (``update_last_login`` at each login, say) cost nothing.
    """
    if raw or not conf.REVOKE_ON_PASSWORD_CHANGE or instance.pk is None:
        return
    if update_fields is not None and "password" not in update_fields:
        return
    stored = (
        sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True).first()
    )
    if stored is not None and stored != instance.password:
        _new_passwords.add(instance)


def end_sessions_on_password_change(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Destroy every session of a user just saved with a new password.

    The request that changed it keeps its session if it calls
    ``update_session_auth_hash()``, as Django's password change views do: that
    moves it to a new key, which this leaves alone.
    """
    if instance not in _new_passwords:
        return
    _new_passwords.discard(instance)
    ended = get_store().destroy_user_sessions(str(instance.pk), reason=PASSWORD)
    logger.info("The password of user %s changed; %d session(s) ended.", instance.pk, ended)


def note_login(sender: Any, request: Any = None, **kwargs: Any) -> None:
    """Note the browser and address of a login in its session (``DEVICE_DETAILS``),
    and have its save end the user's sessions over ``MAX_SESSIONS_PER_USER``."""
    session = getattr(request, "session", None)
    if session is None:
        return
    if conf.DEVICE_DETAILS:
        record_device(request)
    if conf.MAX_SESSIONS_PER_USER is not None and hasattr(session, "limit_after_save"):
        session.limit_after_save = True
