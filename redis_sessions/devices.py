"""Device details of sessions: which browser, from where, last active when.

With ``DEVICE_DETAILS`` on, a session records, as a user logs in, a short
description of the browser (:func:`describe_agent`) and the client's address
(:func:`client_ip`); the engine's session middleware refreshes the address
and the last-activity time at most once per ``ACTIVITY_INTERVAL``. They are
kept in the session's hash as two short fields (``#a`` and ``#p``), under the
session keys :data:`AGENT` and :data:`IP`; the last-activity time is the
session's last-saved time.

:func:`user_devices` lists the sessions of a request's user with those
details, and :func:`end_device` and :func:`end_other_devices` end them: the
API that the "Your sessions" view (:mod:`redis_sessions.views`) is built on,
for a site's own page or JSON endpoint. Sessions are named by stored id,
never by key. Each has an asyncio twin.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from django.http import HttpRequest

from redis_sessions.conf import conf
from redis_sessions.store import StoredSession, get_store
from redis_sessions.store.ended import DEVICE
from redis_sessions.store.keys import is_valid_session_key, stored_id

__all__ = [
    "AGENT",
    "IP",
    "Device",
    "aend_device",
    "aend_other_devices",
    "auser_devices",
    "client_ip",
    "describe_agent",
    "end_device",
    "end_other_devices",
    "record_device",
    "user_devices",
]

#: The session key of the browser's description.
AGENT = "_device_agent"
#: The session key of the client's address.
IP = "_device_ip"

#: The longest description kept: Redis keeps a small hash compact only while
#: every value is at most 64 bytes.
MAX_AGENT = 64

# Browsers, most specific first: Edge and Opera say "Chrome" too, and Chrome
# says "Safari".
_BROWSERS = (
    ("Edge", r"Edg(?:e|A|iOS)?/(\d+)"),
    ("Opera", r"(?:OPR|Opera)/(\d+)"),
    ("Samsung Internet", r"SamsungBrowser/(\d+)"),
    ("Firefox", r"(?:Firefox|FxiOS)/(\d+)"),
    ("Chrome", r"(?:Chrome|CriOS)/(\d+)"),
    ("Safari", r"Version/(\d+)[.\d]* (?:Mobile/\S+ )?Safari/"),
)
_SYSTEMS = (
    ("iOS", r"iPhone|iPad|iPod"),
    ("Android", r"Android"),
    ("ChromeOS", r"CrOS"),
    ("Windows", r"Windows"),
    ("macOS", r"Macintosh|Mac OS X"),
    ("Linux", r"Linux|X11"),
)


def describe_agent(user_agent: str) -> str:
    """A short description of a ``User-Agent`` header: "Firefox 133 on Linux".

    The common browsers and systems are named; any other header is kept as
    it is, cut to :data:`MAX_AGENT` bytes. An empty header gives "".
    """
    browser = next(
        (
            f"{name} {found.group(1)}"
            for name, pattern in _BROWSERS
            if (found := re.search(pattern, user_agent))
        ),
        None,
    )
    system = next((name for name, pattern in _SYSTEMS if re.search(pattern, user_agent)), None)
    if browser and system:
        return f"{browser} on {system}"
    return user_agent.encode()[:MAX_AGENT].decode(errors="ignore").strip()


def client_ip(request: HttpRequest) -> str:
    """The address of the client of ``request``, as the settings say to read it.

    ``CLIENT_IP_HEADER`` names the ``request.META`` key a trusted proxy sets
    (``"HTTP_X_FORWARDED_FOR"``, say): its last address is the one that proxy
    saw. Otherwise ``REMOTE_ADDR``. With ``ANONYMIZE_IP``, an IPv4 address
    loses its last byte and an IPv6 address all but its first 48 bits. A
    value that is not an address gives "".
    """
    header = conf.CLIENT_IP_HEADER
    raw = request.META.get(header or "REMOTE_ADDR", "")
    text = str(raw).split(",")[-1].strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return ""
    if conf.ANONYMIZE_IP:
        bits = 24 if address.version == 4 else 48
        return str(ipaddress.ip_network(f"{address}/{bits}", strict=False).network_address)
    return str(address)


def record_device(request: HttpRequest) -> None:
    """Put the device details of ``request`` in its session (a login calls it)."""
    session: Any = request.session
    session[AGENT] = describe_agent(str(request.META.get("HTTP_USER_AGENT", "")))
    session[IP] = client_ip(request)


@dataclass(frozen=True)
class Device:
    """One session of a user, as the "Your sessions" page shows it."""

    #: What the store knows the session by (never its key).
    stored_id: str
    #: Whether it is the session of the request that asked.
    current: bool
    #: The browser, as :func:`describe_agent` put it; "" when not recorded.
    agent: str
    #: The client's address as last recorded; "" when not recorded.
    ip: str
    created: datetime
    #: When the session was last saved: at most ``ACTIVITY_INTERVAL`` behind
    #: its last request, with device details on.
    last_active: datetime


def _device(stored: StoredSession, current: str | None) -> Device:
    return Device(
        stored_id=stored.stored_id,
        current=stored.stored_id == current,
        agent=str(stored.data.get(AGENT, "")),
        ip=str(stored.data.get(IP, "")),
        created=datetime.fromtimestamp(stored.created, tz=timezone.utc),
        last_active=datetime.fromtimestamp(max(stored.created, stored.saved), tz=timezone.utc),
    )


def _current(request: HttpRequest) -> str | None:
    key = request.session.session_key
    return stored_id(key) if is_valid_session_key(key) and key is not None else None


def _user_id(request: HttpRequest) -> str | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return str(user.pk)


def _listed(sessions: list[StoredSession], request: HttpRequest) -> list[Device]:
    current = _current(request)
    devices = [_device(stored, current) for stored in sessions]
    # The current one first, then the most recently active.
    devices.sort(key=lambda device: (not device.current, -device.last_active.timestamp()))
    return devices


def user_devices(request: HttpRequest) -> list[Device]:
    """The sessions of the request's user, the current one first; [] when anonymous."""
    user_id = _user_id(request)
    if user_id is None:
        return []
    return _listed(get_store().user_sessions(user_id), request)


async def auser_devices(request: HttpRequest) -> list[Device]:
    """The asyncio twin of :func:`user_devices` (the request's user must be loaded)."""
    user_id = _user_id(request)
    if user_id is None:
        return []
    return _listed(await get_store().auser_sessions(user_id), request)


def _endable(request: HttpRequest, stored: StoredSession | None) -> bool:
    user_id = _user_id(request)
    return (
        stored is not None
        and user_id is not None
        and stored.user_id == user_id
        and stored.stored_id != _current(request)
    )


def end_device(request: HttpRequest, stored_id: str) -> bool:
    """End the session ``stored_id`` if it is another session of the request's user.

    Returns whether it ended one. The current session is never ended here
    (logging out does that).
    """
    store = get_store()
    if not _endable(request, store.load_id(stored_id)):
        return False
    return store.destroy_id(stored_id, user_id=_user_id(request), reason=DEVICE)


async def aend_device(request: HttpRequest, stored_id: str) -> bool:
    """The asyncio twin of :func:`end_device`."""
    store = get_store()
    if not _endable(request, await store.aload_id(stored_id)):
        return False
    return await store.adestroy_id(stored_id, user_id=_user_id(request), reason=DEVICE)


def end_other_devices(request: HttpRequest) -> int:
    """End every session of the request's user but the current one; return how many."""
    user_id = _user_id(request)
    if user_id is None:
        return 0
    key = request.session.session_key
    return get_store().destroy_user_sessions(user_id, keep=key, reason=DEVICE)


async def aend_other_devices(request: HttpRequest) -> int:
    """The asyncio twin of :func:`end_other_devices`."""
    user_id = _user_id(request)
    if user_id is None:
        return 0
    key = request.session.session_key
    return await get_store().adestroy_user_sessions(user_id, keep=key, reason=DEVICE)
