"""Pages of sessions, walked with SCAN's cursor: what the admin lists.

:func:`scan_page` reads one page: ``SCAN`` calls until they have found about
``size`` keys, then one pipelined round trip that reads each of them
(``HGETALL`` and ``TTL``). It returns the page's sessions and the cursor of the
next page. A cursor is an opaque string: ``"0"`` starts a walk, and a page
whose cursor is ``"0"`` is the last one. Callers pass it along as it is (in a
URL, say) and never look inside: on Redis Cluster it names the primary the
walk is on (primaries are walked one after the other, in the order of their
names) and that primary's SCAN cursor.

What SCAN guarantees holds across the pages of a walk: a session that lives
from the first page to the last is on one of them; a session created or ended
meanwhile may or may not be; and a session may be on two pages, since SCAN may
return a key twice while Redis resizes its table. Pages are not all of the
same length: SCAN hands keys out a bucket at a time, so a page may have a few
more than ``size`` sessions, and it has fewer when keys were tombstones or did
not pass the filter, or when the page had made ``max_scans`` SCAN calls (which
bounds the work of a page when few keys match): an empty page may have a next
page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

from redis.cluster import RedisCluster
from redis.exceptions import RedisError, ResponseError

from redis_sessions.keys import glob_escape, is_valid_session_key
from redis_sessions.manager import SessionManager, StoredSession, seconds_left

__all__ = ["Listed", "Page", "read_sessions", "scan_page", "with_details"]

#: A session key prefix to search for: what session keys are made of.
_KEY_PREFIX_RE = re.compile(r"[a-z0-9]{0,64}")

#: The largest COUNT a page's SCAN calls ask for.
MAX_COUNT = 10_000


class Listed(NamedTuple):
    """A live session as a listing shows it."""

    session: StoredSession
    #: Seconds it has left to live; None if it never expires.
    ttl: int | None
    #: Bytes of its hash's field names and values, as stored (without Redis'
    #: own overhead, which ``MEMORY USAGE`` would add).
    size: int


class Page(NamedTuple):
    """The sessions of one page, and where the next page starts."""

    sessions: list[Listed]
    #: The cursor of the next page; ``"0"`` if this page is the last.
    cursor: str


class _Position(NamedTuple):
    """Where a walk is: SCAN's cursor, and on a cluster the primary it is on."""

    node: int
    cursor: int

    def __str__(self) -> str:
        # One server: SCAN's cursor as it is. A cluster: "<primary>.<cursor>",
        # the primaries taken in the order of their names.
        return str(self.cursor) if self.node == 0 else f"{self.node}.{self.cursor}"


#: Where every walk starts, and what a last page says.
_START = _Position(0, 0)


def _parse_cursor(cursor: str) -> _Position:
    node, dot, position = cursor.rpartition(".")
    if not dot:
        node = "0"
    for part in (node, position):
        if not part.isascii() or not part.isdigit():
            raise ValueError(f"{cursor!r} is not a cursor of this listing")
    return _Position(int(node), int(position))


def _primaries(manager: SessionManager) -> list[Any]:
    """The cluster's primaries in a stable order; [None] for one server."""
    if not isinstance(manager.client, RedisCluster):
        return [None]
    primaries = manager.client.get_primaries()  # type: ignore[no-untyped-call]
    return sorted(primaries, key=lambda node: str(node.name))


def _scan(
    manager: SessionManager, at: _Position, pattern: str, count: int
) -> tuple[_Position, list[bytes]]:
    """One SCAN call from ``at``; on a cluster, on its primary, then on to the next one."""
    nodes = _primaries(manager)
    if at.node >= len(nodes):
        # Made up, or the cluster lost primaries since the walk began.
        raise ValueError(f"{str(at)!r} is not a cursor of this listing")
    node = nodes[at.node]
    if node is None:
        cursor, batch = manager.client.scan(at.cursor, match=pattern, count=count)
    else:
        cluster: Any = manager.client
        cursors, batch = cluster.scan(at.cursor, match=pattern, count=count, target_nodes=node)
        cursor = next(iter(cursors.values()))
    if cursor != 0:
        return _Position(at.node, int(cursor)), cast("list[bytes]", batch)
    if at.node + 1 < len(nodes):
        return _Position(at.node + 1, 0), cast("list[bytes]", batch)
    return _START, cast("list[bytes]", batch)


def _size(session: StoredSession) -> int:
    return sum(len(name) + len(value) for name, value in session.fields.items())


def read_sessions(manager: SessionManager, session_keys: Sequence[str]) -> list[Listed]:
    """Read the live sessions among ``session_keys``, in one pipelined round trip.

    Keys that hold no live session (missing, expired, tombstones, keys the
    engine did not write) are left out, without a log line; so are strings
    that are not session keys, which are never sent to Redis.
    """
    session_keys = [key for key in session_keys if is_valid_session_key(key)]
    return _read(manager, [manager.redis_key(key) for key in session_keys], session_keys)


def _read(
    manager: SessionManager, redis_keys: Sequence[str | bytes], session_keys: Sequence[str]
) -> list[Listed]:
    if not redis_keys:
        return []
    try:
        pipe = manager.client.pipeline(transaction=False)
        for key in redis_keys:
            pipe.hgetall(key)
            pipe.ttl(key)
        replies = pipe.execute(raise_on_error=False)
    except RedisError as exc:
        raise manager._unavailable(exc, "read sessions") from exc
    listed: list[Listed] = []
    for position, session_key in enumerate(session_keys):
        fields, ttl = replies[2 * position], replies[2 * position + 1]
        # A key of another type answers HGETALL with an error: not a session.
        if isinstance(fields, ResponseError) or isinstance(ttl, ResponseError):
            continue
        if isinstance(fields, RedisError):
            raise manager._unavailable(fields, "read sessions") from fields
        if not fields:
            continue
        stored = manager._loaded(session_key, cast("dict[bytes, bytes]", fields), quiet=True)
        if stored is not None:
            listed.append(Listed(stored, seconds_left(ttl), _size(stored)))
    return listed


def with_details(manager: SessionManager, sessions: Sequence[StoredSession]) -> list[Listed]:
    """Add to sessions already read their time to live (one round trip) and size.

    For the sessions of :meth:`SessionManager.user_sessions`, say.
    """
    ttls = manager.ttls([stored.session_key for stored in sessions]) if sessions else []
    return [Listed(stored, ttl, _size(stored)) for stored, ttl in zip(sessions, ttls, strict=True)]


def _passes(session: StoredSession, authenticated: bool | None) -> bool:
    return authenticated is None or (session.user_id is not None) == authenticated


def scan_page(
    manager: SessionManager,
    cursor: str = "0",
    size: int = 100,
    *,
    key_prefix: str = "",
    authenticated: bool | None = None,
    max_scans: int = 32,
) -> Page:
    """Return the page of live sessions that starts at ``cursor``, and the next cursor.

    ``key_prefix`` keeps the sessions whose key starts with it (SCAN's MATCH
    does the filtering, on the server); ``authenticated`` keeps those of a user
    (True) or the anonymous ones (False). A page makes at most ``max_scans``
    SCAN calls. Raises ``ValueError`` for a cursor that is not one this
    function returned, or a key prefix that no session key can start with.
    """
    position = _parse_cursor(cursor)
    if size < 1 or max_scans < 1:
        raise ValueError("A page needs a size and a number of scans above zero.")
    if _KEY_PREFIX_RE.fullmatch(key_prefix) is None:
        raise ValueError(f"No session key starts with {key_prefix!r}: keys are a-z and 0-9.")
    pattern = f"{glob_escape(manager.prefix)}{{{key_prefix}*}}"
    head = len(manager.prefix) + 1
    found: list[Listed] = []
    seen: set[bytes] = set()
    # COUNT asks for the keys still missing, times a factor that grows while
    # few keys match, so that a search on a large database gets on.
    factor = 1
    scans = 0
    while True:
        keys: list[bytes] = []
        # Gather keys until they could fill the page, then read them at once.
        while (missing := size - len(found) - len(keys)) > 0 and scans < max_scans:
            count = min(missing * factor, MAX_COUNT)
            try:
                position, batch = _scan(manager, position, pattern, count)
            except RedisError as exc:
                raise manager._unavailable(exc, "scan the sessions") from exc
            scans += 1
            fresh = [key for key in batch if key not in seen]
            seen.update(fresh)
            keys.extend(fresh)
            if 2 * len(fresh) < count:
                factor *= 2
            if position == _START:
                break
        session_keys = [key[head:-1].decode() for key in keys]
        found.extend(
            listed
            for listed in _read(manager, keys, session_keys)
            if _passes(listed.session, authenticated)
        )
        if position == _START or len(found) >= size or scans >= max_scans:
            return Page(found, str(position))
