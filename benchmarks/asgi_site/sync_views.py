"""The sync views: the same work as :mod:`.async_views` through the sync API."""

from __future__ import annotations

from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden

from benchmarks.asgi_site.responses import counter_response


def counter(request: HttpRequest) -> HttpResponse:
    user = request.user
    count = request.session.get("count", 0) + 1
    request.session["count"] = count
    return counter_response(count, user)


def log_in(request: HttpRequest) -> HttpResponse:
    user = authenticate(
        request, username=request.POST.get("username"), password=request.POST.get("password")
    )
    if user is None:
        return HttpResponseForbidden()
    login(request, user)
    return HttpResponse(user.get_username(), content_type="text/plain")


def log_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponse("bye", content_type="text/plain")
