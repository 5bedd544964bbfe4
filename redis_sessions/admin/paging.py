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

Each function builds a plan of the store (see :mod:`redis_sessions.store.steps`)
and has the store run it; the ``a``-prefixed twins run the same plans on the
store's asyncio driver.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from redis.exceptions import ResponseError

from redis_sessions.store import Store, StoredSession
from redis_sessions.store.keys import is_stored_id
from redis_sessions.store.plans import Plans, seconds_left
from redis_sessions.store.steps import START, Command, Key, Plan, Round, Scan, Scanned

__all__ = [
    "Listed",
    "Page",
    "aread_sessions",
    "ascan_page",
    "awith_details",
    "read_sessions",
    "scan_page",
    "with_details",
]

#: The start of a stored id to search for: what stored ids are made of.
_ID_PREFIX_RE = re.compile(r"[A-Z2-7]{0,32}")

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


def _size(session: StoredSession) -> int:
    return sum(len(name) + len(value) for name, value in session.fields.items())


def _read(plans: Plans, stored_ids: Sequence[str]) -> Plan[list[Listed]]:
    """The live sessions among ``stored_ids`` with their TTLs, in one round trip."""
    if not stored_ids:
        return []
    steps: list[Command] = []
    for sid in stored_ids:
        key: Key = plans.id_key(sid)
        steps.append(Command(("HGETALL", key)))
        steps.append(Command(("TTL", key)))
    replies = yield Round(steps, "read sessions", tolerant=True)
    listed: list[Listed] = []
    for position, sid in enumerate(stored_ids):
        fields, ttl = replies[2 * position], replies[2 * position + 1]
        # A key of another type answers HGETALL with an error: not a session.
        if isinstance(fields, ResponseError) or isinstance(ttl, ResponseError):
            continue
        stored = plans.stored(sid, fields, quiet=True)
        if stored is not None:
            listed.append(Listed(stored, seconds_left(ttl), _size(stored)))
    return listed


def _valid(stored_ids: Sequence[str]) -> list[str]:
    return [sid for sid in stored_ids if is_stored_id(sid)]


def read_sessions(store: Store, stored_ids: Sequence[str]) -> list[Listed]:
    """Read the live sessions of ``stored_ids``, in one pipelined round trip.

    Stored ids that hold no live session (missing, expired, tombstones, keys
    the engine did not write) are left out, without a log line; so are strings
    that are not stored ids, which are never sent to Redis.
    """
    return store.run(_read(store.plans, _valid(stored_ids)))


async def aread_sessions(store: Store, stored_ids: Sequence[str]) -> list[Listed]:
    """The asyncio twin of :func:`read_sessions`."""
    return await store.arun(_read(store.plans, _valid(stored_ids)))


def _details(sessions: Sequence[StoredSession], ttls: Sequence[int | None]) -> list[Listed]:
    return [Listed(stored, ttl, _size(stored)) for stored, ttl in zip(sessions, ttls, strict=True)]


def with_details(store: Store, sessions: Sequence[StoredSession]) -> list[Listed]:
    """Add to sessions already read their time to live (one round trip) and size.

    For the sessions of :meth:`Store.user_sessions`, say.
    """
    return _details(sessions, store.ttls([stored.stored_id for stored in sessions]))


async def awith_details(store: Store, sessions: Sequence[StoredSession]) -> list[Listed]:
    """The asyncio twin of :func:`with_details`."""
    return _details(sessions, await store.attls([stored.stored_id for stored in sessions]))


def _passes(session: StoredSession, authenticated: bool | None) -> bool:
    return authenticated is None or (session.user_id is not None) == authenticated


def _page(
    plans: Plans,
    cursor: str,
    size: int,
    id_prefix: str,
    authenticated: bool | None,
    max_scans: int,
) -> Plan[Page]:
    if size < 1 or max_scans < 1:
        raise ValueError("A page needs a size and a number of scans above zero.")
    if _ID_PREFIX_RE.fullmatch(id_prefix) is None:
        raise ValueError(f"No stored id starts with {id_prefix!r}: stored ids are A-Z and 2-7.")
    pattern = plans.session_pattern(id_prefix)
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
            batch: Scanned = yield Scan(pattern, cursor, count)
            cursor = batch.cursor
            scans += 1
            fresh = [key for key in batch.keys if key not in seen]
            seen.update(fresh)
            keys.extend(fresh)
            if 2 * len(fresh) < count:
                factor *= 2
            if cursor == START:
                break
        listed = yield from _read(plans, [plans.stored_id_of(key) for key in keys])
        found.extend(item for item in listed if _passes(item.session, authenticated))
        if cursor == START or len(found) >= size or scans >= max_scans:
            return Page(found, cursor)


def scan_page(
    store: Store,
    cursor: str = START,
    size: int = 100,
    *,
    id_prefix: str = "",
    authenticated: bool | None = None,
    max_scans: int = 32,
) -> Page:
    """Return the page of live sessions that starts at ``cursor``, and the next cursor.

    ``id_prefix`` keeps the sessions whose stored id starts with it (SCAN's
    MATCH does the filtering, on the server); ``authenticated`` keeps those of a user
    (True) or the anonymous ones (False). A page makes at most ``max_scans``
    SCAN calls. Raises ``ValueError`` for a cursor that is not one this
    function returned, or an id prefix that no stored id can start with.
    """
    plan = _page(store.plans, cursor, size, id_prefix, authenticated, max_scans)
    return store.run(plan)


async def ascan_page(
    store: Store,
    cursor: str = START,
    size: int = 100,
    *,
    id_prefix: str = "",
    authenticated: bool | None = None,
    max_scans: int = 32,
) -> Page:
    """The asyncio twin of :func:`scan_page`."""
    plan = _page(store.plans, cursor, size, id_prefix, authenticated, max_scans)
    return await store.arun(plan)
