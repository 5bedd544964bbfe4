"""A serializer other than Django's JSONSerializer, for the tests."""

from __future__ import annotations

import json
from typing import Any


class TaggingSerializer:
    """JSON behind a visible tag, so the tests can see it was used."""

    def dumps(self, obj: Any) -> bytes:
        return b"tagged:" + json.dumps(obj, separators=(",", ":")).encode()

    def loads(self, data: bytes) -> Any:
        if not data.startswith(b"tagged:"):
            raise ValueError("not tagged")
        return json.loads(data[len(b"tagged:") :])
