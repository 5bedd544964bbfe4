"""Django's own session tests, fetched from Django's source distribution.

``SessionTestsMixin`` lives in ``tests/sessions_tests/tests.py`` of Django's
sdist, which is not installed with Django. This module downloads the sdist of
the installed version with pip, once, and keeps only ``tests/sessions_tests/``
in a cache folder (``.cache/`` at the top of the repository, or the folder
named by ``DJANGO_TESTS_CACHE``). Nothing of it is committed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import django

REPOSITORY = Path(__file__).resolve().parents[2]


def cache_folder() -> Path:
    root = os.environ.get("DJANGO_TESTS_CACHE") or REPOSITORY / ".cache"
    return Path(root) / f"django-{django.__version__}"


def ensure_django_tests() -> Path:
    """Return a folder holding the package ``sessions_tests``, fetching it if needed."""
    folder = cache_folder()
    if (folder / "sessions_tests" / "tests.py").exists():
        return folder
    with tempfile.TemporaryDirectory() as download:
        subprocess.run(
            [
                sys.executable, "-m", "pip", "download", "--quiet",
                "--no-deps", "--no-binary", ":all:", "--dest", download,
                f"django=={django.__version__}",
            ],
            check=True,
        )  # fmt: skip
        (sdist,) = Path(download).glob("*.tar.gz")
        wanted = "tests/sessions_tests/"
        staging = Path(tempfile.mkdtemp(dir=folder.parent if folder.parent.exists() else None))
        with tarfile.open(sdist) as archive:
            for member in archive.getmembers():
                _, _, rest = member.name.partition("/")
                if rest.startswith(wanted) and member.isfile():
                    target = staging / "sessions_tests" / rest[len(wanted) :]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    source = archive.extractfile(member)
                    assert source is not None
                    target.write_bytes(source.read())
    folder.parent.mkdir(parents=True, exist_ok=True)
    if not (folder / "sessions_tests" / "tests.py").exists():
        # Renamed into place whole, so a run that was interrupted leaves no half folder.
        staging.rename(folder)
    return folder
