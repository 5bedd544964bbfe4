"""The URL of the "Your sessions" page: ``path("sessions/", include("redis_sessions.urls"))``."""

from __future__ import annotations

from django.urls import path

from redis_sessions.views import YourSessionsView

app_name = "redis_sessions"

urlpatterns = [
    path("", YourSessionsView.as_view(), name="your_sessions"),
]
