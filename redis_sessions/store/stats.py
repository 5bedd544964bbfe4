"""Statistics of the store, gathered a SCAN batch at a time.

:meth:`redis_sessions.store.Store.stats` walks every key of the
prefix once and sends each batch to the ``survey`` script, which answers with a
few values per key; :class:`StatsCollector` folds those answers into a
:class:`SessionStats`. Nothing is kept per session or per user beyond the
``top`` users with the most sessions, so memory stays flat however many
sessions there are.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

HOUR = 3600
DAY = 24 * HOUR
WEEK = 7 * DAY

#: The TTL buckets, each with its upper bound in seconds (included): a session
#: created with Django's default two-week cookie age starts in ``1w_to_2w``.
TTL_BOUNDS: tuple[tuple[str, int], ...] = (
    ("up_to_1h", HOUR),
    ("1h_to_1d", DAY),
    ("1d_to_1w", WEEK),
    ("1w_to_2w", 2 * WEEK),
)
#: Live sessions whose TTL is above the last bound.
OVER = "over_2w"
#: Live sessions without a TTL: the engine never writes one, but a key may be
#: persisted by hand.
NO_EXPIRY = "no_expiry"
#: Every bucket name, in order.
TTL_BUCKETS: tuple[str, ...] = (*(name for name, _ in TTL_BOUNDS), OVER, NO_EXPIRY)

# The survey script's kinds of session keys.
_LIVE = 1
_TOMBSTONE = 2


def ttl_bucket(ttl: int) -> str:
    """Return the name of the bucket a live session with ``ttl`` seconds left falls in."""
    if ttl < 0:
        return NO_EXPIRY
    for name, bound in TTL_BOUNDS:
        if ttl <= bound:
            return name
    return OVER


@dataclass(frozen=True)
class SessionStats:
    """What :meth:`Store.stats` found under the prefix.

    Counts come from one SCAN pass: a key that SCAN returns twice, as it may
    while Redis resizes its table, is counted twice, as ``redis-cli --scan``
    would.
    """

    #: Live sessions.
    live: int = 0
    #: Live sessions of a logged-in user (they have a user id, ``#u``).
    authenticated: int = 0
    #: Tombstones of destroyed sessions, which expire on their own.
    tombstones: int = 0
    #: Keys of the session pattern that hold neither: data this engine did not write.
    other: int = 0
    #: Users whose index lists at least one unexpired session; None when
    #: sessions are not indexed by user (``USER_INDEX`` is off).
    users: int | None = 0
    #: ``(user id, sessions)`` of the users with the most sessions, most first;
    #: read from the user indexes, whose entries of sessions that ended early
    #: are dropped only when the index is next read or written.
    #: None when sessions are not indexed by user.
    top_users: tuple[tuple[str, int], ...] | None = ()
    #: Live sessions by time left to live, one entry per name of :data:`TTL_BUCKETS`.
    ttl: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(TTL_BUCKETS, 0))
    #: Live sessions whose ``MEMORY USAGE`` was measured.
    sampled: int = 0
    #: Their total ``MEMORY USAGE``, in bytes.
    sampled_bytes: int = 0

    @property
    def anonymous(self) -> int:
        """Live sessions of no user."""
        return self.live - self.authenticated

    @property
    def mean_bytes(self) -> float | None:
        """Mean ``MEMORY USAGE`` of the sampled sessions, or None if none was."""
        return self.sampled_bytes / self.sampled if self.sampled else None

    @property
    def estimated_bytes(self) -> int | None:
        """The sample's mean times the live sessions: what the sessions take up."""
        mean = self.mean_bytes
        return None if mean is None else round(mean * self.live)


def _rank(user_id: str, sessions: int) -> tuple[int, int, tuple[int, ...]]:
    # Larger ranks first: more sessions, then, among equals, the shorter and
    # then the smaller id, so that numeric ids tie in numeric order and the
    # order never depends on where SCAN found the keys.
    return sessions, -len(user_id), tuple(-byte for byte in user_id.encode())


class StatsCollector:
    """Folds the survey script's answers, batch by batch, into a :class:`SessionStats`."""

    def __init__(self, *, top: int, sample: int) -> None:
        if top < 0 or sample < 0:
            raise ValueError("top and sample cannot be negative.")
        self.top = top
        self.sample = sample
        self._counts = {"live": 0, "authenticated": 0, "tombstones": 0, "other": 0, "users": 0}
        self._ttl = dict.fromkeys(TTL_BUCKETS, 0)
        self._sampled = 0
        self._sampled_bytes = 0
        # A min-heap of the best ``top`` users: its first entry is the one to
        # drop when a better user turns up.
        self._heap: list[tuple[tuple[int, int, tuple[int, ...]], str, int]] = []

    @property
    def to_measure(self) -> int:
        """How many more live sessions the sample wants."""
        return self.sample - self._sampled

    def add(self, sessions: int, index_user_ids: Sequence[str], reply: Sequence[Any]) -> None:
        """Take in the survey of a batch: ``sessions`` session keys, then index keys.

        ``index_user_ids`` are the user ids of the batch's index keys, in order.
        """
        counts = self._counts
        ttl_counts = self._ttl
        for position in range(0, 3 * sessions, 3):
            kind = reply[position]
            if kind == _LIVE:
                counts["live"] += 1
                if reply[position + 1] is not None:
                    counts["authenticated"] += 1
                ttl_counts[ttl_bucket(reply[position + 2])] += 1
            elif kind == _TOMBSTONE:
                counts["tombstones"] += 1
            else:
                counts["other"] += 1
        entries = reply[3 * sessions : 3 * sessions + len(index_user_ids)]
        for user_id, count in zip(index_user_ids, entries, strict=True):
            if count > 0:
                counts["users"] += 1
                self._offer(user_id, int(count))
        self._sampled += int(reply[-2])
        self._sampled_bytes += int(reply[-1])

    def _offer(self, user_id: str, sessions: int) -> None:
        if not self.top:
            return
        heap = self._heap
        # Most users have too few sessions to matter: skip them before ranking.
        if len(heap) == self.top and sessions < heap[0][2]:
            return
        # SCAN may return a key twice while Redis resizes its table: a user is
        # listed once all the same.
        if any(listed == user_id for _, listed, _ in heap):
            return
        entry = (_rank(user_id, sessions), user_id, sessions)
        if len(heap) < self.top:
            heapq.heappush(heap, entry)
        elif entry > heap[0]:
            heapq.heapreplace(heap, entry)

    def result(self) -> SessionStats:
        """Return the statistics of every batch added so far."""
        top_users = tuple(
            (user_id, sessions) for _, user_id, sessions in sorted(self._heap, reverse=True)
        )
        return SessionStats(
            **self._counts,
            top_users=top_users,
            ttl=dict(self._ttl),
            sampled=self._sampled,
            sampled_bytes=self._sampled_bytes,
        )
