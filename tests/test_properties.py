"""Properties that hold for any input, checked with Hypothesis on a real server.

test_hostile_input.py picks its hostile cookies and corrupt values by hand;
these tests draw them:

* any cookie value never makes the engine name a Redis key outside ``PREFIX``,
  and never raises anything but the documented errors;
* any session made of JSON values round-trips exactly;
* any value that something else stored at a session's key loads as an empty
  session, with a warning, and is left as it is.

Each test talks to the server, so examples are few and have no deadline. The
fixtures they use are module-wide: nothing in them changes from one example
to the next, and each example cleans up what it wrote.
"""

from __future__ import annotations

import logging
import math
import string
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.core.exceptions import SuspiciousOperation
from django.core.signing import JSONSerializer
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from redis_sessions.exceptions import RedisSessionsError
from redis_sessions.session import SessionStore
from redis_sessions.store import get_store, scripts

#: What the engine may raise on any input (docs/failures.rst): Django's
#: ``SuspiciousOperation`` family and ``UpdateError``/``SessionInterrupted``,
#: and the package's own exceptions.
DOCUMENTED_ERRORS = (SuspiciousOperation, UpdateError, SessionInterrupted, RedisSessionsError)

#: Few examples, no deadline: every example makes round trips to a server.
server_examples = settings(max_examples=60, deadline=None)


@pytest.fixture(scope="module")
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the engine's server, shared by every example of the module."""
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


def prefix() -> str:
    return get_store().prefix


# Cookies


@dataclass
class KeysSeen:
    """Every Redis key named by the commands that the server ran, scripts' included."""

    keys: list[str] = field(default_factory=list)
    unparsed: list[str] = field(default_factory=list)


#: Commands that name no key, as the server reports them.
KEYLESS = {"ECHO", "PING", "MULTI", "EXEC", "DISCARD", "WAIT", "SCRIPT", "CLIENT", "HELLO"}
KEYLESS |= {"SELECT", "AUTH", "INFO", "TIME", "READONLY", "CLUSTER", "COMMAND"}


@pytest.fixture(scope="module")
def keys_seen(
    redis_url: str, client: redis.Redis
) -> Iterator[Callable[[], AbstractContextManager[KeysSeen]]]:
    """A context that records, with MONITOR, the keys named inside it.

    The keys of a command are what the server's ``COMMAND GETKEYS`` says they
    are; MONITOR quotes each argument, and the arguments the engine sends
    around keys hold no spaces, so splitting a logged command on spaces gives
    its arguments back.
    """
    watcher = redis.Redis.from_url(redis_url)
    for script in scripts.ALL:
        client.script_load(script.source)

    @contextmanager
    def record() -> Iterator[KeysSeen]:
        seen = KeysSeen()
        commands: list[str] = []
        with watcher.monitor() as monitor:  # type: ignore[no-untyped-call]
            client.echo("keys-seen-start")
            while "keys-seen-start" not in monitor.next_command()["command"]:
                pass
            yield seen
            client.echo("keys-seen-end")
            while "keys-seen-end" not in (entry := monitor.next_command())["command"]:
                commands.append(entry["command"])
        for command in commands:
            arguments = command.split(" ")
            try:
                seen.keys.extend(
                    key.decode() if isinstance(key, bytes) else key
                    for key in client.command_getkeys(*arguments)
                )
            except redis.ResponseError:
                if arguments[0].upper() not in KEYLESS:
                    seen.unparsed.append(command)

    yield record
    watcher.close()


#: Characters that mean something to Redis' globs, hash tags, the protocol or
#: a shell, with letters and digits around them.
SPECIAL = "*?[]{}\\^-!:/. \t\r\n\x00\x7f\"';=,"

cookies = st.one_of(
    st.text(),
    st.binary().map(lambda raw: raw.decode("latin-1")),
    st.text(alphabet=SPECIAL + string.ascii_lowercase + string.digits),
    # The shape of a session key, which is sent to Redis: a key nobody has.
    st.from_regex(r"[a-z0-9]{8,64}", fullmatch=True),
    # The shape of a session key, with one character that is not.
    st.builds(
        lambda head, odd, tail: head + odd + tail,
        st.from_regex(r"[a-z0-9]{4,40}", fullmatch=True),
        st.sampled_from(SPECIAL + string.ascii_uppercase + "é\u2028\U0001f511"),
        st.from_regex(r"[a-z0-9]{4,40}", fullmatch=True),
    ),
    # Too long, from just too long to far too long.
    st.integers(min_value=65, max_value=100_000).map(lambda length: "a" * length),
    st.text(alphabet="ab1*{}", min_size=65, max_size=5000),
)


def assert_inside_prefix(seen: KeysSeen) -> None:
    assert seen.unparsed == []
    assert [key for key in seen.keys if not key.startswith(prefix())] == []


def assert_every_stored_key_inside_prefix(client: redis.Redis) -> None:
    stored = [key.decode() for key in client.scan_iter(count=1000)]
    assert [key for key in stored if not key.startswith(prefix())] == []


def run_documented(operation: Callable[[], object]) -> None:
    """Run ``operation``; an error it raises must be one of the documented ones."""
    with suppress(*DOCUMENTED_ERRORS):
        operation()


@server_examples
@given(cookie=cookies)
def test_no_cookie_makes_the_engine_name_a_key_outside_its_prefix(
    cookie: str, keys_seen: Any, client: redis.Redis
) -> None:
    with keys_seen() as seen:
        session = SessionStore(cookie)
        run_documented(session.load)
        run_documented(lambda: session.exists(cookie))
        run_documented(lambda: session.delete(cookie))

        session = SessionStore(cookie)
        session["a"] = 1
        run_documented(session.save)

        session = SessionStore(cookie)
        run_documented(session.cycle_key)
        run_documented(session.delete)

    assert_inside_prefix(seen)
    assert_every_stored_key_inside_prefix(client)


@server_examples
@given(cookie=cookies)
def test_no_cookie_gets_past_the_engine_but_as_an_unknown_session(cookie: str) -> None:
    session = SessionStore(cookie)

    assert session.load() == {}
    assert session.exists(cookie) is False
    session.delete(cookie)
    session["a"] = 1
    session.save()

    assert session.session_key != cookie
    assert SessionStore(session.session_key).load() == {"a": 1}
    session.delete()


#: Cookies as a WSGI server hands them to Django: latin-1 text.
latin1_cookies = st.one_of(
    st.binary().map(lambda raw: raw.decode("latin-1")),
    st.text(alphabet=st.characters(max_codepoint=255)),
    cookies.filter(lambda cookie: all(ord(char) < 256 for char in cookie)),
)


@server_examples
@given(cookie=latin1_cookies)
def test_a_request_with_any_cookie_gets_a_fresh_session(
    cookie: str, keys_seen: Any, client: redis.Redis
) -> None:
    browser = Client()
    browser.cookies[django_settings.SESSION_COOKIE_NAME] = cookie

    with keys_seen() as seen:
        response = browser.get("/counter/")

    assert response.status_code == 200
    assert response.json() == {"count": 1}
    new_key = response.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert new_key != cookie
    assert_inside_prefix(seen)
    assert_every_stored_key_inside_prefix(client)
    SessionStore(new_key).delete()


def test_the_recorder_sees_every_key_named_scripts_included(
    keys_seen: Any, client: redis.Redis
) -> None:
    session = SessionStore()
    session["a"] = 1
    with keys_seen() as seen:
        session.save()
        session.cycle_key()
        client.get("elsewhere")

    assert session.session_key is not None
    assert get_store().redis_key(session.session_key) in seen.keys
    assert "elsewhere" in seen.keys
    assert seen.unparsed == []


# JSON round trips
#
# "JSON" here is what Django's default JSONSerializer writes and reads back:
# None, booleans, ints of any size, floats (infinities included; NaN is left
# out only because it is not equal to itself), any text (NUL and lone
# surrogates included), lists, and dicts with text keys. Tuples are not
# drawn: JSON has no tuples, and they come back as lists.
#
# One thing the serializer itself does not keep: a high surrogate followed by
# a low one, two code points in a Python str, comes back from JSON as the one
# character the pair encodes. The round trip is drawn from the sessions that
# Django's JSONSerializer alone gives back exactly, and a test of its own shows
# that the engine gives back, for the others, what the serializer does.
#
# A session key itself (a top-level key) must be valid text: one with a lone
# surrogate has no UTF-8 form, and saving it raises TypeError (tested below).


def is_valid_text(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**200) | st.integers(max_value=-(2**63)),
    st.floats(allow_nan=False),
    st.text(),
    st.text(alphabet='#\x00\ud800\udfff"{}[]: ab'),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
#: Keys that the codec treats apart: its own field names, with and without a
#: "#" in front, the keys Django's auth stores under short names, NUL, empty.
special_session_keys = st.sampled_from(
    [
        *("", "#", "#c", "#m", "#u", "#x", "##c", "###", "\x00", "#\x00", "a b", "\u2028"),
        *("_auth_user_id", "_auth_user_backend", "_auth_user_hash", "_session_expiry"),
    ]
)
session_keys = st.one_of(special_session_keys, st.text().filter(is_valid_text))
any_sessions = st.dictionaries(session_keys, json_values, max_size=8)


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down: ``1``, ``1.0`` and ``True``
    differ, and so do ``0.0`` and ``-0.0``."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


def without_expiry(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with a ``_session_expiry`` that ``get_expiry_age()`` can read, if any.

    Django reads that key to set the session's lifetime; a value it cannot
    read makes ``save()`` fail in Django's own code, whatever the engine.
    """
    if "_session_expiry" in data and not (
        type(data["_session_expiry"]) is int and 0 < data["_session_expiry"] < 10**8
    ):
        data = {**data, "_session_expiry": 3600}
    return data


def through_the_serializer(data: dict[str, Any]) -> Any:
    serializer = JSONSerializer()
    return serializer.loads(serializer.dumps(data))


sessions = any_sessions.map(without_expiry).filter(
    lambda data: same(through_the_serializer(data), data)
)


def saved(data: dict[str, Any]) -> str:
    session = SessionStore()
    session.update(data)
    session.save()
    assert session.session_key is not None
    return session.session_key


@server_examples
@given(data=sessions)
def test_any_json_session_round_trips_exactly(data: dict[str, Any]) -> None:
    key = saved(data)
    try:
        loaded = SessionStore(key).load()
    finally:
        SessionStore(key).delete()

    assert same(loaded, data), (loaded, data)


@server_examples
@given(first=sessions, second=sessions)
def test_any_json_session_saved_over_another_loads_as_the_last_saved(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    key = saved(first)
    try:
        session = SessionStore(key)
        for name in set(session.keys()) - set(second):
            del session[name]
        session.update(second)
        session.save()
        loaded = SessionStore(key).load()
    finally:
        SessionStore(key).delete()

    assert same(loaded, second), (loaded, second)


@server_examples
@given(
    data=st.dictionaries(
        session_keys,
        st.lists(
            st.text(max_size=3)
            | st.builds(
                "".join,
                st.tuples(
                    st.characters(min_codepoint=0xD800, max_codepoint=0xDBFF),
                    st.characters(min_codepoint=0xDC00, max_codepoint=0xDFFF),
                ),
            ),
            max_size=4,
        ).map("".join),
        min_size=1,
        max_size=3,
    ).map(without_expiry)
)
def test_any_text_loads_as_the_serializer_alone_gives_it_back(data: dict[str, Any]) -> None:
    key = saved(data)
    try:
        loaded = SessionStore(key).load()
    finally:
        SessionStore(key).delete()

    assert same(loaded, through_the_serializer(data)), (loaded, data)


@server_examples
@given(
    before=st.text(max_size=4),
    after=st.text(max_size=4),
    surrogate=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
)
def test_a_session_key_with_a_lone_surrogate_raises_type_error_and_saves_nothing(
    before: str, after: str, surrogate: str, client: redis.Redis
) -> None:
    session = SessionStore()
    session[before + surrogate + after] = 1

    with pytest.raises(TypeError, match="lone surrogate"):
        session.save()

    assert client.dbsize() == 0


# Values that something else stored at a session's key

valid_keys = st.from_regex(r"[a-z0-9]{8,64}", fullmatch=True)
some_bytes = st.binary(max_size=40)
#: Field names that are neither the engine's metadata nor an escaped key.
data_names = st.binary(min_size=1, max_size=12).filter(lambda name: name[:1] != b"#")
#: Values that decode as nothing: bytes that are never UTF-8, or a tagged value
#: that is no JSON.
undecodable = st.one_of(
    some_bytes.map(lambda tail: b"\xff" + tail),
    some_bytes.map(lambda tail: b"\x00\xff" + tail),
)
#: Created times that are no number.
not_numbers = some_bytes.map(lambda tail: b"x" + tail)


@dataclass
class Foreign:
    """A value of some type, written at a key by something other than the engine."""

    kind: str
    write: Callable[[redis.Redis, str], object]

    def __repr__(self) -> str:
        return f"<{self.kind}>"


def _string(value: bytes) -> Foreign:
    return Foreign("string", lambda client, key: client.set(key, value))


def _list(values: list[bytes]) -> Foreign:
    return Foreign("list", lambda client, key: client.rpush(key, *values))


def _set(values: list[bytes]) -> Foreign:
    return Foreign("set", lambda client, key: client.sadd(key, *values))


def _sorted_set(scores: dict[bytes, float]) -> Foreign:
    return Foreign("zset", lambda client, key: client.zadd(key, scores))


def _hash(kind: str, mapping: dict[Any, Any]) -> Foreign:
    return Foreign(kind, lambda client, key: client.hset(key, mapping=mapping))


def _stream(entries: list[dict[bytes, bytes]]) -> Foreign:
    def write(client: redis.Redis, key: str) -> None:
        for entry in entries:
            client.xadd(key, entry)  # type: ignore[arg-type]

    return Foreign("stream", write)


#: A strategy for each type of value, so that every type is drawn in every run.
FOREIGN_VALUES = {
    "string": some_bytes.map(_string),
    "list": st.lists(some_bytes, min_size=1, max_size=5).map(_list),
    "set": st.lists(some_bytes, min_size=1, max_size=5).map(_set),
    "zset": st.dictionaries(some_bytes, st.floats(allow_nan=False), min_size=1, max_size=5).map(
        _sorted_set
    ),
    "hash without #c": st.dictionaries(data_names, some_bytes, min_size=1, max_size=5).map(
        lambda mapping: _hash("hash without #c", mapping)
    ),
    # The engine's created time, and a field that does not decode.
    "hash with a garbage value": st.builds(
        lambda mapping, name, value: _hash(
            "hash with a garbage value", {b"#c": b"1", **mapping, name: value}
        ),
        st.dictionaries(data_names, st.text(max_size=8).map(str.encode), max_size=3),
        data_names,
        undecodable,
    ),
    "hash with a garbage #c": st.builds(
        lambda created, mapping: _hash("hash with a garbage #c", {**mapping, b"#c": created}),
        not_numbers,
        st.dictionaries(data_names, st.text(max_size=8).map(str.encode), max_size=3),
    ),
    "stream": st.lists(
        st.dictionaries(some_bytes, some_bytes, min_size=1, max_size=3), min_size=1, max_size=3
    ).map(_stream),
}


@contextmanager
def security_warnings() -> Iterator[list[logging.LogRecord]]:
    """The records logged on ``django.security.SuspiciousSession`` inside."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("django.security.SuspiciousSession")
    handler = Keep(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


@pytest.mark.parametrize("kind", FOREIGN_VALUES)
@settings(max_examples=15, deadline=None)
@given(session_key=valid_keys, data=st.data())
def test_any_foreign_value_loads_as_an_empty_session_with_a_warning_and_is_left_alone(
    kind: str, session_key: str, data: st.DataObject, client: redis.Redis
) -> None:
    foreign = data.draw(FOREIGN_VALUES[kind])
    redis_key = get_store().redis_key(session_key)
    foreign.write(client, redis_key)
    before = client.dump(redis_key)
    new_key = None
    try:
        with security_warnings() as warnings:
            session = SessionStore(session_key)
            loaded = session.load()
        session["a"] = 1
        session.save()
        new_key = session.session_key

        assert loaded == {}
        assert [record.levelno for record in warnings] == [logging.WARNING]
        assert session_key not in warnings[0].getMessage()
        assert new_key != session_key
        assert client.dump(redis_key) == before
        assert SessionStore(new_key).load() == {"a": 1}
    finally:
        client.delete(redis_key)
        if new_key is not None:
            SessionStore(new_key).delete()
