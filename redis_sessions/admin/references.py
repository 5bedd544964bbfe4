"""References to sessions that do not give their keys away.

A session key is a credential: whoever holds one is logged in as its user. The
admin lets staff look at sessions without being able to take one over (a
superuser's, say), so it never puts a whole key in a page or an address.
Its links name a session by a reference that only this site can turn back
into the key: the key enciphered and authenticated with keys derived from
``SECRET_KEY``.

The construction is a deterministic authenticated cipher (SIV) on HMAC: the
synthetic IV is an HMAC-SHA256 of the session key, cut to 16 bytes; the key is
XORed with an HMAC-SHA512 keystream of that IV; and opening a reference checks
the IV against the key it yields. A session has one reference for as long as
``SECRET_KEY`` stays the same; a reference that was not made here, or was
altered, opens to nothing.
"""

from __future__ import annotations

import base64
import hmac
import re

from django.utils.crypto import salted_hmac

from redis_sessions.store.keys import is_valid_session_key

__all__ = ["open_reference", "reference"]

_IV_SALT = "redis_sessions.admin.references.iv"
_STREAM_SALT = "redis_sessions.admin.references.stream"
_IV_LENGTH = 16
# What a reference to a key of 8 to 64 characters looks like: unpadded URL-safe base64
# of 24 to 80 bytes.
_REFERENCE_RE = re.compile(r"[A-Za-z0-9_-]{32,107}")


def _iv(session_key: bytes) -> bytes:
    return salted_hmac(_IV_SALT, session_key, algorithm="sha256").digest()[:_IV_LENGTH]


def _xor_stream(iv: bytes, data: bytes) -> bytes:
    # SHA-512 gives 64 bytes, the length of the longest session key.
    stream = salted_hmac(_STREAM_SALT, iv, algorithm="sha512").digest()
    return bytes(byte ^ pad for byte, pad in zip(data, stream, strict=False))


def reference(session_key: str) -> str:
    """Return the reference of a session key (8 to 64 of ``[a-z0-9]``), fit for a URL."""
    if not is_valid_session_key(session_key):
        raise ValueError("Only a session key has a reference.")
    key = session_key.encode("ascii")
    iv = _iv(key)
    return base64.urlsafe_b64encode(iv + _xor_stream(iv, key)).decode("ascii").rstrip("=")


def open_reference(value: str) -> str | None:
    """Return the session key of a reference made by :func:`reference`, or None."""
    if _REFERENCE_RE.fullmatch(value) is None or len(value) % 4 == 1:
        return None
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    iv, enciphered = raw[:_IV_LENGTH], raw[_IV_LENGTH:]
    key = _xor_stream(iv, enciphered)
    if not hmac.compare_digest(iv, _iv(key)):
        return None
    session_key = key.decode("ascii", errors="replace")
    return session_key if is_valid_session_key(session_key) else None
