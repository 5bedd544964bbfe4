"""Django's own session test suite, run against this engine.

``SessionTestsMixin`` is Django's specification of a session engine: the
sync and async tests in it all pass here unchanged. It comes from the
source distribution of the installed Django (see ``tests/support/django_suite.py``).
"""

from __future__ import annotations

from django.test import SimpleTestCase

from redis_sessions.session import SessionStore
from tests.support.django_suite import SessionTestsMixin


class RedisSessionEngineTests(SessionTestsMixin, SimpleTestCase):  # type: ignore[misc]
    backend = SessionStore
