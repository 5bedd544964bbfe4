"""Signal receivers: ending a user's other sessions when their password changes."""

from __future__ import annotations

import logging
from typing import Any
from weakref import WeakSet

from redis_sessions.conf import conf
from redis_sessions.store import get_store

logger = logging.getLogger("redis_sessions")

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
    ended = get_store().destroy_user_sessions(str(instance.pk))
    logger.info("The password of user %s changed; %d session(s) ended.", instance.pk, ended)
