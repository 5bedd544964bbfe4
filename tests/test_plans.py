"""The store's plans, without a server: what each operation sends, and what it makes of the replies.

Each test plays the server's part by hand: it answers each step a plan yields
with the reply a server would give, and looks at the steps and the result. The
rest of the suite runs the same plans on real servers and topologies.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.core.signing import JSONSerializer
from redis.exceptions import ResponseError

from redis_sessions.exceptions import SessionDestroyed, SessionTooLarge
from redis_sessions.store import scripts
from redis_sessions.store.codec import FieldCodec
from redis_sessions.store.drivers import Position
from redis_sessions.store.ended import Ended
from redis_sessions.store.keys import abbreviated, stored_id
from redis_sessions.store.plans import Plans, StoredSession
from redis_sessions.store.steps import START, Command, Plan, Round, Scan, Scanned, ScriptCall

KEY = "k" * 32
SID = stored_id(KEY)
REDIS_KEY = "sessions:{" + SID + "}"
WRONGTYPE = ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")


def plans(
    *,
    user_index: bool = False,
    cluster: bool = False,
    scan_count: int = 3,
    absolute_ttl: int | None = None,
    max_bytes: int | None = None,
) -> Plans:
    return Plans(
        prefix="sessions:",
        codec=FieldCodec(JSONSerializer),
        tombstone_ttl=300,
        scan_count=scan_count,
        user_index=user_index,
        cluster=cluster,
        absolute_ttl=absolute_ttl,
        max_bytes=max_bytes,
    )


class Played:
    """A plan run against replies given by hand."""

    def __init__(self, plan: Plan[Any], *replies: Any) -> None:
        self.steps: list[Round | Scan] = []
        self.result: Any = None
        answers: Iterator[Any] = iter(replies)
        reply: Any = None
        try:
            while True:
                self.steps.append(plan.send(reply))
                reply = next(answers)
        except StopIteration as stop:
            self.result = stop.value

    @property
    def rounds(self) -> list[Round]:
        return [step for step in self.steps if isinstance(step, Round)]


def hash_of(**fields: bytes) -> dict[bytes, bytes]:
    return {name.replace("_", "#", 1).encode(): value for name, value in fields.items()}


# load


def test_a_load_is_one_hgetall_that_tolerates_a_key_of_another_type() -> None:
    played = Played(plans().load(KEY), [{}])

    assert played.steps == [
        Round([Command(("HGETALL", REDIS_KEY))], "load a session", tolerant=True)
    ]
    assert played.result is None


def test_a_loaded_hash_gives_the_session_its_user_and_times() -> None:
    fields = {b"#c": b"100", b"#m": b"200", b"#u": b"42", b"theme": b"dark"}

    played = Played(plans().load(KEY), [fields])

    assert played.result == StoredSession(
        SID, {"_auth_user_id": "42", "theme": "dark"}, "42", 100, 200, fields
    )


def test_a_session_never_saved_since_its_creation_was_saved_when_created() -> None:
    played = Played(plans().load(KEY), [{b"#c": b"100"}])

    assert played.result.saved == 100


def test_a_tombstone_loads_as_nothing_and_is_logged_without_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, "redis_sessions"):
        played = Played(plans().load(KEY), [{b"#x": b"100"}])

    assert played.result is None
    assert caplog.messages == [
        f"Session {abbreviated(SID)} was presented after it was destroyed; it loads empty."
    ]
    assert KEY[:4] not in caplog.text


def test_a_presented_tombstone_says_who_had_the_session_when_and_why_it_ended() -> None:
    tombstone = {b"#x": b"100", b"#r": b"logout", b"#u": b"42"}

    played = Played(plans().presented(KEY), [tombstone])

    assert played.result == Ended(stored_id(KEY), "42", 100, "logout")


def test_a_presented_tombstone_of_an_anonymous_session_has_no_user() -> None:
    played = Played(plans().presented(KEY), [{b"#x": b"100", b"#r": b"cycle"}])

    assert played.result == Ended(stored_id(KEY), None, 100, "cycle")


def test_a_presented_tombstone_without_a_reason_has_none() -> None:
    played = Played(plans().presented(KEY), [{b"#x": b"100"}])

    assert played.result == Ended(stored_id(KEY), None, 100, None)


def test_a_presented_live_session_is_the_stored_session() -> None:
    played = Played(plans().presented(KEY), [{b"#c": b"100", b"theme": b"dark"}])

    assert isinstance(played.result, StoredSession)


@pytest.mark.parametrize(
    "reply",
    [WRONGTYPE, {b"theme": b"dark"}, {b"#c": b"soon"}, {b"#c": b"1", b"x": b"\x00{"}],
    ids=["another type", "no creation time", "a bad creation time", "a bad value"],
)
def test_a_key_this_engine_did_not_write_loads_as_nothing_and_is_reported(
    reply: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "django.security.SuspiciousSession"):
        played = Played(plans().load(KEY), [reply])

    assert played.result is None
    assert len(caplog.records) == 1
    assert caplog.records[0].name == "django.security.SuspiciousSession"


# exists


@pytest.mark.parametrize(("reply", "found"), [(1, True), (0, False), (WRONGTYPE, False)])
def test_exists_is_one_hexists_of_the_creation_time(reply: Any, found: bool) -> None:
    played = Played(plans().exists(KEY), [reply])

    assert played.steps == [
        Round([Command(("HEXISTS", REDIS_KEY, b"#c"))], "look a session up", tolerant=True)
    ]
    assert played.result is found


# create


def test_a_create_is_one_acked_script_call_with_the_fields() -> None:
    played = Played(plans().create(KEY, {"theme": "dark"}, 60), [1])

    ((call,),) = [round_.steps for round_ in played.rounds]
    assert played.rounds[0].acked
    assert isinstance(call, ScriptCall)
    assert (call.script, call.keys) == (scripts.CREATE, [REDIS_KEY])
    assert call.args[0] == 60
    assert call.args[1] == call.args[2]  # created now
    assert call.args[3:] == [b"theme", b"dark"]
    assert played.result == {b"theme": b"dark"}


def test_a_create_refused_by_the_script_raises_create_error() -> None:
    with pytest.raises(CreateError):
        Played(plans().create(KEY, {"a": 1}, 60), [0])


def test_a_create_whose_ttl_is_over_sends_nothing() -> None:
    played = Played(plans().create(KEY, {"a": 1}, 0))

    assert played.steps == []
    assert played.result == {b"a": b"\x001"}


def test_on_one_server_the_create_script_also_keeps_the_user_index() -> None:
    played = Played(plans(user_index=True).create(KEY, {"_auth_user_id": "42"}, 60), [1])

    ((call,),) = [round_.steps for round_ in played.rounds]
    assert isinstance(call, ScriptCall)
    assert call.keys == [REDIS_KEY, "sessions:user:{42}"]
    assert call.args[-2] == SID


def test_on_a_cluster_the_user_index_is_a_second_call_in_the_same_round() -> None:
    played = Played(
        plans(user_index=True, cluster=True).create(KEY, {"_auth_user_id": "42"}, 60), [1, 0]
    )

    (round_,) = played.rounds
    assert [step.script for step in round_.steps] == [scripts.CREATE, scripts.INDEX]  # type: ignore[union-attr]
    assert round_.steps[1].keys == ["sessions:user:{42}"]  # type: ignore[union-attr]


# save


def test_a_save_sends_only_what_changed_since_the_snapshot() -> None:
    snapshot = {b"#c": b"1", b"theme": b"dark", b"cart": b"\x00[1]", b"gone": b"x"}

    played = Played(
        plans().save(KEY, {"theme": "dark", "cart": [1, 2]}, 60, snapshot=snapshot), [1]
    )

    ((call,),) = [round_.steps for round_ in played.rounds]
    assert isinstance(call, ScriptCall)
    ttl, replace, _now, lifetime, pairs, *rest = call.args
    assert (ttl, replace, lifetime, pairs) == (60, "0", 0, 1)
    assert rest == [b"cart", b"\x00[1,2]", b"gone"]


def test_a_save_after_clear_replaces_every_field() -> None:
    played = Played(plans().save(KEY, {"a": "b"}, 60, snapshot={b"x": b"y"}, replace=True), [1])

    ((call,),) = [round_.steps for round_ in played.rounds]
    assert isinstance(call, ScriptCall)
    assert call.args[1] == "1"
    assert call.args[4:] == [1, b"a", b"b"]


def test_a_save_into_a_destroyed_session_raises_session_destroyed() -> None:
    with pytest.raises(SessionDestroyed):
        Played(plans().save(KEY, {"a": 1}, 60), [-1])


def test_a_save_into_no_session_raises_update_error() -> None:
    with pytest.raises(UpdateError) as raised:
        Played(plans().save(KEY, {"a": 1}, 60), [0])

    assert not isinstance(raised.value, SessionDestroyed)


# destroy, cycle, touch, set


@pytest.mark.parametrize(("reply", "was_live"), [(1, True), (0, False)])
def test_a_destroy_tells_whether_a_live_session_was_there(reply: int, was_live: bool) -> None:
    played = Played(plans().destroy(KEY), [reply])

    ((call,),) = [round_.steps for round_ in played.rounds]
    assert isinstance(call, ScriptCall)
    assert (call.script, call.args[0]) == (scripts.DESTROY, 300)
    assert played.result is was_live


def test_a_destroy_gives_its_reason_to_the_script_revoke_unless_told() -> None:
    (default,) = Played(plans().destroy(KEY), [1]).rounds[0].steps
    (logout,) = Played(plans().destroy(KEY, reason="logout"), [1]).rounds[0].steps

    assert isinstance(default, ScriptCall)
    assert isinstance(logout, ScriptCall)
    assert (default.args[3], logout.args[3]) == ("revoke", "logout")


@pytest.mark.parametrize("reason", ["", "Logout", "a reason", "r" * 17, "9lives"])
def test_a_destroy_refuses_a_reason_that_is_not_a_short_code(reason: str) -> None:
    with pytest.raises(ValueError, match="reason"):
        Played(plans().destroy(KEY, reason=reason), [1])
    with pytest.raises(ValueError, match="reason"):
        Played(plans().destroy_user_sessions("42", reason=reason), [[KEY.encode()]])


def test_a_cycle_destroys_the_old_key_for_the_reason_cycle() -> None:
    played = Played(plans().cycle(KEY, "n" * 32, {"a": 1}, 60), [1, 1])

    destroy = played.rounds[0].steps[1]
    assert isinstance(destroy, ScriptCall)
    assert destroy.args[3] == "cycle"


def test_a_cycle_creates_then_destroys_in_one_round() -> None:
    played = Played(plans().cycle(KEY, "n" * 32, {"a": 1}, 60), [1, 1])

    (round_,) = played.rounds
    assert [step.script for step in round_.steps] == [scripts.CREATE, scripts.DESTROY]  # type: ignore[union-attr]


def test_a_cycle_to_a_taken_key_raises_create_error() -> None:
    with pytest.raises(CreateError):
        Played(plans().cycle(KEY, "n" * 32, {"a": 1}, 60), [0, 1])


def test_a_touch_that_must_move_the_index_entry_sends_a_second_round() -> None:
    played = Played(plans(user_index=True).touch(KEY, 60), [b"42"], [0])

    assert [round_.action for round_ in played.rounds] == [
        "touch a session",
        "update a user's session index",
    ]
    assert played.result is True


def test_a_touch_needs_a_ttl_above_zero() -> None:
    with pytest.raises(ValueError, match="use destroy"):
        Played(plans().touch(KEY, 0))


def test_a_set_of_a_missing_session_creates_it() -> None:
    played = Played(plans().set(KEY, {"a": 1}, 60), [0], [1])

    assert [round_.action for round_ in played.rounds] == ["save a session", "create a session"]


def test_a_set_never_brings_a_destroyed_session_back() -> None:
    with pytest.raises(SessionDestroyed):
        Played(plans().set(KEY, {"a": 1}, 60), [-1])


# many sessions


def test_a_walk_cuts_what_scan_finds_into_batches_of_scan_count() -> None:
    keys = [b"sessions:{%d}" % n for n in range(7)]
    progress: list[int] = []

    played = Played(
        plans(scan_count=3).count(progress=progress.append),
        Scanned(keys[:2], "5"),
        Scanned(keys[2:6], "9"),
        [3],
        [2],
        Scanned(keys[6:], START),
        [1],
    )

    scans = [step for step in played.steps if isinstance(step, Scan)]
    assert [scan.cursor for scan in scans] == [START, "5", "9"]
    assert [len(round_.steps[0].args) for round_ in played.rounds] == [3, 3, 1]
    assert progress == [3, 6, 7]
    assert played.result == 6


def test_a_walk_never_mixes_keys_of_two_cluster_nodes_in_a_batch() -> None:
    progress: list[int] = []

    played = Played(
        plans(scan_count=3).count(progress=progress.append),
        Scanned([b"sessions:{a}"], "1.0", node="primary-1"),
        Scanned([b"sessions:{b}"], START, node="primary-2"),
        [1],
        [1],
    )

    assert [round_.steps[0].node for round_ in played.rounds] == ["primary-1", "primary-2"]  # type: ignore[union-attr]
    assert progress == [1, 2]


def test_clear_deletes_only_keys_of_the_engines_shapes() -> None:
    keys = [b"sessions:{a}", b"sessions:user:{42}", b"sessions:other", b"sessions:{b"]

    played = Played(plans(scan_count=10).clear(), Scanned(keys, START), [2])

    ((call,),) = [round_.steps for round_ in played.rounds]
    assert isinstance(call, ScriptCall)
    assert call.args == [b"sessions:{a}", b"sessions:user:{42}"]
    assert played.result == 2


def test_a_dry_run_of_clear_sends_nothing_but_scans() -> None:
    played = Played(plans().clear(dry_run=True), Scanned([b"sessions:{a}"], START))

    assert played.rounds == []
    assert played.result == 1


def test_user_sessions_drop_index_entries_of_sessions_that_are_no_longer_theirs() -> None:
    mine = {b"#c": b"2", b"#u": b"42"}
    theirs = {b"#c": b"1", b"#u": b"7"}

    played = Played(
        plans(user_index=True).user_sessions("42"),
        [[b"A" * 32, b"B" * 32, b"C" * 32]],
        [mine, theirs, None],
        [2],
    )

    reads = played.rounds[1].steps
    assert [step.args for step in reads] == [
        ("HGETALL", f"sessions:{{{letter * 32}}}") for letter in "ABC"
    ]
    assert [stored.stored_id for stored in played.result] == ["A" * 32]
    prune = played.rounds[-1].steps[0]
    assert isinstance(prune, ScriptCall)
    assert prune.args[-2:] == ["B" * 32, "C" * 32]


def test_ttls_read_no_expiry_as_none_and_a_missing_key_as_zero() -> None:
    played = Played(plans().ttls(["A" * 32, "B" * 32, "C" * 32]), [60, -1, -2])

    assert played.result == [60, None, 0]


# cursors


@pytest.mark.parametrize(("text", "position"), [("0", (0, 0)), ("17", (0, 17)), ("2.5", (2, 5))])
def test_a_cursor_names_the_primary_and_scans_cursor(text: str, position: tuple[int, int]) -> None:
    assert Position.parse(text) == position
    assert str(Position.parse(text)) == text


@pytest.mark.parametrize("text", ["", "x", "-1", "1.", ".1", "1.2.3", "\u0661"])
def test_a_cursor_that_no_walk_gave_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a cursor"):
        Position.parse(text)


def test_a_walk_goes_on_to_the_next_primary_and_ends_after_the_last() -> None:
    assert Position(0, 0).after(12, 3) == "12"
    assert Position(0, 12).after(0, 3) == "1.0"
    assert Position(2, 4).after(0, 3) == START


# limits


def test_a_session_above_max_bytes_raises_before_any_round() -> None:
    for plan in (
        plans(max_bytes=10).create(KEY, {"notes": "n" * 10}, 60),
        plans(max_bytes=10).save(KEY, {"notes": "n" * 10}, 60),
        plans(max_bytes=10).cycle(KEY, "n" * 32, {"notes": "n" * 10}, 60),
    ):
        with pytest.raises(SessionTooLarge) as raised:
            next(plan)

        assert str(raised.value) == (
            "The session would take 15 bytes, more than MAX_SESSION_BYTES (10); its largest "
            "keys: 'notes' (15 bytes). Nothing was saved."
        )


def test_the_absolute_lifetime_caps_a_create_and_rides_with_saves_and_touches() -> None:
    now = int(time.time())
    create = Played(plans(absolute_ttl=30).create(KEY, {"a": 1}, 60), [1])
    kept = Played(plans(absolute_ttl=30).cycle(KEY, "n" * 32, {}, 60, created=now - 25), [1, 1])
    over = Played(plans(absolute_ttl=30).cycle(KEY, "n" * 32, {}, 60, created=now - 30), [1])
    save = Played(plans(absolute_ttl=30).save(KEY, {"a": 1}, 60), [1])
    touch = Played(plans(absolute_ttl=30).touch(KEY, 60), [1])

    assert create.rounds[0].steps[0].args[0] == 30
    assert kept.rounds[0].steps[0].args[0] in (4, 5)
    assert kept.rounds[0].steps[0].args[2] == now - 25
    assert [step.script for step in over.rounds[0].steps] == [scripts.DESTROY]  # type: ignore[union-attr]
    assert save.rounds[0].steps[0].args[3] == 30
    assert touch.rounds[0].steps[0].args[-1] == 30


def test_a_stored_session_past_its_absolute_lifetime_is_none() -> None:
    now = int(time.time())

    assert plans(absolute_ttl=30).stored(KEY, {b"#c": str(now - 30).encode()}) is None
    assert plans(absolute_ttl=30).stored(KEY, {b"#c": str(now - 28).encode()}) is not None
    assert plans().stored(KEY, {b"#c": b"1"}) is not None
