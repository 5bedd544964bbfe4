"""django-redis-sessions in a virtualenv of its own, for the tests and the benchmarks.

It has this package's import name, ``redis_sessions``, so it cannot be imported
beside it: it is installed from PyPI into a virtualenv under ``.cache/`` (or
``LEGACY_VENV_CACHE``), made once and reused by later runs, and runs in
subprocesses of that virtualenv's Python.
"""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path

import django

REPOSITORY = Path(__file__).resolve().parent.parent

#: The release of django-redis-sessions measured and read; 0.6.2 is the last one.
VERSION = "0.6.2"


def legacy_python(*extras: str) -> Path:
    """The Python of a virtualenv with django-redis-sessions and this Django, made on first use.

    ``extras`` are more requirements to install there (the benchmark's HTTP
    servers); each set of them has a virtualenv of its own.
    """
    root = Path(os.environ.get("LEGACY_VENV_CACHE") or REPOSITORY / ".cache")
    name = f"django-redis-sessions-{VERSION}-django-{django.__version__}"
    if extras:
        name += "-" + "-".join(sorted(extra.replace("==", "-") for extra in extras))
    home = root / name
    python = home / "bin" / "python"
    ready = home / "installed"
    if not ready.exists():
        venv.create(home, with_pip=True, clear=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                f"django-redis-sessions=={VERSION}",
                f"django=={django.__version__}",
                "redis",
                *extras,
            ],
            check=True,
        )
        ready.write_text("")
    return python
