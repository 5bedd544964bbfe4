"""Which values of a session are secret, and hiding them from people who look.

The admin shows a session's data to staff who may view sessions; values whose
key names a secret are replaced by :data:`MASK` for those who may not see
secrets. A key names a secret if it contains one of :data:`SECRET_WORDS`, in
any case, or is one of :data:`SECRET_KEYS`. Dicts are walked all the way down,
through lists, so a token nested in a dict of an OAuth library is hidden too;
a secret key hides its whole value, whatever it holds.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

__all__ = ["MASK", "SECRET_KEYS", "SECRET_WORDS", "is_secret", "masked"]

#: What a hidden value is shown as.
MASK = "********"

#: Words that make a key secret wherever they appear in it, in any case.
SECRET_WORDS = ("token", "password", "secret", "key")

#: Keys that are secret though they contain none of the words.
SECRET_KEYS = frozenset({"_auth_user_hash"})


def is_secret(
    name: object,
    *,
    words: Collection[str] = SECRET_WORDS,
    keys: Collection[str] = SECRET_KEYS,
) -> bool:
    """Tell whether a value stored under ``name`` is a secret."""
    if not isinstance(name, str):
        return False
    lowered = name.lower()
    return name in keys or any(word in lowered for word in words)


def masked(
    value: Any,
    *,
    words: Collection[str] = SECRET_WORDS,
    keys: Collection[str] = SECRET_KEYS,
) -> tuple[Any, int]:
    """Return a copy of ``value`` with its secret values replaced by :data:`MASK`,
    and how many were replaced. ``value`` itself is left as it is."""
    hidden = 0

    def walk(item: Any) -> Any:
        nonlocal hidden
        if isinstance(item, dict):
            copy = {}
            for name, inner in item.items():
                if is_secret(name, words=words, keys=keys):
                    hidden += 1
                    copy[name] = MASK
                else:
                    copy[name] = walk(inner)
            return copy
        if isinstance(item, (list, tuple)):
            return [walk(inner) for inner in item]
        return item

    return walk(value), hidden
