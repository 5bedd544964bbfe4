"""The async views: the session through ``aget``/``aset``, ``alogin``, ``alogout``."""

from __future__ import annotations

from django.contrib.auth import aauthenticate, alogin, alogout
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden

from benchmarks.asgi_site.responses import counter_response


async def counter(request: HttpRequest) -> HttpResponse:
    # The user as well as the counter: the load generator checks that a login
    # sticks and that a logout ends it.
    user = await request.auser()
    count = await request.session.aget("count", 0) + 1
    await request.session.aset("count", count)
    return counter_response(count, user)


async def log_in(request: HttpRequest) -> HttpResponse:
    user = await aauthenticate(
        request, username=request.POST.get("username"), password=request.POST.get("password")
    )
    if user is None:
        return HttpResponseForbidden()
    await alogin(request, user)
    return HttpResponse(user.get_username(), content_type="text/plain")


async def log_out(request: HttpRequest) -> HttpResponse:
    await alogout(request)
    return HttpResponse("bye", content_type="text/plain")
