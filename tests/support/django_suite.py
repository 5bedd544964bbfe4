"""Django's own session tests, fetched from Django's source distribution.

``SessionTestsMixin`` lives in ``tests/sessions_tests/tests.py`` of Django's
sdist, which is not installed with Django. ``ensure_django_tests()`` downloads
the sdist of the installed version with pip, once, and keeps only
``tests/sessions_tests/`` in a cache folder (``.cache/`` at the top of the
repository, or the folder named by ``DJANGO_TESTS_CACHE``). Nothing of it is
committed.

The download happens when pytest starts, before Django is set up: this module
is a pytest plugin (``-p tests.support.django_suite`` in pyproject.toml's
``addopts``) whose ``pytest_load_initial_conftests`` fills the cache.
``tests/settings.py`` only looks in the cache, so importing the settings never
touches the network; it installs the app ``sessions_tests`` when the cache has
it. Without network access and without a filled cache, pytest says so as it
starts, and the test modules built on the mixin fail to import with the same
explanation. ``python -m tests.support.django_suite`` fills the cache on its own.

The test modules import the mixin from here
(``from tests.support.django_suite import SessionTestsMixin``), which gives that
explanation instead of a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

import django
import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


class DjangoTestsUnavailable(Exception):
    """Django's session tests are not in the cache and could not be downloaded."""


def cache_folder() -> Path:
    root = os.environ.get("DJANGO_TESTS_CACHE") or REPOSITORY / ".cache"
    return Path(root) / f"django-{django.__version__}"


def cached_django_tests() -> Path | None:
    """The folder holding the package ``sessions_tests``, if the cache has it; no download."""
    folder = cache_folder()
    return folder if (folder / "sessions_tests" / "tests.py").exists() else None


def unavailable_message(reason: str) -> str:
    return (
        f"Django's own session tests (tests/sessions_tests/ of the source distribution of "
        f"Django {django.__version__}) are not in {cache_folder()}, and pip could not "
        f"download them: {reason}\n"
        "Run the tests once with access to the package index (or run "
        "`python -m tests.support.django_suite`) to fill that cache, or set "
        "DJANGO_TESTS_CACHE to a folder that has "
        f"django-{django.__version__}/sessions_tests/, copied from that source distribution. "
        "Until then the test modules built on Django's SessionTestsMixin cannot be "
        "collected: leave them out with --ignore, or run the others with "
        "--continue-on-collection-errors."
    )


def ensure_django_tests() -> Path:
    """Return a folder holding the package ``sessions_tests``, fetching it if needed.

    Raises ``DjangoTestsUnavailable``, saying what to do, when pip cannot fetch it.
    """
    cached = cached_django_tests()
    if cached is not None:
        return cached
    folder = cache_folder()
    with tempfile.TemporaryDirectory() as download:
        fetched = subprocess.run(
            [
                sys.executable, "-m", "pip", "download", "--quiet",
                "--no-deps", "--no-binary", ":all:", "--dest", download,
                f"django=={django.__version__}",
            ],
            capture_output=True,
            text=True,
        )  # fmt: skip
        if fetched.returncode != 0:
            lines = (fetched.stderr or fetched.stdout).strip().splitlines()
            reason = lines[-1] if lines else f"pip exited with code {fetched.returncode}"
            raise DjangoTestsUnavailable(unavailable_message(reason))
        (sdist,) = Path(download).glob("*.tar.gz")
        wanted = "tests/sessions_tests/"
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent))
        with tarfile.open(sdist) as archive:
            for member in archive.getmembers():
                _, _, rest = member.name.partition("/")
                if rest.startswith(wanted) and member.isfile():
                    target = staging / "sessions_tests" / rest[len(wanted) :]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    source = archive.extractfile(member)
                    assert source is not None
                    target.write_bytes(source.read())
    if cached_django_tests() is None:
        # Renamed into place whole, so a run that was interrupted leaves no half folder.
        staging.rename(folder)
    else:
        # Another run filled the cache meanwhile.
        shutil.rmtree(staging, ignore_errors=True)
    return folder


#: Why the last download failed, for the test modules that need the mixin.
_failure: str | None = None


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> Generator[None, None, None]:
    """Fill the cache before pytest-django imports the settings and sets Django up."""
    global _failure
    try:
        ensure_django_tests()
    except DjangoTestsUnavailable as exc:
        _failure = str(exc)
        print(f"\n{exc}\n", file=sys.stderr)
    return (yield)


def __getattr__(name: str) -> Any:
    """``SessionTestsMixin``, from the cache that the settings put on ``sys.path``."""
    if name != "SessionTestsMixin":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        from sessions_tests.tests import SessionTestsMixin
    except ModuleNotFoundError as exc:
        if exc.name != "sessions_tests":
            raise
        raise DjangoTestsUnavailable(
            _failure or unavailable_message("this run did not try to download them")
        ) from None
    return SessionTestsMixin


if __name__ == "__main__":
    try:
        print(ensure_django_tests())
    except DjangoTestsUnavailable as exc:
        sys.exit(str(exc))
