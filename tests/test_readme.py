"""README.rst is the manual: what it says about settings and checks is true."""

from __future__ import annotations

import re
from pathlib import Path

from redis_sessions import checks
from redis_sessions.conf import DEFAULTS

README = (Path(__file__).resolve().parent.parent / "README.rst").read_text()


def test_every_setting_is_documented_with_its_default() -> None:
    documented = dict(re.findall(r"^``([A-Z_]+)``\n    Default: ``(.+?)``", README, re.M))

    assert documented == {
        name: f'"{value}"' if isinstance(value, str) else str(value)
        for name, value in DEFAULTS.items()
    }


def test_every_check_id_is_documented() -> None:
    source = Path(checks.__file__).read_text()
    in_code = set(re.findall(r"redis_sessions\.[EW]\d{3}", source))
    in_code |= {f"redis_sessions.{code}" for code in re.findall(r'"(E\d{3})"\)', source)}

    in_readme = set(re.findall(r"``(redis_sessions\.[EW]\d{3})``", README))

    assert in_readme == in_code


def test_the_readme_says_the_two_commands_that_ci_runs() -> None:
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()

    assert "make demo" in README
    assert "make test" in README
    assert ci.strip().splitlines()[-1] == "make test"
