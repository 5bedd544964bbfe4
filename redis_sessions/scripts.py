"""The Lua scripts in ``lua/``, loaded once and called by SHA."""

from __future__ import annotations

import hashlib
from importlib.resources import files
from typing import Any

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import NoScriptError


class LuaScript:
    """One script of ``lua/``: called with EVALSHA, loaded again on NOSCRIPT."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.source = files("redis_sessions").joinpath("lua").joinpath(f"{name}.lua").read_text()
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()

    def __repr__(self) -> str:
        return f"<LuaScript {self.name} {self.sha[:8]}>"

    def __call__(self, client: Redis, key: str, args: list[Any]) -> Any:
        try:
            return client.evalsha(self.sha, 1, key, *args)
        except NoScriptError:
            # The server restarted, failed over or had SCRIPT FLUSH: load it
            # again. EVALSHA refused to run, so nothing ran twice.
            client.script_load(self.source)
            return client.evalsha(self.sha, 1, key, *args)

    async def acall(self, client: AsyncRedis, key: str, args: list[Any]) -> Any:
        """The asyncio twin of calling the script."""
        try:
            return await client.evalsha(self.sha, 1, key, *args)
        except NoScriptError:
            await client.script_load(self.source)
            return await client.evalsha(self.sha, 1, key, *args)


CREATE = LuaScript("create")
UPDATE = LuaScript("update")
DESTROY = LuaScript("destroy")
TOUCH = LuaScript("touch")
INDEX = LuaScript("index")
ALL = (CREATE, UPDATE, DESTROY, TOUCH, INDEX)
