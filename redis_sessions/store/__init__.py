"""The Redis-backed store: sessions as hashes, every write an atomic Lua script.

:class:`Store` is its public Python API, sync and asyncio; :func:`get_store`
returns the one that ``REDIS_SESSIONS`` configures. Inside:

- :mod:`~redis_sessions.store.keys`: session keys and where they live in Redis;
- :mod:`~redis_sessions.store.codec`: how a session dict is laid out in a hash;
- :mod:`~redis_sessions.store.ended`: why sessions end, and what a tombstone
  tells a request that presents an ended session's key;
- :mod:`~redis_sessions.store.scripts` and ``lua/``: the Lua scripts;
- :mod:`~redis_sessions.store.steps` and :mod:`~redis_sessions.store.plans`:
  every operation, written once as a plan that does no I/O;
- :mod:`~redis_sessions.store.drivers`: the sync and asyncio drivers that run
  plans;
- :mod:`~redis_sessions.store.clients` and
  :mod:`~redis_sessions.store.async_clients`: redis-py clients from the
  settings;
- :mod:`~redis_sessions.store.stats`: the statistics of a store.
"""

from __future__ import annotations

from redis_sessions.exceptions import StoreUnavailable
from redis_sessions.store.api import Store, get_store, reset_store
from redis_sessions.store.ended import Ended
from redis_sessions.store.plans import Progress, StoredSession

__all__ = [
    "Ended",
    "Progress",
    "Store",
    "StoreUnavailable",
    "StoredSession",
    "get_store",
    "reset_store",
]
