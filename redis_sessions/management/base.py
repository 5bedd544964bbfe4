"""What the engine's management commands share.

Errors: a Redis that cannot be reached (or refuses) raises
:class:`~redis_sessions.exceptions.StoreUnavailable`; the commands turn it into
a ``CommandError`` with the same one-line message, so ``manage.py`` exits with
status 1 and no traceback.

Progress: bulk scans report the keys scanned so far on stderr every
:attr:`SessionsCommand.progress_every` batches, when stderr is a terminal (but
not at ``--verbosity 0``) or with ``--verbosity 2``; otherwise stderr stays
quiet, so that output captured by cron or a test is the same every time.

Confirmation: destructive commands ask on stderr and read the answer from
stdin, go ahead without asking with ``--no-input``, and refuse to go ahead
when stdin is not a terminal and ``--no-input`` was not given: a cron job or a
pipe must say that it means it.
"""

from __future__ import annotations

import datetime
import json
import sys
from argparse import ArgumentTypeError
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from redis_sessions.exceptions import StoreUnavailable
from redis_sessions.store import Progress, Store, get_store
from redis_sessions.store.clients import describe
from redis_sessions.store.keys import is_valid_session_key


def plain(text: str) -> str:
    """An OutputWrapper style that leaves the text alone (stderr is red otherwise)."""
    return text


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 key``, ``1,234 keys``."""
    word = singular if count == 1 else plural_form or singular + "s"
    return f"{count:,} {word}"


def timestamp(seconds: int) -> str:
    """A unix time as UTC, to the second: ``2026-11-27 18:44:00``."""
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: int | None) -> str:
    """A time to live in the two largest units: ``13d 23h``, ``4h 5m``, ``59s``.

    Rounded down, as Redis' ``TTL`` is; ``never`` for a key without expiry.
    """
    if seconds is None:
        return "never"
    days, rest = divmod(max(seconds, 0), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {seconds}s"
    return f"{seconds}s"


def size(count: float) -> str:
    """A number of bytes for people: ``406 B``, ``1.5 MiB``."""
    unit = "B"
    for larger in ("KiB", "MiB", "GiB"):
        if count < 1024:
            break
        count /= 1024
        unit = larger
    return f"{count:,.0f} B" if unit == "B" else f"{count:,.1f} {unit}"


def session_key(value: str) -> str:
    """An argparse type: a session key as the engine accepts it."""
    if not is_valid_session_key(value):
        raise ArgumentTypeError(f"{value!r} is not a session key (8 to 64 of a-z and 0-9)")
    return value


def _whole_number(value: str, least: int, meaning: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = least - 1
    if number < least:
        raise ArgumentTypeError(f"{value!r} is not {meaning}")
    return number


def positive(value: str) -> int:
    """An argparse type: a whole number above zero."""
    return _whole_number(value, 1, "a whole number above zero")


def not_negative(value: str) -> int:
    """An argparse type: a whole number, zero or more."""
    return _whole_number(value, 0, "a whole number, zero or more")


class SessionsCommand(BaseCommand):
    """A command on the engine's sessions, through :func:`get_store`."""

    #: Report progress every this many SCAN batches (of ``SCAN_COUNT`` keys).
    progress_every = 100

    # Tests hand a terminal of their own to the confirmation prompt.
    stealth_options = ("stdin",)

    stdin: TextIO
    verbosity: int

    def execute(self, *args: Any, **options: Any) -> str | None:
        self.stdin = options.get("stdin") or sys.stdin
        self.verbosity = options["verbosity"]
        try:
            return super().execute(*args, **options)
        except StoreUnavailable as exc:
            raise CommandError(str(exc)) from exc

    @property
    def store(self) -> Store:
        return get_store()

    def where(self) -> str:
        """The prefix and server the commands work on, for messages and prompts."""
        store = self.store
        return f"{store.prefix!r} on {describe(store.client)}"

    @staticmethod
    def add_json(parser: CommandParser) -> None:
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print JSON for programs (its keys are in the manual) instead of text.",
        )

    @staticmethod
    def add_destructive(parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say what would be done, and do nothing.",
        )
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation (needed when stdin is not a terminal).",
        )

    def write_json(self, payload: Any) -> None:
        # A value that JSON cannot hold (in a session stored with another
        # serializer) is shown as its repr rather than failing the command.
        self.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False, default=repr))

    def say(self, message: str) -> None:
        """Write a message for people, unless ``--verbosity 0``."""
        if self.verbosity >= 1:
            self.stdout.write(message)

    def progress(self, doing: str) -> Progress | None:
        """A progress callback for a bulk scan, or None when nobody would read it.

        Progress shows at ``--verbosity 2`` and up, and on a terminal unless
        ``--verbosity 0`` asked for quiet.
        """
        if not (self.verbosity >= 2 or (self.verbosity >= 1 and self.stderr.isatty())):
            return None
        batches = 0

        def report(scanned: int) -> None:
            nonlocal batches
            batches += 1
            if batches % self.progress_every == 0:
                self.stderr.write(f"{doing}: {scanned:,} keys scanned so far.", style_func=plain)

        return report

    def confirm(self, question: str, *, interactive: bool, nothing_done: str) -> None:
        """Ask ``question`` on the terminal; raise ``CommandError`` unless the answer is yes."""
        if not interactive:
            return
        if not self.stdin.isatty():
            raise CommandError(
                "Refusing to go on without confirmation: stdin is not a terminal. "
                "Pass --no-input to go on."
            )
        self.stderr.write(
            f"{question} Type 'yes' to continue, or 'no' to cancel: ", style_func=plain, ending=""
        )
        self.stderr.flush()
        if self.stdin.readline().strip().lower() != "yes":
            raise CommandError(f"Cancelled; {nothing_done}.")
