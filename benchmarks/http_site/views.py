"""The site's pages, sync and async, one per step of the flows.

Every page answers with a short plain text that the load generator checks. In
the configurations without a session (the floors) each page does the same work
less the session's part, and answers with the same kind of text.

* ``start``: begins an anonymous session that holds a token of the visitor's.
* ``read``: flow (a), an anonymous page that reads the session.
* ``write``: flow (b), a logged-in page that reads and writes one key.
* ``login`` and ``logout``: flow (c).
* ``side``: flow (d), a page that reads one of two keys, works, then changes it;
  ``state`` shows both keys, for counting the changes that were lost.
"""

from __future__ import annotations

import asyncio
import json
import time

from django.contrib.auth import (
    SESSION_KEY,
    aauthenticate,
    alogin,
    alogout,
    authenticate,
    login,
    logout,
)
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden

from .engines import PAGE_WORK, SIDES, selected

SESSIONS = not selected().is_floor
TOKEN = "token"
NOBODY = "-"


def text(value: object) -> HttpResponse:
    return HttpResponse(str(value), content_type="text/plain")


def credentials(request: HttpRequest) -> tuple[str | None, str | None]:
    return request.POST.get("username"), request.POST.get("password")


def side_of(request: HttpRequest) -> str:
    side = request.GET.get("key", "")
    if side not in SIDES:
        raise ValueError(f"no such key: {side!r}")
    return side


# Sync -------------------------------------------------------------------------


def start(request: HttpRequest) -> HttpResponse:
    token = request.GET.get(TOKEN, "")
    if SESSIONS:
        request.session[TOKEN] = token
    return text(token)


def read(request: HttpRequest) -> HttpResponse:
    return text(request.session.get(TOKEN, NOBODY) if SESSIONS else NOBODY)


def write(request: HttpRequest) -> HttpResponse:
    if not SESSIONS:
        return text(f"{NOBODY} 0")
    count = request.session.get("count", 0) + 1
    request.session["count"] = count
    return text(f"{request.session.get(SESSION_KEY, NOBODY)} {count}")


def log_in(request: HttpRequest) -> HttpResponse:
    username, password = credentials(request)
    user = authenticate(request, username=username, password=password)
    if user is None:
        return HttpResponseForbidden()
    if SESSIONS:
        login(request, user)
    return text(user.pk)


def log_out(request: HttpRequest) -> HttpResponse:
    if SESSIONS:
        logout(request)
    return text(NOBODY)


def side(request: HttpRequest) -> HttpResponse:
    key = side_of(request)
    count = request.session.get(key, 0) + 1 if SESSIONS else 0
    time.sleep(PAGE_WORK)
    if SESSIONS:
        request.session[key] = count
    return text(count)


def state(request: HttpRequest) -> HttpResponse:
    values = {key: request.session.get(key, 0) if SESSIONS else 0 for key in SIDES}
    return HttpResponse(json.dumps(values), content_type="application/json")


# Async ------------------------------------------------------------------------


async def astart(request: HttpRequest) -> HttpResponse:
    token = request.GET.get(TOKEN, "")
    if SESSIONS:
        await request.session.aset(TOKEN, token)
    return text(token)


async def aread(request: HttpRequest) -> HttpResponse:
    return text(await request.session.aget(TOKEN, NOBODY) if SESSIONS else NOBODY)


async def awrite(request: HttpRequest) -> HttpResponse:
    if not SESSIONS:
        return text(f"{NOBODY} 0")
    count = await request.session.aget("count", 0) + 1
    await request.session.aset("count", count)
    return text(f"{await request.session.aget(SESSION_KEY, NOBODY)} {count}")


async def alog_in(request: HttpRequest) -> HttpResponse:
    username, password = credentials(request)
    user = await aauthenticate(request, username=username, password=password)
    if user is None:
        return HttpResponseForbidden()
    if SESSIONS:
        await alogin(request, user)
    return text(user.pk)


async def alog_out(request: HttpRequest) -> HttpResponse:
    if SESSIONS:
        await alogout(request)
    return text(NOBODY)


async def aside(request: HttpRequest) -> HttpResponse:
    key = side_of(request)
    count = await request.session.aget(key, 0) + 1 if SESSIONS else 0
    await asyncio.sleep(PAGE_WORK)
    if SESSIONS:
        await request.session.aset(key, count)
    return text(count)


async def astate(request: HttpRequest) -> HttpResponse:
    values = {key: await request.session.aget(key, 0) if SESSIONS else 0 for key in SIDES}
    return HttpResponse(json.dumps(values), content_type="application/json")
