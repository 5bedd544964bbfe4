"""A session engine for the tests that fails if a sync session method does I/O
while an async test forbids it: proof that the async path never falls back to
the sync one (through ``sync_to_async`` or otherwise)."""

from __future__ import annotations

from typing import Any

from redis_sessions import session


class SyncIOForbidden(AssertionError):
    pass


class SessionStore(session.SessionStore):
    forbid_sync = False

    def _check(self, name: str) -> None:
        if SessionStore.forbid_sync:
            raise SyncIOForbidden(f"sync {name}() was called on the async path")

    def load(self) -> dict[str, Any]:
        self._check("load")
        return super().load()

    def exists(self, session_key: str | None) -> bool:
        self._check("exists")
        return super().exists(session_key)

    def create(self) -> None:
        self._check("create")
        super().create()

    def save(self, must_create: bool = False) -> None:
        self._check("save")
        super().save(must_create)

    def delete(self, session_key: str | None = None) -> None:
        self._check("delete")
        super().delete(session_key)

    def cycle_key(self) -> None:
        self._check("cycle_key")
        super().cycle_key()
