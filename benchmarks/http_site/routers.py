"""The router of ``db-postgres``: sessions in PostgreSQL, the users in SQLite."""

from __future__ import annotations

from typing import Any

SESSIONS_APP = "sessions"
ALIAS = "postgres"


class SessionsToPostgres:
    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return ALIAS if model._meta.app_label == SESSIONS_APP else None

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return ALIAS if model._meta.app_label == SESSIONS_APP else None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        if app_label == SESSIONS_APP:
            return db == ALIAS
        return db != ALIAS
