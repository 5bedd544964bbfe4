"""The test settings without ``django.contrib.admin`` (nor the apps only it needs)."""

from __future__ import annotations

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS as _APPS

INSTALLED_APPS = [
    app
    for app in _APPS
    if app not in {"django.contrib.admin", "django.contrib.messages", "django.contrib.staticfiles"}
]
