"""What a test heard of a signal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.dispatch import Signal


@contextmanager
def heard(signal: Signal) -> Iterator[list[dict[str, Any]]]:
    """The arguments of every send of ``signal`` inside the block, in order."""
    sent: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        sent.append(kwargs)

    signal.connect(receiver)
    try:
        yield sent
    finally:
        signal.disconnect(receiver)
