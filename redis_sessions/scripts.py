"""The Lua scripts in ``lua/``, loaded once and called by SHA."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib.resources import files
from typing import Any

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import NoScriptError

#: A Redis key as the engine passes it: built as text, or as SCAN returned it.
Key = str | bytes


#: A line ``--! include lib/NAME.lua`` stands for the text of that file: Redis
#: runs each script alone, and this is how scripts share functions.
INCLUDE = "--! include "


def _read(path: str) -> str:
    folder = files("redis_sessions").joinpath("lua")
    for part in path.split("/"):
        folder = folder.joinpath(part)
    return folder.read_text()


def _with_includes(source: str) -> str:
    return "".join(
        _read(line[len(INCLUDE) :].strip()) if line.startswith(INCLUDE) else line
        for line in source.splitlines(keepends=True)
    )


class LuaScript:
    """One script of ``lua/``: called with EVALSHA, loaded again on NOSCRIPT."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.source = _with_includes(_read(f"{name}.lua"))
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()

    def __repr__(self) -> str:
        return f"<LuaScript {self.name} {self.sha[:8]}>"

    def __call__(self, client: Redis, key: str, args: list[Any]) -> Any:
        return self.run(client, [key], args)

    def run(self, client: Redis, keys: Sequence[Key], args: Sequence[Any]) -> Any:
        """Run the script on ``keys``: the bulk scripts take a whole SCAN batch."""
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            # The server restarted, failed over or had SCRIPT FLUSH: load it
            # again. EVALSHA refused to run, so nothing ran twice.
            client.script_load(self.source)
            return client.evalsha(self.sha, len(keys), *keys, *args)

    async def acall(self, client: AsyncRedis, key: str, args: list[Any]) -> Any:
        """The asyncio twin of calling the script."""
        return await self.arun(client, [key], args)

    async def arun(self, client: AsyncRedis, keys: Sequence[Key], args: Sequence[Any]) -> Any:
        """The asyncio twin of :meth:`run`."""
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await client.script_load(self.source)
            return await client.evalsha(self.sha, len(keys), *keys, *args)


CREATE = LuaScript("create")
UPDATE = LuaScript("update")
DESTROY = LuaScript("destroy")
TOUCH = LuaScript("touch")
INDEX = LuaScript("index")
COUNT = LuaScript("count")
SURVEY = LuaScript("survey")
ALL = (CREATE, UPDATE, DESTROY, TOUCH, INDEX, COUNT, SURVEY)
