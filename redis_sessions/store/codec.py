"""How a session dict is laid out in a Redis hash.

One hash field per session key; the value of each is encoded on its own, so a
save can write only the fields that changed.

Field names:

* a session key that does not start with ``#`` is stored under its own name;
* a session key that starts with ``#`` is stored with one more ``#`` in front;
* a name with exactly one leading ``#`` is the engine's: ``#c`` (created, unix
  seconds), ``#m`` (last saved; a session not saved since its creation has
  none, and its created time stands for it), ``#u`` (the user id: ``_auth_user_id``, always
  stored as it is), ``#b`` and ``#h`` (``_auth_user_backend`` and
  ``_auth_user_hash``, under short names), ``#a`` and ``#p`` (a device's
  browser and address, ``_device_agent`` and ``_device_ip``), ``#i`` (the expiry bound recorded in
  the user's index), ``#x`` (a tombstone's time of destruction) and ``#r`` (a
  tombstone's reason: why the session ended). A tombstone holds ``#x``,
  ``#r`` and, when the session had a user, ``#u``.

Values: with Django's ``JSONSerializer`` (the default), a ``str`` that does not
start with a NUL byte is stored as its UTF-8 text, without JSON's quotes; any
other value (and a string with a lone surrogate, which has no UTF-8 form) is a
NUL byte followed by the serializer's output. Keeping strings
bare matters for memory: Redis keeps a small hash in its compact encoding only
while every value is at most 64 bytes, and ``_auth_user_hash``, present in every
logged-in session, is 64 characters, or 66 once JSON-quoted. With any other
serializer every value goes through the serializer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from django.core.signing import JSONSerializer

CREATED = b"#c"
SAVED = b"#m"
USER_ID = b"#u"
BACKEND = b"#b"
AUTH_HASH = b"#h"
AGENT = b"#a"
CLIENT_IP = b"#p"
DESTROYED = b"#x"
REASON = b"#r"
INDEXED = b"#i"

#: The session key whose value Django's auth stores the user id under.
AUTH_USER_ID_KEY = "_auth_user_id"

#: Short names for the keys Django's auth puts in every logged-in session, when
#: their values are strings, as Django makes them: about 50 bytes a session;
#: and for the device details of redis_sessions.devices.
ALIASES = {
    AUTH_USER_ID_KEY: USER_ID,
    "_auth_user_backend": BACKEND,
    "_auth_user_hash": AUTH_HASH,
    "_device_agent": AGENT,
    "_device_ip": CLIENT_IP,
}
_ALIASED = {name: key for key, name in ALIASES.items()}

_TAGGED = b"\x00"
# Metadata that follows the data: gone when the user's keys are gone.
_USER_FIELDS = (USER_ID, INDEXED, BACKEND, AUTH_HASH, AGENT, CLIENT_IP)

Fields = dict[bytes, bytes]


class Serializer(Protocol):
    def dumps(self, obj: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


class CorruptSession(ValueError):
    """A stored hash is not something this engine wrote."""


def is_metadata(field: bytes) -> bool:
    return field[:1] == b"#" and field[1:2] != b"#"


class FieldCodec:
    """Encode a session dict into hash fields, and decode them back."""

    def __init__(self, serializer_class: type[Serializer]) -> None:
        self.serializer_class = serializer_class
        self.serializer = serializer_class()
        self.bare_strings = serializer_class is JSONSerializer
        self._dumps: Callable[[Any], bytes] = self.serializer.dumps
        self._loads: Callable[[bytes], Any] = self.serializer.loads

    def encode(self, data: Mapping[str, Any]) -> Fields:
        """Return the data fields of ``data`` plus the ``#u`` metadata field."""
        fields: Fields = {}
        bare_strings = self.bare_strings
        dumps = self._dumps
        for key, value in data.items():
            if type(key) is not str:
                raise TypeError(
                    f"Session keys must be strings, not {type(key).__name__}: {key!r}; "
                    "nothing was saved."
                )
            text: bytes | None = None
            if type(value) is str:
                try:
                    text = value.encode()
                except UnicodeEncodeError:
                    text = None  # a lone surrogate: stored as JSON, which escapes it
            if text is not None and (alias := ALIASES.get(key)) is not None:
                if alias is USER_ID:
                    # The user id is stored as it is, whatever the serializer:
                    # the scripts and the user index read it.
                    fields[USER_ID] = text
                    continue
                name = alias
            else:
                try:
                    name = key.encode()
                except UnicodeEncodeError:
                    raise TypeError(
                        f"Session key {key!r} is not valid text (it holds a lone surrogate); "
                        "nothing was saved."
                    ) from None
                if name[:1] == b"#":
                    name = b"#" + name
            if bare_strings:
                if text is not None and value[:1] != "\x00":
                    fields[name] = text
                    continue
                if type(value) is int:  # not bool, whose JSON differs from str()
                    fields[name] = _TAGGED + str(value).encode()
                    continue
            try:
                fields[name] = _TAGGED + dumps(value)
            except (TypeError, ValueError, RecursionError) as exc:
                raise self._unencodable(key, value) from exc
        user_id = data.get(AUTH_USER_ID_KEY)
        if user_id is not None and USER_ID not in fields:
            # A user id that is not a string (or not valid text) keeps its own
            # field; #u copies it, as valid text.
            fields[USER_ID] = str(user_id).encode("utf-8", "backslashreplace")
        return fields

    def _unencodable(self, key: str, value: Any) -> TypeError:
        name = f"{self.serializer_class.__module__}.{self.serializer_class.__qualname__}"
        return TypeError(
            f"The value of session key {key!r} cannot be serialized with {name} "
            f"({type(value).__name__}); nothing was saved."
        )

    def decode(self, fields: Mapping[bytes, bytes]) -> dict[str, Any]:
        """Return the session dict stored in ``fields``, metadata left out.

        Raises :class:`CorruptSession` if any field cannot be decoded.
        """
        data: dict[str, Any] = {}
        user_id: str | None = None
        try:
            for name, raw in fields.items():
                if name[:1] == b"#":
                    if name[1:2] == b"#":
                        data[name[1:].decode()] = self._decode_value(raw)
                    elif name == USER_ID:
                        user_id = raw.decode()
                    elif name in _ALIASED:
                        data[_ALIASED[name]] = self._decode_value(raw)
                    continue
                data[name.decode()] = self._decode_value(raw)
        except CorruptSession:
            raise
        except Exception as exc:  # Any serializer may raise anything on bad input.
            raise CorruptSession(f"{type(exc).__name__} while decoding a field") from exc
        if user_id is not None:
            data.setdefault(AUTH_USER_ID_KEY, user_id)
        return data

    def _decode_value(self, raw: bytes) -> Any:
        if raw[:1] == _TAGGED:
            return self._loads(raw[1:])
        if self.bare_strings:
            return raw.decode()
        raise CorruptSession("a value without the serializer's tag")


def key_of(name: bytes) -> str | None:
    """The session key that field ``name`` stores; None for the engine's own metadata."""
    if name[:2] == b"##":
        return name[1:].decode(errors="backslashreplace")
    if name[:1] == b"#":
        return _ALIASED.get(name)
    return name.decode(errors="backslashreplace")


def changes(
    new: Mapping[bytes, bytes], old: Mapping[bytes, bytes]
) -> tuple[list[bytes], list[bytes]]:
    """Return ``(field, value, field, value, ...)`` to set and the fields to delete.

    ``old`` is the hash as loaded or last written; of its metadata, only the
    fields of aliased keys (the user's, the device's) and the index bound are
    ever deleted.
    """
    to_set: list[bytes] = []
    for name, raw in new.items():
        if old.get(name) != raw:
            to_set.append(name)
            to_set.append(raw)
    to_delete = [
        name for name in old if name not in new and (name in _USER_FIELDS or not is_metadata(name))
    ]
    return to_set, to_delete
