"""``sessions``: look at and end sessions from the shell, without redis-cli.

Support and operations need to answer "is this user logged in, where, since
when?", to read one session, and to log someone out, one session or all of
theirs, after a lost laptop or a leaked cookie. In redis-cli that means knowing
the engine's key layout, its metadata fields and its tombstones, and getting
the user index right by hand; a wrong ``DEL`` even lets a concurrent request
save the session back. These subcommands go through the store's public API,
which keeps those guarantees::

    manage.py sessions list [--user UID] [--limit N] [--json]
    manage.py sessions count [--json]
    manage.py sessions show KEY [--json]
    manage.py sessions clear [--dry-run] [--no-input]
    manage.py sessions revoke KEY [--dry-run] [--no-input]
    manage.py sessions revoke --user UID [--except KEY] [--dry-run] [--no-input]

Their output contains session keys, which are credentials: whoever holds one
is logged in as its user.
"""

from __future__ import annotations

import json as json_module
from argparse import SUPPRESS
from itertools import islice
from typing import Any

from django.core.management.base import CommandError, CommandParser

from redis_sessions.management.base import (
    SessionsCommand,
    duration,
    plural,
    positive,
    session_key,
    timestamp,
)
from redis_sessions.store import StoredSession


def described(stored: StoredSession) -> str:
    """``session KEY of user 42``, or ``anonymous session KEY``."""
    if stored.user_id is None:
        return f"anonymous session {stored.session_key}"
    return f"session {stored.session_key} of user {stored.user_id}"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *rows]
    ]


class Command(SessionsCommand):
    help = "List, count, show, clear and revoke sessions of the Redis session store."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

        listing = self.add_action(
            actions, "list", "List live sessions, or a user's (oldest first)."
        )
        listing.add_argument("--user", metavar="UID", help="Only the sessions of this user id.")
        listing.add_argument(
            "--limit",
            type=positive,
            default=50,
            metavar="N",
            help="List at most N sessions (default 50).",
        )
        self.add_json(listing)

        counting = self.add_action(actions, "count", "Count the live sessions.")
        self.add_json(counting)

        showing = self.add_action(actions, "show", "Show one session: metadata and data.")
        showing.add_argument("key", type=session_key, metavar="KEY", help="The session key.")
        self.add_json(showing)

        clearing = self.add_action(
            actions, "clear", "Delete every session, tombstone and user index of the prefix."
        )
        self.add_destructive(clearing)

        revoking = self.add_action(
            actions, "revoke", "End a session, or every session of a user, as a logout would."
        )
        revoking.add_argument(
            "key", nargs="?", type=session_key, metavar="KEY", help="The session to end."
        )
        revoking.add_argument("--user", metavar="UID", help="End every session of this user id.")
        revoking.add_argument(
            "--except",
            dest="keep",
            type=session_key,
            metavar="KEY",
            help="With --user: keep this session.",
        )
        self.add_destructive(revoking)

    @staticmethod
    def add_action(actions: Any, name: str, summary: str) -> CommandParser:
        parser: CommandParser = actions.add_parser(name, help=summary, description=summary)
        # Django's own options are parsed before the action; repeated here so
        # that they work after it too (``sessions list -v 2``). Each defaults
        # to SUPPRESS: an option not given after the action keeps its value.
        parser.add_argument(
            "-v", "--verbosity", type=int, choices=[0, 1, 2, 3], default=SUPPRESS, help=SUPPRESS
        )
        for option in ("--settings", "--pythonpath"):
            parser.add_argument(option, default=SUPPRESS, help=SUPPRESS)
        for flag in ("--traceback", "--no-color", "--force-color", "--skip-checks"):
            parser.add_argument(flag, action="store_true", default=SUPPRESS, help=SUPPRESS)
        return parser

    def handle(
        self,
        *args: Any,
        action: str,
        json: bool = False,
        user: str | None = None,
        limit: int = 50,
        key: str | None = None,
        keep: str | None = None,
        dry_run: bool = False,
        interactive: bool = True,
        **options: Any,
    ) -> None:
        if action == "list":
            self.list_sessions(user=user, limit=limit, json=json)
        elif action == "count":
            self.count_sessions(json=json)
        elif action == "show":
            assert key is not None  # a required argument of show
            self.show_session(key, json=json)
        elif action == "clear":
            self.clear_sessions(dry_run=dry_run, interactive=interactive)
        else:
            self.revoke(key, user=user, keep=keep, dry_run=dry_run, interactive=interactive)

    # list

    def list_sessions(self, *, user: str | None, limit: int, json: bool) -> None:
        store = self.store
        found = store.iter_sessions() if user is None else iter(store.user_sessions(user))
        # One more than shown, to tell whether there are more.
        sessions = list(islice(found, limit + 1))
        more = len(sessions) > limit
        sessions = sessions[:limit]
        ttls = store.ttls([stored.session_key for stored in sessions])
        if json:
            self.write_json(
                {
                    "sessions": [
                        self.summary(stored, ttl)
                        for stored, ttl in zip(sessions, ttls, strict=True)
                    ],
                    "more": more,
                }
            )
            return
        if not sessions:
            self.stdout.write("No live sessions." if user is None else f"User {user} has none.")
            return
        rows = [
            [
                stored.session_key,
                stored.user_id or "-",
                timestamp(stored.created),
                timestamp(stored.saved),
                duration(ttl),
            ]
            for stored, ttl in zip(sessions, ttls, strict=True)
        ]
        header = ["KEY", "USER", "CREATED (UTC)", "SAVED (UTC)", "EXPIRES IN"]
        for line in table(header, rows):
            self.stdout.write(line)
        if more:
            self.stdout.write(f"The first {plural(limit, 'session')}; there are more (--limit).")
        else:
            self.stdout.write(f"{plural(len(sessions), 'session')}.")

    @staticmethod
    def summary(stored: StoredSession, ttl: int | None) -> dict[str, Any]:
        return {
            "key": stored.session_key,
            "user_id": stored.user_id,
            "created": stored.created,
            "saved": stored.saved,
            "ttl": ttl,
        }

    # count

    def count_sessions(self, *, json: bool) -> None:
        live = self.store.count(progress=self.progress("Counting"))
        if json:
            self.write_json({"live": live})
        else:
            self.stdout.write(f"{plural(live, 'live session')}.")

    # show

    def show_session(self, key: str, *, json: bool) -> None:
        store = self.store
        stored = store.get(key)
        if stored is None:
            raise CommandError("No live session has this key: it is missing, expired or destroyed.")
        (ttl,) = store.ttls([key])
        if json:
            self.write_json({**self.summary(stored, ttl), "data": stored.data})
            return
        expires = "never" if ttl is None else f"in {duration(ttl)}"
        data = json_module.dumps(
            stored.data, indent=2, sort_keys=True, ensure_ascii=False, default=repr
        )
        for line in [
            f"Key      {stored.session_key}",
            f"User     {stored.user_id or 'anonymous'}",
            f"Created  {timestamp(stored.created)} UTC",
            f"Saved    {timestamp(stored.saved)} UTC",
            f"Expires  {expires}",
            "Data",
            data,
        ]:
            self.stdout.write(line)

    # clear

    def clear_sessions(self, *, dry_run: bool, interactive: bool) -> None:
        store = self.store
        what = "(sessions, tombstones and user indexes)"
        if dry_run:
            doomed = store.clear(dry_run=True, progress=self.progress("Counting"))
            self.say(f"Would delete {plural(doomed, 'key')} under {self.where()} {what}.")
            return
        self.confirm(
            f"Delete every session under {self.where()}? Every user will be logged out.",
            interactive=interactive,
            nothing_done="nothing was deleted",
        )
        deleted = store.clear(progress=self.progress("Clearing"))
        self.say(f"Deleted {plural(deleted, 'key')} under {self.where()} {what}.")

    # revoke

    def revoke(
        self,
        key: str | None,
        *,
        user: str | None,
        keep: str | None,
        dry_run: bool,
        interactive: bool,
    ) -> None:
        if (key is None) == (user is None):
            raise CommandError("Name one session KEY, or --user UID: one of the two.")
        if keep is not None and user is None:
            raise CommandError("--except goes with --user.")
        if key is not None:
            self.revoke_one(key, dry_run=dry_run, interactive=interactive)
        else:
            assert user is not None
            self.revoke_user(user, keep=keep, dry_run=dry_run, interactive=interactive)

    def revoke_one(self, key: str, *, dry_run: bool, interactive: bool) -> None:
        store = self.store
        stored = store.get(key)
        if stored is None:
            self.say("No live session has this key; nothing to revoke.")
            return
        if dry_run:
            self.say(f"Would revoke {described(stored)}.")
            return
        self.confirm(
            f"Revoke {described(stored)}?",
            interactive=interactive,
            nothing_done="nothing was revoked",
        )
        # The user id lets the index entry go in the same round trip.
        if store.destroy(key, user_id=stored.user_id):
            self.say(f"Revoked {described(stored)}.")
        else:
            self.say("No live session has this key; nothing to revoke.")

    def revoke_user(self, user: str, *, keep: str | None, dry_run: bool, interactive: bool) -> None:
        store = self.store
        doomed = [stored for stored in store.user_sessions(user) if stored.session_key != keep]
        but = "" if keep is None else f", keeping {keep}"
        if not doomed:
            self.say(f"User {user} has no live session to revoke{but}.")
            return
        sessions = plural(len(doomed), "session")
        if dry_run:
            self.say(f"Would revoke {sessions} of user {user}{but}:")
            for stored in doomed:
                self.say(f"  {stored.session_key}")
            return
        self.confirm(
            f"Revoke {sessions} of user {user}{but}?",
            interactive=interactive,
            nothing_done="nothing was revoked",
        )
        revoked = store.destroy_user_sessions(user, keep=keep)
        self.say(f"Revoked {plural(revoked, 'session')} of user {user}{but}.")
