"""Async views, for the end-to-end tests of the native async path."""

from __future__ import annotations

from django.contrib.auth import aauthenticate, alogin, alogout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt


async def counter(request: HttpRequest) -> JsonResponse:
    count = await request.session.aget("count", 0) + 1
    await request.session.aset("count", count)
    return JsonResponse({"count": count})


@csrf_exempt
async def log_in(request: HttpRequest) -> HttpResponse:
    user = await aauthenticate(
        request, username=request.POST["username"], password=request.POST["password"]
    )
    if user is None:
        return HttpResponse(status=403)
    await alogin(request, user)
    return HttpResponse("ok")


@csrf_exempt
async def log_out(request: HttpRequest) -> HttpResponse:
    await alogout(request)
    return HttpResponse("bye")


async def whoami(request: HttpRequest) -> JsonResponse:
    user = await request.auser()
    return JsonResponse({"user": user.get_username() if user.is_authenticated else None})
