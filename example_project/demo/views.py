"""The demo's pages: a visit counter, a form that writes into the session, and a
look at the Redis hash behind the session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from django import forms
from django.contrib import messages
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from redis_sessions.store import get_store
from redis_sessions.store.keys import abbreviated

#: The session key of the visit counter.
VISITS = "visits"

#: What the engine's own hash fields hold; see redis_sessions.store.codec.
METADATA = {
    b"#c": "created (unix time)",
    b"#m": "last saved (unix time)",
    b"#u": "user id: _auth_user_id, stored as it is",
    b"#b": "_auth_user_backend, under a short name",
    b"#h": "_auth_user_hash, under a short name",
    b"#i": "expiry bound recorded in the user's session index (unix time)",
    b"#x": "tombstone: destroyed at (unix time)",
}


@dataclass(frozen=True)
class HashField:
    name: str
    value: str
    meaning: str


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
    return HashField(text_name, value, meaning)


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
    store = get_store()
    redis_key = store.redis_key(session_key)
    # The engine's client never decodes responses: names and values are bytes.
    stored = cast("dict[bytes, bytes]", store.client.hgetall(redis_key))
    return render(
        request,
        "demo/home.html",
        {
            "visits": session[VISITS],
            "session_key": abbreviated(session_key),
            # The full key is a credential: it is not printed, not even to its owner.
            "redis_key": redis_key.replace(session_key, abbreviated(session_key)),
            "fields": [
                describe_field(name, stored[name])
                for name in sorted(stored, key=lambda name: (name not in METADATA, name))
            ],
            "ttl": store.client.ttl(redis_key),
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
