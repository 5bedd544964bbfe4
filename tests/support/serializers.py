"""A serializer other than Django's JSONSerializer, for the tests."""

from __future__ import annotations

import json
import pickle
from typing import Any


class TaggingSerializer:
    """JSON behind a visible tag, so the tests can see it was used."""

    def dumps(self, obj: Any) -> bytes:
        return b"tagged:" + json.dumps(obj, separators=(",", ":")).encode()

    def loads(self, data: bytes) -> Any:
        if not data.startswith(b"tagged:"):
            raise ValueError("not tagged")
        return json.loads(data[len(b"tagged:") :])


class PickleSerializer:
    """Pickle, which stores values that JSON cannot hold (never use it on untrusted data)."""

    def dumps(self, obj: Any) -> bytes:
        return pickle.dumps(obj)

    def loads(self, data: bytes) -> Any:
        # Only ever data that the tests wrote themselves.
        return pickle.loads(data)
