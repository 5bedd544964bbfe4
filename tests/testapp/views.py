"""Views that the end-to-end tests drive through Django's test client."""

from __future__ import annotations

from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt


def counter(request: HttpRequest) -> JsonResponse:
    request.session["count"] = request.session.get("count", 0) + 1
    return JsonResponse({"count": request.session["count"]})


def set_value(request: HttpRequest, name: str, value: str) -> JsonResponse:
    request.session[name] = value
    return JsonResponse(dict(request.session.items()))


@csrf_exempt
def log_in(request: HttpRequest) -> HttpResponse:
    user = authenticate(
        request, username=request.POST["username"], password=request.POST["password"]
    )
    if user is None:
        return HttpResponse(status=403)
    login(request, user)
    return HttpResponse("ok")


@csrf_exempt
def log_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponse("bye")


def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"user": request.user.get_username() if request.user.is_authenticated else None}
    )


@csrf_exempt
def change_password(request: HttpRequest) -> HttpResponse:
    user = request.user
    user.set_password(request.POST["new_password"])
    user.save()
    update_session_auth_hash(request, user)  # type: ignore[arg-type]
    return HttpResponse("changed")
