"""The "Your sessions" page: a signed-in user's sessions, and ending them.

Include its URLs where the site wants the page::

    path("account/sessions/", include("redis_sessions.urls")),

The page lists the user's sessions (:func:`redis_sessions.devices.user_devices`),
the current one first, with the browser, address, creation and last activity
recorded with ``DEVICE_DETAILS``. Each other session has an "End this session"
button, and the page a "Log out all other sessions" one: both are forms that
POST, with Django's CSRF token, and ask for a confirmation first. Sessions
are named by stored id, never by key. :class:`YourSessionsView` runs sync,
:class:`AsyncYourSessionsView` on the event loop; both render the template
``redis_sessions/your_sessions.html``, which a site can override.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import AccessMixin, LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.views import View

from redis_sessions.devices import (
    Device,
    aend_device,
    aend_other_devices,
    auser_devices,
    end_device,
    end_other_devices,
    user_devices,
)

__all__ = ["AsyncYourSessionsView", "YourSessionsView"]

#: The POST field that says what to do, and its values.
ACTION = "action"
END = "end"
END_OTHERS = "end-others"
#: The POST field of the stored id to end.
SESSION = "session"
#: The POST field a confirmation form adds.
CONFIRMED = "confirmed"


class Page:
    """What the page shows and how a POST is read: shared by both views."""

    template_name = "redis_sessions/your_sessions.html"

    def render_page(
        self, request: HttpRequest, devices: list[Device], **extra: Any
    ) -> HttpResponse:
        others = [device for device in devices if not device.current]
        context = {"devices": devices, "others": others, **extra}
        return render(request, self.template_name, context)

    def confirmation(self, request: HttpRequest, devices: list[Device]) -> HttpResponse | None:
        """The page that asks to confirm a POST not yet confirmed; None once it is."""
        if request.POST.get(CONFIRMED) == "yes":
            return None
        action = request.POST.get(ACTION)
        stored_id = request.POST.get(SESSION, "")
        ending = next((d for d in devices if d.stored_id == stored_id and not d.current), None)
        if action == END and ending is None:
            return self.render_page(request, devices, notice="That session has already ended.")
        if action not in (END, END_OTHERS):
            return self.render_page(request, devices, notice="Nothing was asked for.")
        return self.render_page(request, devices, confirm=action, ending=ending)


class YourSessionsView(LoginRequiredMixin, Page, View):
    """The "Your sessions" page, sync."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_page(request, user_devices(request))

    def post(self, request: HttpRequest) -> HttpResponseBase:
        asked = self.confirmation(request, user_devices(request))
        if asked is not None:
            return asked
        if request.POST[ACTION] == END:
            end_device(request, request.POST.get(SESSION, ""))
        else:
            end_other_devices(request)
        return HttpResponseRedirect(request.path)


class AsyncYourSessionsView(AccessMixin, Page, View):
    """The "Your sessions" page, on the event loop.

    Put it in the URLconf in place of :class:`YourSessionsView` under ASGI;
    the user is loaded with ``request.auser()``, and one who is not signed in
    is sent to the login page, as ``LoginRequiredMixin`` does.
    """

    async def signed_in(self, request: HttpRequest) -> bool:
        request.user = await request.auser()
        return bool(request.user.is_authenticated)

    async def get(self, request: HttpRequest) -> HttpResponseBase:
        if not await self.signed_in(request):
            return self.handle_no_permission()
        return self.render_page(request, await auser_devices(request))

    async def post(self, request: HttpRequest) -> HttpResponseBase:
        if not await self.signed_in(request):
            return self.handle_no_permission()
        asked = self.confirmation(request, await auser_devices(request))
        if asked is not None:
            return asked
        if request.POST[ACTION] == END:
            await aend_device(request, request.POST.get(SESSION, ""))
        else:
            await aend_other_devices(request)
        return HttpResponseRedirect(request.path)
