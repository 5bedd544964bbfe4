"""``clearsessions``: Django's command, made to say what it did with this engine.

Redis expires sessions and tombstones by itself, so with this engine the only
thing left to clean is the user indexes: entries of sessions that expired stay
in the index of a user who never comes back, until the index expires with its
last entry. Django's own ``clearsessions`` already calls
``SessionStore.clear_expired()``, which prunes them, but prints nothing; this
one reports how many entries went, and turns an unreachable Redis into a
one-line error instead of a traceback.

Django runs the command of the first app in ``INSTALLED_APPS`` that has one, so
this one runs only when ``redis_sessions`` is listed before
``django.contrib.sessions``. With any other ``SESSION_ENGINE`` it behaves
exactly as Django's.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.sessions.management.commands import clearsessions
from django.core.management.base import CommandError

from redis_sessions.exceptions import StoreUnavailable
from redis_sessions.management.base import plural
from redis_sessions.session import SessionStore


class Command(clearsessions.Command):
    help = (
        "Can be run as a cronjob or directly to clean out expired sessions when the "
        "backend supports it. With the Redis engine: prune the user indexes of entries "
        "of expired sessions."
    )

    def handle(self, *args: Any, verbosity: int = 1, **options: Any) -> None:
        engine = import_module(settings.SESSION_ENGINE)
        if not issubclass(engine.SessionStore, SessionStore):
            super().handle(*args, verbosity=verbosity, **options)
            return
        try:
            pruned = engine.SessionStore.clear_expired()
        except StoreUnavailable as exc:
            raise CommandError(str(exc)) from exc
        if verbosity >= 1:
            entries = plural(pruned, "index entry", "index entries")
            self.stdout.write(f"Pruned {entries} of expired sessions.")
