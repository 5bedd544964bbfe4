"""The Lua scripts in ``lua/``, loaded once and called by SHA."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib.resources import files
from typing import Any

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster
from redis.exceptions import NoScriptError

from redis_sessions.direct import aexecute, execute

SyncClient = Redis | RedisCluster
AsyncClient = AsyncRedis | AsyncRedisCluster

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

    def __call__(self, client: SyncClient, key: str, args: list[Any]) -> Any:
        return self.run(client, [key], args)

    def run(
        self, client: SyncClient, keys: Sequence[Key], args: Sequence[Any], *, node: Any = None
    ) -> Any:
        """Run the script on ``keys``: the bulk scripts take a whole SCAN batch.

        ``node``, a cluster node, runs it there, whatever the slots of the keys:
        for the bulk scripts, whose flags let them touch keys of many slots of
        one node.
        """
        if node is not None:
            return self._run_on(client, node, keys, args)
        try:
            return execute(client, "EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            # The server restarted, failed over or had SCRIPT FLUSH: load it
            # again. EVALSHA refused to run, so nothing ran twice.
            client.script_load(self.source)
            return execute(client, "EVALSHA", self.sha, len(keys), *keys, *args)

    def _run_on(self, client: Any, node: Any, keys: Sequence[Key], args: Sequence[Any]) -> Any:
        command = ("EVALSHA", self.sha, len(keys), *keys, *args)
        try:
            return client.execute_command(*command, target_nodes=node)
        except NoScriptError:
            client.execute_command("SCRIPT LOAD", self.source, target_nodes=node)
            return client.execute_command(*command, target_nodes=node)

    async def acall(self, client: AsyncClient, key: str, args: list[Any]) -> Any:
        """The asyncio twin of calling the script."""
        return await self.arun(client, [key], args)

    async def arun(
        self, client: AsyncClient, keys: Sequence[Key], args: Sequence[Any], *, node: Any = None
    ) -> Any:
        """The asyncio twin of :meth:`run`."""
        if node is not None:
            command = ("EVALSHA", self.sha, len(keys), *keys, *args)
            cluster: Any = client
            try:
                return await cluster.execute_command(*command, target_nodes=node)
            except NoScriptError:
                await cluster.execute_command("SCRIPT LOAD", self.source, target_nodes=node)
                return await cluster.execute_command(*command, target_nodes=node)
        try:
            return await aexecute(client, "EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await client.script_load(self.source)
            return await aexecute(client, "EVALSHA", self.sha, len(keys), *keys, *args)


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
