"""The benchmark site's URLs; the configuration decides which views serve them."""

from __future__ import annotations

from django.urls import path

from benchmarks.asgi_site import async_views, configs, responses, sync_views

views = async_views if configs.selected_config().views == "async" else sync_views

urlpatterns = [
    path(configs.COUNTER_PATH.lstrip("/"), views.counter),
    path(configs.LOGIN_PATH.lstrip("/"), views.log_in),
    path(configs.LOGOUT_PATH.lstrip("/"), views.log_out),
    path(configs.INFO_PATH.lstrip("/"), responses.info),
]
