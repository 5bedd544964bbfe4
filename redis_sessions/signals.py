"""Signal receivers: ending a user's other sessions when their password changes."""

from __future__ import annotations

import logging
from typing import Any

from redis_sessions.conf import conf
from redis_sessions.store import get_store

logger = logging.getLogger("redis_sessions")


def end_sessions_on_password_change(sender: type, instance: Any, **kwargs: Any) -> None:
    """With ``REVOKE_ON_PASSWORD_CHANGE``, destroy every session of a user whose
    password was just set.

    Django marks a password set with ``set_password()`` until the user is saved.
    The request that changed it keeps its session if it calls
    ``update_session_auth_hash()``, as Django's password change views do: that
    moves it to a new key, which this leaves alone.
    """
    if not conf.REVOKE_ON_PASSWORD_CHANGE or getattr(instance, "_password", None) is None:
        return
    ended = get_store().destroy_user_sessions(str(instance.pk))
    logger.info("The password of user %s changed; %d session(s) ended.", instance.pk, ended)
