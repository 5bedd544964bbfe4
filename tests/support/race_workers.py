"""The two sides of the cross-process races of ``tests/test_process_races.py``.

Each side runs in a process of its own (started with ``spawn``, so nothing of
the parent's connections is shared), sets Django up with the test settings on
the server of ``url``, and goes through ``keys`` one at a time, meeting the
other side at a barrier before each key so that their requests on it overlap.
It puts on ``results`` what it saw, for the parent to check.
"""

from __future__ import annotations

import os
from collections import Counter
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any


def setup(url: str) -> None:
    os.environ["REDIS_SESSIONS_TEST_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django

    django.setup()


def logout_or_save(
    role: str, url: str, keys: list[str], barrier: Barrier, results: Queue[Any]
) -> None:
    """``logout``: load and delete; ``save``: load, change, save (which may be refused)."""
    setup(url)
    from django.contrib.sessions.backends.base import UpdateError

    from redis_sessions.session import SessionStore

    seen: Counter[str] = Counter()
    for key in keys:
        barrier.wait()
        session = SessionStore(key)
        session.load()
        if role == "logout":
            session.delete()
            seen["deleted"] += 1
            continue
        session["cart"] = [1, 2]
        try:
            session.save()
        except UpdateError:
            seen["refused"] += 1
        else:
            seen["saved"] += 1
    results.put((role, dict(seen)))


def change_own_keys(
    role: str, url: str, keys: list[str], barrier: Barrier, results: Queue[Any]
) -> None:
    """Load, set this side's fields (``a`` and ``b``, or ``c`` and ``d``) to the round, save."""
    setup(url)
    from redis_sessions.session import SessionStore

    fields = ("a", "b") if role == "first" else ("c", "d")
    for number, key in enumerate(keys):
        barrier.wait()
        session = SessionStore(key)
        session.load()
        for field in fields:
            session[field] = number
        session.save()
    results.put((role, len(keys)))


def change_same_keys(
    role: str, url: str, keys: list[str], barrier: Barrier, results: Queue[Any]
) -> None:
    """Load, set both ``x`` and ``y`` to this side's name and the round, save."""
    setup(url)
    from redis_sessions.session import SessionStore

    for number, key in enumerate(keys):
        barrier.wait()
        session = SessionStore(key)
        session.load()
        session["x"] = session["y"] = f"{role}-{number}"
        session.save()
    results.put((role, len(keys)))
