"""The manual in docs/ and README.rst say what is true of the code and of CI."""

from __future__ import annotations

import re
from pathlib import Path

from redis_sessions import checks
from redis_sessions.conf import DEFAULTS

REPOSITORY = Path(__file__).resolve().parent.parent
DOCS = REPOSITORY / "docs"
README = (REPOSITORY / "README.rst").read_text()


def test_every_setting_is_documented_with_its_default() -> None:
    settings_page = (DOCS / "settings.rst").read_text()

    documented = dict(re.findall(r"^``([A-Z_]+)``\n    Default: ``(.+?)``", settings_page, re.M))

    assert documented == {
        name: f'"{value}"' if isinstance(value, str) else str(value)
        for name, value in DEFAULTS.items()
    }


def test_every_check_id_is_documented() -> None:
    source = Path(checks.__file__).read_text()
    in_code = set(re.findall(r"redis_sessions\.[EW]\d{3}", source))
    in_code |= {f"redis_sessions.{code}" for code in re.findall(r'"(E\d{3})"\)', source)}

    checks_page = (DOCS / "checks.rst").read_text()
    in_docs = set(re.findall(r"^``(redis_sessions\.[EW]\d{3})``\n    \S", checks_page, re.M))

    assert in_docs == in_code


def test_the_readme_says_the_two_commands_that_ci_runs() -> None:
    ci = (REPOSITORY / ".ci" / "run").read_text()

    assert "make demo" in README
    assert "make test" in README
    assert ci.strip().splitlines()[-1] == "make test"


def test_the_readme_stays_a_single_page_for_newcomers() -> None:
    assert len(README.splitlines()) < 300


def test_the_readme_links_only_to_pages_that_exist() -> None:
    linked = re.findall(r"<(docs/[\w/-]+\.rst)>`", README) + re.findall(
        r"``(docs/[\w/-]+\.rst)``", README
    )

    assert linked
    assert [path for path in linked if not (REPOSITORY / path).is_file()] == []


def test_the_readme_opens_with_how_to_try_it() -> None:
    headings = re.findall(r"^(\S.*)\n={3,}\n", README, re.M)
    first_screen = "\n".join(README.splitlines()[:50])

    assert headings[1] == "Try it"  # after the title
    assert "make demo" in first_screen
    assert "``demo`` with the password ``demo``" in first_screen


def test_the_quickstart_says_to_migrate_and_how_to_see_it_work() -> None:
    section = README.split("\nQuickstart\n")[1].split("\nDocumentation\n")[0]
    quickstart = " ".join(section.split())

    assert "python manage.py migrate" in quickstart
    assert "python manage.py sessions list" in quickstart
