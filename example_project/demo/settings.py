"""Settings of the example project: the Redis session engine and little else.

Environment variables:

* ``REDIS_URL``: the server sessions are kept in (default ``redis://127.0.0.1:6379/0``);
* ``DEMO_DATABASE``: the SQLite database holding the demo user (default
  ``example_project/db.sqlite3``).

Never deploy this: the secret key is public and DEBUG is on.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "example-project-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    # Before django.contrib.sessions, so that its clearsessions is the one that runs.
    "redis_sessions",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "redis_sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "demo.urls"

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

# Sessions live in Redis; the database only holds users (and the admin's tables).
SESSION_ENGINE = "redis_sessions.session"
REDIS_SESSIONS = {
    "URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    # The "Your sessions" page (/sessions/): each session's browser, address and
    # last activity, and each user's sessions listed from their index.
    "DEVICE_DETAILS": True,
    "USER_INDEX": True,
}

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_DATABASE") or PROJECT_DIR / "db.sqlite3",
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

STATIC_URL = "static/"
USE_TZ = True
# The engine's management commands print times in UTC; in the same zone, the
# admin and the demo's pages show the same times as they do.
TIME_ZONE = "UTC"
