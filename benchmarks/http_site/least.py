"""The least that a session engine on Redis can do: a measuring reference, not an engine to use.

Django's ``SessionBase`` over one redis-py command per operation, a JSON
string per session: no tombstone, no merge, no checks of what it reads. The
benchmark serves it to show how much of any Redis-backed engine's overhead is
Django's session machinery and one redis-py round trip, which no engine can
go below.
"""

from __future__ import annotations

import json
from typing import Any

import redis
from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, SessionBase

client = redis.Redis.from_url(settings.REDIS_SESSIONS["URL"])
PREFIX = "least:"


class SessionStore(SessionBase):
    def load(self) -> dict[str, Any]:
        raw = client.get(PREFIX + self.session_key) if self.session_key else None
        if raw is None:
            self._session_key = None
            return {}
        data: dict[str, Any] = json.loads(raw)
        return data

    def exists(self, session_key: str) -> bool:
        return bool(client.exists(PREFIX + session_key))

    def create(self) -> None:
        while True:
            self._session_key = self._get_new_session_key()  # type: ignore[attr-defined]
            try:
                self.save(must_create=True)
            except CreateError:
                continue
            self.modified = True
            return

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            self.create()
            return
        data = json.dumps(self._get_session(no_load=must_create))  # type: ignore[attr-defined]
        if not client.set(
            PREFIX + self.session_key, data, ex=self.get_expiry_age(), nx=must_create
        ):
            raise CreateError

    def delete(self, session_key: str | None = None) -> None:
        key = session_key or self.session_key
        if key is not None:
            client.delete(PREFIX + key)
