"""The test settings with ``django.contrib.sessions`` listed before this app."""

from __future__ import annotations

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS as _APPS

INSTALLED_APPS = [app for app in _APPS if app != "redis_sessions"]
INSTALLED_APPS.insert(INSTALLED_APPS.index("django.contrib.sessions") + 1, "redis_sessions")
