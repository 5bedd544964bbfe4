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

Naming sessions and users: a command takes a session as its whole key, or as
the first characters of its key, as the admin shows them (``4c253j`` or
``4c253j...``), when they name one live session (:func:`sessions_starting_with`
finds them); and a user as an id or a username (:func:`find_user`).
"""

from __future__ import annotations

import datetime
import json
import re
import sys
from argparse import ArgumentTypeError
from typing import Any, NamedTuple, TextIO

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils import timezone

from redis_sessions.exceptions import StoreUnavailable
from redis_sessions.store import Progress, Store, StoredSession, get_store
from redis_sessions.store.clients import describe
from redis_sessions.store.keys import STORED_ID_LENGTH, is_valid_session_key, stored_id
from redis_sessions.store.plans import Plans
from redis_sessions.store.steps import Plan, Scanned


def plain(text: str) -> str:
    """An OutputWrapper style that leaves the text alone (stderr is red otherwise)."""
    return text


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 key``, ``1,234 keys``."""
    word = singular if count == 1 else plural_form or singular + "s"
    return f"{count:,} {word}"


def timestamp(seconds: int) -> str:
    """A unix time in the site's time zone, to the second: ``2026-11-27 18:44:00``.

    The zone is Django's current one (``TIME_ZONE``), as the admin shows times;
    :func:`zone` names it.
    """
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def zone() -> str:
    """The name of the time zone :func:`timestamp` writes in."""
    return timezone.get_current_timezone_name()


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


#: A stored id, or its first characters as lists and the admin show them
#: (``HOR7L5...``), in either case.
_ID_START_RE = re.compile(r"([A-Za-z2-7]{1,32})(\.\.\.)?")


class KeyArgument(NamedTuple):
    """A session named on the command line, by its stored id or the start of one."""

    #: The stored id, or the characters it starts with.
    text: str
    #: Whether ``text`` is the start of a stored id rather than a whole one.
    partial: bool

    def __str__(self) -> str:
        return f"{self.text}..." if self.partial else self.text


def session_key_or_start(value: str) -> KeyArgument:
    """An argparse type: a session key, a stored id, or the start of a stored id.

    A session key (8 to 64 of ``[a-z0-9]``, as a cookie holds it) is digested
    on the spot into its stored id. Anything else of ``[A-Za-z2-7]`` is a
    stored id, whole at 32 characters (without ``...``), otherwise its start.
    """
    if is_valid_session_key(value):
        return KeyArgument(stored_id(value), partial=False)
    match = _ID_START_RE.fullmatch(value)
    if match is None:
        raise ArgumentTypeError(
            f"{value!r} is neither a session key (8 to 64 of a-z and 0-9) nor a stored id "
            "or its start (A-Z and 2-7, such as HOR7L5 or HOR7L5..., as lists and the "
            "admin show them)"
        )
    text, dots = match.groups()
    text = text.upper()
    return KeyArgument(text, partial=bool(dots) or len(text) < STORED_ID_LENGTH)


def _starting_with(plans: Plans, id_start: str) -> Plan[tuple[int, StoredSession | None]]:
    found: set[str] = set()
    first: StoredSession | None = None

    def each(batch: Scanned) -> Plan[None]:
        nonlocal first
        hashes = yield from plans.read(batch.keys)
        for key, fields in zip(batch.keys, hashes, strict=True):
            sid = plans.stored_id_of(key)
            stored = plans.stored(sid, fields, quiet=True)
            # SCAN may return a key twice: each session counts once.
            if stored is not None and sid not in found:
                found.add(sid)
                if first is None:
                    first = stored

    yield from plans.walk(plans.session_pattern(id_start), each, type_="HASH")
    return len(found), first


def sessions_starting_with(store: Store, id_start: str) -> tuple[int, StoredSession | None]:
    """How many live sessions have a stored id that starts with ``id_start``, and one of them.

    One SCAN pass over the prefix with ``MATCH``, each batch read in one more
    round trip (the walk of ``Store.count()``).
    """
    return store.run(_starting_with(store.plans, id_start))


class User(NamedTuple):
    """A user named on the command line."""

    #: The id their sessions carry.
    user_id: str
    #: How messages name them: ``42``, or ``42 (alice)`` for a user of the database.
    label: str


def find_user(query: str) -> User:
    """The user whose id or username (the user model's ``USERNAME_FIELD``) is ``query``.

    The username is matched exactly, or else in any case when that names one
    user. A query that is the id of one user and the username of another is
    ambiguous, and one that names no user is an error: ``CommandError`` says
    what to type instead. Raises ``DatabaseError`` when the database cannot be
    read; without ``django.contrib.auth`` there is no user model, and the
    query is the user id.
    """
    if not apps.is_installed("django.contrib.auth"):
        return User(query, query)
    user_model = get_user_model()
    manager = user_model._default_manager
    pk_field = user_model._meta.pk
    assert pk_field is not None
    by_id = None
    try:
        pk = pk_field.to_python(query)
    except ValidationError:
        pk = None  # not an id of this user model
    if pk is not None:
        by_id = manager.filter(pk=pk).first()
    username = user_model.USERNAME_FIELD
    try:
        by_name = manager.filter(**{username: query}).first()
        alike = [] if by_name else list(manager.filter(**{f"{username}__iexact": query})[:2])
    except (ValueError, ValidationError):
        by_name, alike = None, []  # not a value of this USERNAME_FIELD
    if len(alike) > 1:
        raise CommandError(
            f"{query!r} is the username of several users in different cases; "
            "type it as it is stored."
        )
    by_name = by_name or (alike[0] if alike else None)
    if by_id is None and by_name is None:
        raise CommandError(
            f"No such user: {query!r} is neither the id nor the username of a user. "
            f"For the sessions of a user id that has no user (a deleted user, say), "
            f"pass --user-id {query}."
        )
    if by_id is not None and by_name is not None and by_id.pk != by_name.pk:
        by_name_id = pk_field.value_to_string(by_name)
        raise CommandError(
            f"--user {query} is ambiguous: it is the id of user {by_id.get_username()!r} "
            f"and the username of user {by_name_id}. Pass --user-id {query} for the first, "
            f"or --user-id {by_name_id} for the second."
        )
    user = by_id or by_name
    assert user is not None
    # Sessions carry the id as Django's login stores it.
    user_id = pk_field.value_to_string(user)
    return User(user_id, f"{user_id} ({user.get_username()})")


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

    def user(self, query: str | None, user_id: str | None) -> User | None:
        """The user of ``--user QUERY`` (see :func:`find_user`), or of ``--user-id UID``.

        When the database cannot be read, a warning on stderr says so and
        ``QUERY`` is taken as a user id.
        """
        if user_id is not None:
            return User(user_id, user_id)
        if query is None:
            return None
        try:
            return find_user(query)
        except DatabaseError as exc:
            self.stderr.write(
                f"Could not look {query!r} up in the database ({type(exc).__name__}: {exc}); "
                "taking it as a user id.",
                style_func=plain,
            )
            return User(query, query)

    @staticmethod
    def add_user(parser: CommandParser, meaning: str) -> None:
        """``--user USER`` (an id or a username) and ``--user-id UID`` (an id as it is)."""
        which = parser.add_mutually_exclusive_group()
        which.add_argument(
            "--user",
            metavar="USER",
            help=f"{meaning} this user: a user id or a username.",
        )
        which.add_argument(
            "--user-id",
            metavar="UID",
            help=f"{meaning} this user id, as sessions carry it, without looking it up.",
        )

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
