"""The demo's pages: a visit counter, a form that writes into the session, a
look at the Redis hash behind the session, and two buttons that show what the
engine is for, through its real API:

* a save that loaded the session before a logout and saves after it is refused,
  and the session stays a tombstone;
* two requests that load the session at once and change different keys both
  keep their change.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from redis_sessions.session import SessionStore
from redis_sessions.store import get_store
from redis_sessions.store.keys import stored_id

#: The session key of the visit counter.
VISITS = "visits"

#: The session keys the concurrent-changes button writes, one per request.
FIRST_CHANGE = "first_request"
SECOND_CHANGE = "second_request"
#: The session key the save replayed after a logout tries to write.
LATE_WRITE = "late_write"

#: What the engine's own hash fields hold; see redis_sessions.store.codec.
METADATA = {
    b"#c": "created (unix time)",
    b"#m": "last saved (unix time)",
    b"#u": "user id: _auth_user_id, stored as it is",
    b"#b": "_auth_user_backend, under a short name",
    b"#h": "_auth_user_hash, under a short name",
    b"#i": "expiry bound recorded in the user's session index (unix time)",
    b"#a": "the browser, as recorded at login (DEVICE_DETAILS)",
    b"#p": "the client's address (DEVICE_DETAILS)",
    b"#x": "tombstone: destroyed at (unix time)",
    b"#r": "tombstone: why the session ended (logout, cycle, admin, device, limit...)",
}
#: The fields whose value is a unix time, shown as a date too.
TIMES = {b"#c", b"#m", b"#i", b"#x"}

#: Units of readable_duration, largest first.
UNITS = [("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)]


def readable_duration(seconds: int) -> str:
    """A time to live for people, in its two largest units: ``2 weeks``, ``5 minutes``.

    Above an hour it is rounded to the minute, so that a TTL read a second
    after the save still reads ``2 weeks``, not ``1 week, 6 days``.
    """
    if seconds >= 3600:
        seconds = round(seconds / 60) * 60
    parts = []
    for name, size in UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
    return ", ".join(parts[:2]) or "0 seconds"


@dataclass(frozen=True)
class HashField:
    name: str
    value: str
    meaning: str
    #: The value as an aware datetime, for the fields that hold a unix time.
    when: datetime.datetime | None = None


def describe_field(name: bytes, raw: bytes) -> HashField:
    text_name = name.decode(errors="backslashreplace")
    if name in METADATA:
        meaning = METADATA[name]
    elif text_name.startswith("##"):
        meaning = f"session key {text_name[1:]!r}, escaped"
    else:
        meaning = f"session key {text_name!r}"
    # A leading NUL marks a value in the serializer's format; strings go in bare.
    if raw[:1] == b"\x00":
        value, meaning = raw[1:].decode(errors="backslashreplace"), f"{meaning}, JSON"
    else:
        value = raw.decode(errors="backslashreplace")
    when = None
    if name in TIMES and value.isdigit():
        when = datetime.datetime.fromtimestamp(int(value), tz=datetime.timezone.utc)
    return HashField(text_name, value, meaning, when)


def stored_hash(session_key: str) -> dict[str, Any]:
    """The session's hash as HGETALL returns it, described for the page, and its TTL."""
    store = get_store()
    redis_key = store.redis_key(session_key)
    # The engine's client never decodes responses: names and values are bytes.
    stored = cast("dict[bytes, bytes]", store.client.hgetall(redis_key))
    ttl = store.client.ttl(redis_key)
    return {
        # Redis knows the session by its stored id, never by its key.
        "redis_key": redis_key,
        "fields": [
            describe_field(name, stored[name])
            for name in sorted(stored, key=lambda name: (name not in METADATA, name))
        ],
        # TTL answers -2 for a missing key and -1 for a key without expiry.
        "expires_in": readable_duration(ttl) if ttl >= 0 else None,
    }


def existing_session_key(request: HttpRequest) -> str:
    """The request's session key, after saving the session if it is new."""
    session = request.session
    if session.session_key is None:
        session.save()
    session_key = session.session_key
    assert session_key is not None
    return session_key


class SessionValueForm(forms.Form):
    key = forms.CharField(max_length=40)
    value = forms.CharField(max_length=200, strip=False)

    def clean_key(self) -> str:
        key: str = self.cleaned_data["key"]
        if key.startswith("_"):
            # Django keeps the logged-in user under such keys.
            raise forms.ValidationError("Keys starting with '_' belong to Django.")
        if key == VISITS:
            raise forms.ValidationError(f"'{VISITS}' is the visit counter's.")
        return key


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    session = request.session
    session[VISITS] = session.get(VISITS, 0) + 1
    # Saved here, not only by the middleware after the view, so that the hash
    # shown below holds this very request's write. The middleware's save that
    # follows finds no field changed and merely refreshes the expiry.
    try:
        session.save()
    except UpdateError as exc:
        # Another request logged this session out meanwhile: answer as the
        # session middleware would, with a 400.
        raise SessionInterrupted(
            "The session was destroyed by another request before this one completed."
        ) from exc
    session_key = session.session_key
    assert session_key is not None
    return render(
        request,
        "demo/home.html",
        {
            "visits": session[VISITS],
            "stored_id": stored_id(session_key),
            **stored_hash(session_key),
            "form": SessionValueForm(),
        },
    )


@require_POST
def set_value(request: HttpRequest) -> HttpResponse:
    form = SessionValueForm(request.POST)
    if form.is_valid():
        key, value = form.cleaned_data["key"], form.cleaned_data["value"]
        request.session[key] = value
        messages.success(request, f"Stored {key!r} in the session.")
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return redirect("home")


@require_POST
def replay_after_logout(request: HttpRequest) -> HttpResponse:
    """Log out between an earlier request's load and its save, and show the save refused."""
    session_key = existing_session_key(request)
    username = request.user.get_username() if request.user.is_authenticated else None
    # The earlier request: another SessionStore of the same key, which loads
    # the session now, before the logout, as a request still in flight did.
    earlier = SessionStore(session_key)
    loaded = sorted(earlier.keys())
    # This request logs out: the engine destroys the session and leaves a tombstone.
    logout(request)
    # The earlier request finishes: it changes the session it loaded and saves.
    earlier[LATE_WRITE] = "written after the logout"
    try:
        earlier.save()
    except UpdateError as exc:
        refusal: str | None = f"{type(exc).__name__}: {exc}"
    else:
        refusal = None
    return render(
        request,
        "demo/replay.html",
        {
            "username": username,
            "stored_id": stored_id(session_key),
            "loaded": loaded,
            "late_write": LATE_WRITE,
            "refusal": refusal,
            **stored_hash(session_key),
        },
    )


@require_POST
def concurrent_changes(request: HttpRequest) -> HttpResponse:
    """Two loads of one session, then two saves of different keys: both are kept."""
    session_key = existing_session_key(request)
    at = timezone.localtime().strftime("%H:%M:%S")
    # Two requests in flight at once: both load the session before either saves.
    first, second = SessionStore(session_key), SessionStore(session_key)
    loaded = [sorted(first.keys()), sorted(second.keys())]
    first[FIRST_CHANGE] = f"set by the first request at {at}"
    second[SECOND_CHANGE] = f"set by the second request at {at}"
    first.save()
    # The second save does not know of the first one's change, and keeps it.
    second.save()
    now = SessionStore(session_key)
    return render(
        request,
        "demo/merge.html",
        {
            "stored_id": stored_id(session_key),
            "requests": [
                ("first", loaded[0], FIRST_CHANGE, first[FIRST_CHANGE]),
                ("second", loaded[1], SECOND_CHANGE, second[SECOND_CHANGE]),
            ],
            "kept": [(key, now.get(key)) for key in (FIRST_CHANGE, SECOND_CHANGE)],
            **stored_hash(session_key),
        },
    )
