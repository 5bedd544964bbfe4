"""``sessions``: look at and end sessions from the shell, without redis-cli.

Support and operations need to answer "is this user logged in, where, since
when?", to read one session, and to log someone out, one session or all of
theirs, after a lost laptop or a leaked cookie. In redis-cli that means knowing
the engine's key layout, its metadata fields and its tombstones, and getting
the user index right by hand; a wrong ``DEL`` even lets a concurrent request
save the session back. These subcommands go through the store's public API,
which keeps those guarantees::

    manage.py sessions list [--user USER | --user-id UID] [--limit N] [--json]
    manage.py sessions count [--json]
    manage.py sessions show KEY [--json]
    manage.py sessions clear [--dry-run] [--no-input]
    manage.py sessions revoke KEY [--dry-run] [--no-input]
    manage.py sessions revoke (--user USER | --user-id UID) [--except KEY]
                              [--dry-run] [--no-input]
    manage.py sessions migrate --from SOURCE [--batch-size N] [--cursor C]
                               [--max-batches N] [--dry-run]

KEY is a session's stored id (what ``list`` and the admin show), or its first
characters (``HOR7L5...``) when they name one live session, or a session key as
a cookie holds it, digested on the spot. USER is a user id or a username;
``--user-id`` takes a user id as sessions carry it, without looking it up (the
sessions of a deleted user, say).

Their output names sessions by stored id, never by key: Redis holds no session
key, and a stored id cannot be used as a cookie.
"""

from __future__ import annotations

import json as json_module
from argparse import SUPPRESS
from itertools import islice
from typing import Any

from django.core.management.base import CommandError, CommandParser

from redis_sessions.management.base import (
    KeyArgument,
    SessionsCommand,
    User,
    duration,
    plain,
    plural,
    positive,
    session_key_or_start,
    sessions_starting_with,
    timestamp,
    zone,
)
from redis_sessions.migration import bulk
from redis_sessions.migration.sources import SOURCES, START, source
from redis_sessions.store import StoredSession
from redis_sessions.store.ended import REVOKE


def described(stored: StoredSession) -> str:
    """``session ID of user 42``, or ``anonymous session ID``."""
    if stored.user_id is None:
        return f"anonymous session {stored.stored_id}"
    return f"session {stored.stored_id} of user {stored.user_id}"


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
        self.add_user(listing, "Only the sessions of")
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
        showing.add_argument(
            "key",
            type=session_key_or_start,
            metavar="KEY",
            help="The stored id, or its first characters (HOR7L5...), or a session key.",
        )
        self.add_json(showing)

        clearing = self.add_action(
            actions, "clear", "Delete every session, tombstone and user index of the prefix."
        )
        self.add_destructive(clearing)

        revoking = self.add_action(
            actions, "revoke", "End a session, or every session of a user, as a logout would."
        )
        revoking.add_argument(
            "key",
            nargs="?",
            type=session_key_or_start,
            metavar="KEY",
            help="The session to end: its stored id, its first characters (HOR7L5...), or its key.",
        )
        self.add_user(revoking, "End every session of")
        revoking.add_argument(
            "--except",
            dest="keep",
            type=session_key_or_start,
            metavar="KEY",
            help="With --user or --user-id: keep this session.",
        )
        self.add_destructive(revoking)

        migrating = self.add_action(
            actions, "migrate", "Move the sessions another engine stored into this one."
        )
        migrating.add_argument(
            "--from",
            dest="source",
            required=True,
            choices=[name for name in SOURCES if name != "cache"],
            help="The engine that stored them (a cache cannot list its keys: the "
            "cache engine's sessions move as users come back, see MIGRATE_FROM).",
        )
        migrating.add_argument(
            "--batch-size",
            type=positive,
            default=1000,
            metavar="N",
            help="Read, store and remove about N sessions at a time (default 1000).",
        )
        migrating.add_argument(
            "--cursor",
            default=START,
            metavar="C",
            help="Go on from where a run stopped: the cursor it printed.",
        )
        migrating.add_argument(
            "--max-batches",
            type=positive,
            default=None,
            metavar="N",
            help="Stop after N batches, printing the cursor to go on from.",
        )
        migrating.add_argument(
            "--dry-run",
            action="store_true",
            help="Read and count the sessions; store and remove nothing.",
        )

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
        user_id: str | None = None,
        limit: int = 50,
        key: KeyArgument | None = None,
        keep: KeyArgument | None = None,
        dry_run: bool = False,
        interactive: bool = True,
        source: str = "",
        batch_size: int = 1000,
        cursor: str = START,
        max_batches: int | None = None,
        **options: Any,
    ) -> None:
        if action == "list":
            self.list_sessions(user=self.user(user, user_id), limit=limit, json=json)
        elif action == "count":
            self.count_sessions(json=json)
        elif action == "show":
            assert key is not None  # a required argument of show
            self.show_session(key, json=json)
        elif action == "clear":
            self.clear_sessions(dry_run=dry_run, interactive=interactive)
        elif action == "migrate":
            self.migrate(
                source,
                batch_size=batch_size,
                cursor=cursor,
                max_batches=max_batches,
                dry_run=dry_run,
            )
        else:
            self.revoke(
                key,
                user=self.user(user, user_id),
                keep=keep,
                dry_run=dry_run,
                interactive=interactive,
            )

    # list

    def list_sessions(self, *, user: User | None, limit: int, json: bool) -> None:
        store = self.store
        found = store.iter_sessions() if user is None else iter(store.user_sessions(user.user_id))
        # One more than shown, to tell whether there are more.
        sessions = list(islice(found, limit + 1))
        more = len(sessions) > limit
        sessions = sessions[:limit]
        ttls = store.ttls([stored.stored_id for stored in sessions])
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
            self.stdout.write(
                "No live sessions." if user is None else f"User {user.label} has none."
            )
            return
        rows = [
            [
                stored.stored_id,
                stored.user_id or "-",
                timestamp(stored.created),
                timestamp(stored.saved),
                duration(ttl),
            ]
            for stored, ttl in zip(sessions, ttls, strict=True)
        ]
        header = ["STORED ID", "USER", f"CREATED ({zone()})", f"SAVED ({zone()})", "EXPIRES IN"]
        for line in table(header, rows):
            self.stdout.write(line)
        if more:
            self.stdout.write(f"The first {plural(limit, 'session')}; there are more (--limit).")
        else:
            self.stdout.write(f"{plural(len(sessions), 'session')}.")

    @staticmethod
    def summary(stored: StoredSession, ttl: int | None) -> dict[str, Any]:
        return {
            "stored_id": stored.stored_id,
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

    def find(self, key: KeyArgument) -> StoredSession | None:
        """The live session ``key`` names; None if a whole stored id names no live session.

        The start of a key must name exactly one live session: otherwise
        ``CommandError`` says how many it names and what to type.
        """
        if not key.partial:
            return self.store.load_id(key.text)
        count, stored = sessions_starting_with(self.store, key.text)
        if count == 0:
            raise CommandError(
                f"No live session has a stored id that starts with {key.text!r}: "
                "it is missing, expired or destroyed, or the characters are mistyped."
            )
        if count > 1:
            raise CommandError(
                f"{plural(count, 'live session')} have a stored id that starts with "
                f"{key.text!r}; type more of it (sessions list shows whole stored ids)."
            )
        return stored

    def show_session(self, key: KeyArgument, *, json: bool) -> None:
        store = self.store
        stored = self.find(key)
        if stored is None:
            raise CommandError(
                "No live session has this stored id: it is missing, expired or destroyed."
            )
        (ttl,) = store.ttls([stored.stored_id])
        if json:
            self.write_json({**self.summary(stored, ttl), "data": stored.data})
            return
        expires = "never" if ttl is None else f"in {duration(ttl)}"
        data = json_module.dumps(
            stored.data, indent=2, sort_keys=True, ensure_ascii=False, default=repr
        )
        for line in [
            f"Id       {stored.stored_id}",
            f"User     {stored.user_id or 'anonymous'}",
            f"Created  {timestamp(stored.created)} {zone()}",
            f"Saved    {timestamp(stored.saved)} {zone()}",
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

    # migrate

    def migrate(
        self,
        name: str,
        *,
        batch_size: int,
        cursor: str,
        max_batches: int | None,
        dry_run: bool,
    ) -> None:
        if name == "django-redis-sessions" and not cursor.isdigit():
            raise CommandError(f"--cursor {cursor!r} is not a cursor this command printed.")
        shows_progress = self.progress("Migrating") is not None

        def report(summary: bulk.Summary) -> None:
            if shows_progress:
                at = f" (cursor {summary.cursor})" if name == "django-redis-sessions" else ""
                self.stderr.write(
                    f"Migrating: {summary.seen:,} sessions read so far{at}.", style_func=plain
                )

        summary = bulk.migrate(
            self.store,
            source(name),
            batch_size=batch_size,
            cursor=cursor,
            dry_run=dry_run,
            max_batches=max_batches,
            on_batch=report,
        )
        moved = "Would migrate" if dry_run else "Migrated"
        self.say(
            f"{moved} {plural(summary.migrated, 'session')} from {name} to {self.where()}; "
            f"skipped {summary.present} already here, {summary.expired} expired and "
            f"{summary.corrupt} corrupt; {summary.failed} failed."
        )
        if summary.cursor != START and name == "django-redis-sessions":
            self.say(f"Stopped early: go on with --cursor {summary.cursor}.")
        elif summary.cursor != START:
            self.say("Stopped early: run it again to go on (what moved is gone from the source).")
        if summary.failed:
            raise CommandError(
                f"{plural(summary.failed, 'session')} could not be stored here (Redis was "
                f"unavailable, or a session is over MAX_SESSION_BYTES); they stay in {name}. "
                "Check the server, then run the command again."
            )

    # revoke

    def revoke(
        self,
        key: KeyArgument | None,
        *,
        user: User | None,
        keep: KeyArgument | None,
        dry_run: bool,
        interactive: bool,
    ) -> None:
        if (key is None) == (user is None):
            raise CommandError(
                "Name one session KEY, or a user with --user USER or --user-id UID: one of the two."
            )
        if keep is not None and user is None:
            raise CommandError("--except goes with --user or --user-id.")
        if key is not None:
            self.revoke_one(key, dry_run=dry_run, interactive=interactive)
        else:
            assert user is not None
            self.revoke_user(user, keep=keep, dry_run=dry_run, interactive=interactive)

    def revoke_one(self, key: KeyArgument, *, dry_run: bool, interactive: bool) -> None:
        store = self.store
        stored = self.find(key)
        if stored is None:
            self.say("No live session has this stored id; nothing to revoke.")
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
        if store.destroy_id(stored.stored_id, user_id=stored.user_id, reason=REVOKE):
            self.say(f"Revoked {described(stored)}.")
        else:
            self.say("No live session has this stored id; nothing to revoke.")

    def revoke_user(
        self, user: User, *, keep: KeyArgument | None, dry_run: bool, interactive: bool
    ) -> None:
        store = self.store
        sessions_of_user = store.user_sessions(user.user_id)
        kept = None if keep is None else self.kept(sessions_of_user, keep, user)
        doomed = [stored for stored in sessions_of_user if stored.stored_id != kept]
        but = "" if kept is None else f", keeping {kept}"
        if not doomed:
            self.say(f"User {user.label} has no live session to revoke{but}.")
            return
        sessions = plural(len(doomed), "session")
        if dry_run:
            self.say(f"Would revoke {sessions} of user {user.label}{but}:")
            for stored in doomed:
                self.say(f"  {stored.stored_id}")
            return
        self.confirm(
            f"Revoke {sessions} of user {user.label}{but}?",
            interactive=interactive,
            nothing_done="nothing was revoked",
        )
        revoked = store.destroy_user_sessions(user.user_id, keep=kept, reason=REVOKE)
        self.say(f"Revoked {plural(revoked, 'session')} of user {user.label}{but}.")

    @staticmethod
    def kept(sessions: list[StoredSession], keep: KeyArgument, user: User) -> str:
        """The stored id of the session ``--except`` names: a whole one as it is,
        or that of the one session of the user whose stored id starts with it."""
        if not keep.partial:
            return keep.text
        matching = [stored for stored in sessions if stored.stored_id.startswith(keep.text)]
        if not matching:
            raise CommandError(
                f"--except {keep}: no live session of user {user.label} has a stored id that "
                f"starts with {keep.text!r}; sessions list --user-id {user.user_id} shows theirs."
            )
        if len(matching) > 1:
            raise CommandError(
                f"--except {keep}: {len(matching):,} live sessions of user {user.label} have "
                f"a stored id that starts with {keep.text!r}; type more of it."
            )
        return matching[0].stored_id
