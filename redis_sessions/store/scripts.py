"""The Lua scripts in ``lua/``: their text and SHA.

The drivers call them with ``EVALSHA`` and load them again when a server
answers ``NOSCRIPT`` (it restarted, failed over or had ``SCRIPT FLUSH``).
"""

from __future__ import annotations

import hashlib
from importlib.resources import files

#: A line ``--! include lib/NAME.lua`` stands for the text of that file: Redis
#: runs each script alone, and this is how scripts share functions.
INCLUDE = "--! include "


def _read(path: str) -> str:
    folder = files(__package__ or "redis_sessions.store").joinpath("lua")
    for part in path.split("/"):
        folder = folder.joinpath(part)
    return folder.read_text()


def _with_includes(source: str) -> str:
    return "".join(
        _read(line[len(INCLUDE) :].strip()) if line.startswith(INCLUDE) else line
        for line in source.splitlines(keepends=True)
    )


class LuaScript:
    """One script of ``lua/``, its includes written out."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.source = _with_includes(_read(f"{name}.lua"))
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()

    def __repr__(self) -> str:
        return f"<LuaScript {self.name} {self.sha[:8]}>"


CREATE = LuaScript("create")
UPDATE = LuaScript("update")
DESTROY = LuaScript("destroy")
TOUCH = LuaScript("touch")
INDEX = LuaScript("index")
COUNT = LuaScript("count")
SURVEY = LuaScript("survey")
OWNED = LuaScript("owned")
UNLINK = LuaScript("unlink")
ALL = (CREATE, UPDATE, DESTROY, TOUCH, INDEX, COUNT, SURVEY, OWNED, UNLINK)
