from __future__ import annotations

from django.apps import apps
from django.urls import URLPattern, URLResolver, path

from tests.testapp import async_views, views

urlpatterns: list[URLPattern | URLResolver] = [
    path("counter/", views.counter),
    path("set/<str:name>/<str:value>/", views.set_value),
    path("login/", views.log_in),
    path("logout/", views.log_out),
    path("whoami/", views.whoami),
    path("password/", views.change_password),
    path("async/counter/", async_views.counter),
    path("async/login/", async_views.log_in),
    path("async/logout/", async_views.log_out),
    path("async/whoami/", async_views.whoami),
]

# Settings that leave the admin out (tests of the app without it) use these URLs too.
if apps.is_installed("django.contrib.admin"):
    from django.contrib import admin

    urlpatterns.append(path("admin/", admin.site.urls))
