from __future__ import annotations

from django.urls import path

from tests.testapp import views

urlpatterns = [
    path("counter/", views.counter),
    path("set/<str:name>/<str:value>/", views.set_value),
    path("login/", views.log_in),
    path("logout/", views.log_out),
    path("whoami/", views.whoami),
]
