from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from demo import views

urlpatterns = [
    path("", views.home, name="home"),
    path("set/", views.set_value, name="set-value"),
    path("replay-after-logout/", views.replay_after_logout, name="replay-after-logout"),
    path("concurrent-changes/", views.concurrent_changes, name="concurrent-changes"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="demo/login.html"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("sessions/", include("redis_sessions.urls")),
    path("admin/", admin.site.urls),
]
