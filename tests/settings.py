"""Settings of the test suite.

The Redis URL is set by a fixture in conftest.py; a subprocess that runs
``python -m django ... --settings=tests.settings`` gets it from the
environment variable ``REDIS_SESSIONS_TEST_URL``.
"""

from __future__ import annotations

import os
import sys

from tests.support.django_suite import cached_django_tests

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
# What the commands print times in, as the admin shows them.
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

INSTALLED_APPS = [
    # Before django.contrib.sessions, so that its clearsessions command wins.
    "redis_sessions",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "tests.testapp",
]

# Django's own session tests, imported as the package ``sessions_tests``, when the
# cache has them: pytest fills it as it starts (see tests/support/django_suite.py);
# importing these settings only looks, and never touches the network.
DJANGO_TESTS = cached_django_tests()
if DJANGO_TESTS is not None:
    if str(DJANGO_TESTS) not in sys.path:
        sys.path.insert(0, str(DJANGO_TESTS))
    INSTALLED_APPS.append("sessions_tests")

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.testapp.urls"

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

SESSION_ENGINE = "redis_sessions.session"

# The admin's pages in a real browser (tests/test_admin_browser.py) need its CSS.
STATIC_URL = "static/"

# Replaced by a fixture in the test run; port 1 refuses connections.
REDIS_SESSIONS = {"URL": os.environ.get("REDIS_SESSIONS_TEST_URL", "redis://127.0.0.1:1/0")}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
