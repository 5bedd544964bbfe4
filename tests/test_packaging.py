"""The distributions: what ``python -m build`` makes, and the wheel on its own.

The sdist and the wheel are built from a copy of this checkout, the way a
release is (the wheel from the unpacked sdist). The wheel is then installed
with pip into a fresh virtualenv, with its dependencies from the package index
(through pip's cache), and used there as a new user would: in a project made by
``django-admin startproject``, run from outside this checkout.

Slow, so marked ``packaging``: ``pytest -m 'not packaging'`` leaves it out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import redis_sessions

pytestmark = pytest.mark.packaging

REPOSITORY = Path(__file__).resolve().parent.parent
DISTRIBUTION = "django_redis_session_engine"
VERSION = redis_sessions.__version__
LUA_SCRIPTS = sorted(
    path.relative_to(REPOSITORY).as_posix()
    for path in (REPOSITORY / "redis_sessions" / "store" / "lua").rglob("*.lua")
)

# Not copied: version control, tools' caches and earlier builds.
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", ".tox", ".cache", ".*_cache", "build", "dist", "*.egg-info", ".coverage*"
)
# Planted in the copy: what runs leave in a checkout, which no distribution ships.
LEFTOVERS = [
    "example_project/db.sqlite3",
    "redis_sessions/__pycache__/session.cpython-313.pyc",
    "docs/_build/html/index.html",
]
# Folders the sdist carries whole, apart from leftovers.
SDIST_FOLDERS = ["redis_sessions", "tests", "example_project", "benchmarks", "docs"]
SDIST_FILES = [
    "PKG-INFO", "setup.cfg", "pyproject.toml", "MANIFEST.in", "README.rst", "CHANGELOG.rst",
    "tox.ini", "Makefile",
]  # fmt: skip


def is_leftover(name: str) -> bool:
    return name.endswith((".sqlite3", ".pyc")) or "__pycache__" in name or "docs/_build/" in name


@dataclass
class Build:
    source: Path
    sdist: Path
    wheel: Path

    def sdist_files(self) -> set[str]:
        with tarfile.open(self.sdist) as archive:
            names = [member.name for member in archive.getmembers() if member.isfile()]
        return {name.partition("/")[2] for name in names}

    def wheel_files(self) -> set[str]:
        with zipfile.ZipFile(self.wheel) as archive:
            return set(archive.namelist())


@dataclass
class Project:
    """A project made by ``django-admin startproject`` in a virtualenv of its own."""

    python: Path
    folder: Path
    virtualenv: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the virtualenv's Python in the project folder, with warnings as errors."""
        env = {
            name: value
            for name, value in os.environ.items()
            if name not in {"DJANGO_SETTINGS_MODULE", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
        }
        env["PYTHONWARNINGS"] = "error"
        return run([str(self.python), *args], cwd=self.folder, env=env, check=False)


def run(
    args: list[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    source = tmp_path_factory.mktemp("source") / "checkout"
    shutil.copytree(REPOSITORY, source, ignore=NOT_COPIED)
    for leftover in LEFTOVERS:
        (source / leftover).parent.mkdir(parents=True, exist_ok=True)
        (source / leftover).write_bytes(b"")
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", str(out), str(source)])
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return Build(source, sdist, wheel)


@pytest.fixture(scope="module")
def project(build: Build, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Project:
    virtualenv = tmp_path_factory.mktemp("virtualenv") / "venv"
    run([sys.executable, "-m", "venv", str(virtualenv)])
    python = virtualenv / ("Scripts" if os.name == "nt" else "bin") / "python"
    run([str(python), "-m", "pip", "install", "--quiet", str(build.wheel)])
    folder = tmp_path_factory.mktemp("project")
    run([str(python), "-m", "django", "startproject", "newsite", str(folder)])
    settings = folder / "newsite" / "settings.py"
    settings.write_text(
        settings.read_text()
        + "\n# The session engine, as README.rst's quickstart sets it up.\n"
        + 'INSTALLED_APPS = ["redis_sessions", *INSTALLED_APPS]  # before contrib.sessions\n'
        + 'SESSION_ENGINE = "redis_sessions.session"\n'
        + f'REDIS_SESSIONS = {{"URL": "{redis_url}"}}\n'
    )
    return Project(python, folder, virtualenv)


# What python -m build makes.


def test_the_build_makes_an_sdist_and_a_wheel_of_the_package_version(build: Build) -> None:
    assert build.sdist.name == f"{DISTRIBUTION}-{VERSION}.tar.gz"
    assert build.wheel.name == f"{DISTRIBUTION}-{VERSION}-py3-none-any.whl"


def test_the_wheel_metadata_has_the_package_version(build: Build) -> None:
    with zipfile.ZipFile(build.wheel) as archive:
        metadata = archive.read(f"{DISTRIBUTION}-{VERSION}.dist-info/METADATA").decode()

    assert f"\nVersion: {VERSION}\n" in metadata


def test_the_wheel_ships_the_lua_scripts_and_py_typed(build: Build) -> None:
    assert LUA_SCRIPTS
    assert {*LUA_SCRIPTS, "redis_sessions/py.typed"} <= build.wheel_files()


def test_the_wheel_ships_the_admins_templates_static_files_and_migration(build: Build) -> None:
    shipped = {
        path.relative_to(REPOSITORY).as_posix()
        for folder in ("templates", "static", "migrations")
        for path in (REPOSITORY / "redis_sessions" / folder).rglob("*")
        if path.is_file() and not is_leftover(path.as_posix())
    }

    assert "redis_sessions/migrations/0001_initial.py" in shipped
    assert "redis_sessions/static/redis_sessions/admin/sessions.css" in shipped
    assert "redis_sessions/templates/admin/redis_sessions/session/session_list.html" in shipped
    assert shipped <= build.wheel_files()


def test_the_wheel_ships_the_package_and_nothing_else(build: Build) -> None:
    tops = {name.split("/")[0] for name in build.wheel_files()}

    assert tops == {"redis_sessions", f"{DISTRIBUTION}-{VERSION}.dist-info"}
    assert not [name for name in build.wheel_files() if is_leftover(name)]


def test_the_sdist_has_the_docs_and_the_files_to_build_and_test(build: Build) -> None:
    assert set(SDIST_FILES) <= build.sdist_files()


def test_the_sdist_has_the_package_tests_example_project_benchmarks_and_docs_whole(
    build: Build,
) -> None:
    in_checkout = {
        name
        for folder in SDIST_FOLDERS
        for path in (build.source / folder).rglob("*")
        if path.is_file() and not is_leftover(name := path.relative_to(build.source).as_posix())
    }

    assert {
        *LUA_SCRIPTS,
        "tests/test_packaging.py",
        "example_project/manage.py",
        "docs/conf.py",
        "docs/admin-list.png",
    } <= in_checkout
    assert in_checkout <= build.sdist_files()


def test_the_sdist_leaves_out_databases_bytecode_and_the_built_manual(build: Build) -> None:
    assert all((build.source / leftover).is_file() for leftover in LEFTOVERS)
    assert not [name for name in build.sdist_files() if is_leftover(name)]


# The wheel installed in a fresh virtualenv.


def test_the_installed_package_is_the_wheel_not_this_checkout(project: Project) -> None:
    result = project.run(
        "-c",
        "import importlib.metadata, redis_sessions; "
        "print(redis_sessions.__file__); "
        "print(importlib.metadata.version('django-redis-session-engine'))",
    )

    assert result.returncode == 0, result.stderr
    location, version = result.stdout.splitlines()
    assert Path(location).is_relative_to(project.virtualenv)
    assert version == VERSION


def test_the_installed_package_has_its_lua_scripts_and_py_typed(project: Project) -> None:
    result = project.run(
        "-c",
        "from pathlib import Path; import redis_sessions; "
        "package = Path(redis_sessions.__file__).parent; "
        "print(sorted(p.relative_to(package.parent).as_posix() "
        "for p in package.joinpath('store', 'lua').rglob('*.lua'))); "
        "print(package.joinpath('py.typed').is_file())",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(LUA_SCRIPTS), "True"]


def test_the_installed_engine_saves_and_loads_a_session(project: Project) -> None:
    result = project.run(
        "manage.py",
        "shell",
        "--no-imports",
        "-c",
        "from importlib import import_module\n"
        "from django.conf import settings\n"
        "SessionStore = import_module(settings.SESSION_ENGINE).SessionStore\n"
        "session = SessionStore()\n"
        "session['colour'] = 'green'\n"
        "session.save()\n"
        "print(SessionStore.__module__, SessionStore(session.session_key)['colour'])\n",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "redis_sessions.session green\n"


def test_manage_py_check_of_a_new_project_passes(project: Project) -> None:
    result = project.run("manage.py", "check")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "System check identified no issues (0 silenced).\n"


def test_manage_py_check_deploy_of_a_new_project_finds_its_server_fit(project: Project) -> None:
    result = project.run("manage.py", "check", "--deploy", "--tag", "redis_sessions")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "System check identified no issues (0 silenced).\n"
