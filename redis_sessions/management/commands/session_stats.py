"""``session_stats``: what is in the session store, at any size.

How many sessions are live, how many belong to logged-in users, who holds the
most, how long they have left and how much memory they take: the questions
that come up when Redis grows or a user reports being logged out, and that
``redis-cli`` cannot answer without reading the engine's layout by hand. The
numbers come from :meth:`Store.stats`, one SCAN pass with one script
call per batch, so the command runs in flat memory on a store of any size.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from redis_sessions.management.base import SessionsCommand, not_negative, plural, size
from redis_sessions.store.stats import TTL_BUCKETS, SessionStats

#: How the TTL buckets are shown, by name.
BUCKET_LABELS = {
    "up_to_1h": "up to 1h",
    "1h_to_1d": "1h to 1d",
    "1d_to_1w": "1d to 1w",
    "1w_to_2w": "1w to 2w",
    "over_2w": "over 2w",
    "no_expiry": "no expiry",
}


def row(label: str, value: str, note: str = "") -> str:
    return f"  {label:<22}{value:>12}{'  ' + note if note else ''}"


def share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else ""


class Command(SessionsCommand):
    help = (
        "Show statistics of the Redis session store: live sessions, logged in or not, "
        "the users with the most sessions, times to live, memory and tombstones."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--top",
            type=not_negative,
            default=10,
            metavar="N",
            help="List the N users with the most sessions (default 10; 0 lists none).",
        )
        parser.add_argument(
            "--sample",
            type=not_negative,
            default=1000,
            metavar="N",
            help="Measure MEMORY USAGE of N live sessions (default 1000; 0 measures none).",
        )
        self.add_json(parser)

    def handle(self, *args: Any, top: int, sample: int, json: bool, **options: Any) -> None:
        stats = self.store.stats(top=top, sample=sample, progress=self.progress("Surveying"))
        if json:
            self.write_json(self.as_json(stats))
        else:
            self.stdout.write("\n".join(self.as_text(stats, top=top, sample=sample)))

    def as_json(self, stats: SessionStats) -> dict[str, Any]:
        return {
            "prefix": self.store.prefix,
            "live": stats.live,
            "authenticated": stats.authenticated,
            "anonymous": stats.anonymous,
            "tombstones": stats.tombstones,
            "other": stats.other,
            "users": stats.users,
            "top_users": None
            if stats.top_users is None
            else [
                {"user_id": user_id, "sessions": sessions} for user_id, sessions in stats.top_users
            ],
            "ttl": dict(stats.ttl),
            "memory": {
                "sampled": stats.sampled,
                "sampled_bytes": stats.sampled_bytes,
                "mean_bytes": stats.mean_bytes,
                "estimated_bytes": stats.estimated_bytes,
            },
        }

    def as_text(self, stats: SessionStats, *, top: int, sample: int) -> list[str]:
        lines = [
            f"Sessions under {self.where()}",
            row("live", f"{stats.live:,}"),
            row(
                "  authenticated",
                f"{stats.authenticated:,}",
                share(stats.authenticated, stats.live),
            ),
            row("  anonymous", f"{stats.anonymous:,}", share(stats.anonymous, stats.live)),
            row("tombstones", f"{stats.tombstones:,}"),
        ]
        if stats.other:
            lines.append(row("other keys", f"{stats.other:,}", "not written by this engine"))
        if stats.users is None or stats.top_users is None:
            lines.append(row("users with sessions", "not counted", "USER_INDEX is off"))
        else:
            lines.append(row("users with sessions", f"{stats.users:,}"))
        if top and stats.top_users is not None:
            lines += ["", f"Users with the most sessions (top {top:,})"]
            lines += [row(user_id, f"{sessions:,}") for user_id, sessions in stats.top_users]
            if not stats.top_users:
                lines.append("  none")
        lines += ["", "Time to live of live sessions"]
        lines += [row(BUCKET_LABELS[name], f"{stats.ttl[name]:,}") for name in TTL_BUCKETS]
        if sample:
            if stats.mean_bytes is None or stats.estimated_bytes is None:
                lines += ["", "Memory: no live session to measure"]
            else:
                lines += [
                    "",
                    f"Memory (MEMORY USAGE of {plural(stats.sampled, 'live session')})",
                    row("mean", size(stats.mean_bytes), "per session"),
                    row(
                        "estimated total",
                        size(stats.estimated_bytes),
                        f"for {plural(stats.live, 'live session')}",
                    ),
                ]
        return lines
