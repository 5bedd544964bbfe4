"""A session engine that cannot clear expired sessions, as SessionBase says by default."""

from __future__ import annotations

from django.contrib.sessions.backends.signed_cookies import SessionStore as SignedCookieStore


class SessionStore(SignedCookieStore):
    @classmethod
    def clear_expired(cls) -> None:
        # SessionBase's own answer, which every engine of Django overrides.
        raise NotImplementedError
