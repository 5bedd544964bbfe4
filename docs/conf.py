"""Sphinx configuration of the manual: ``make docs`` builds it into docs/_build/html/."""

from __future__ import annotations

import sys
from pathlib import Path

import django
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis_sessions  # noqa: E402

# The API reference imports the package's modules, which need configured settings.
if not settings.configured:
    settings.configure(
        INSTALLED_APPS=[
            "redis_sessions",
            "django.contrib.admin",
            "django.contrib.messages",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
        ],
        SESSION_ENGINE="redis_sessions.session",
        USE_TZ=True,
    )
    django.setup()

project = "django-redis-session-engine"
author = "the django-redis-session-engine authors"
copyright = "2026, the django-redis-session-engine authors"
version = release = redis_sessions.__version__

# Sphinx's own extensions only: the build needs no network.
extensions = ["sphinx.ext.autodoc"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"

root_doc = "index"
exclude_patterns = ["_build"]
templates_path: list[str] = []
html_theme = "alabaster"
html_static_path: list[str] = []
html_theme_options = {
    "description": "Django sessions in Redis, atomic and merged field by field.",
    "fixed_sidebar": False,
}
html_show_sourcelink = False
