"""Sessions in the Django admin: a read-only viewer, and a way to end sessions.

Only the admin's autodiscovery imports this module, so a site without
``django.contrib.admin`` never loads it. The model it registers,
:class:`redis_sessions.models.Session`, has no table: the views below read
Redis through the store, and the model lends them its place in the admin
index and its permissions:

``redis_sessions.view_session``
    See the list of sessions and each session's page, with secret values
    masked.
``redis_sessions.view_secrets``
    See the values that :mod:`redis_sessions.admin.masking` takes for secrets,
    unmasked.
``redis_sessions.end_session``
    End a session, or every session of a user, as a logout does, after a
    confirmation page. Each ending is logged (logger ``redis_sessions``) and
    recorded in the admin's own log as a deletion, which its recent actions
    show.

Superusers hold every permission, these three included: they see secret
values unmasked.

Nothing here adds or changes a session. Pages, links and searches know a
session by its stored id (``redis_sessions.store.keys.stored_id``), what Redis
knows it by: a session key is a credential, which never leaves the cookie and
the request that carries it, and a stored id cannot be used as one.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import pprint
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from redis_sessions.admin import paging
from redis_sessions.admin.masking import SECRET_KEYS, SECRET_WORDS, masked
from redis_sessions.exceptions import StoreUnavailable
from redis_sessions.models import Session
from redis_sessions.store import Store, StoredSession, get_store
from redis_sessions.store.ended import ADMIN
from redis_sessions.store.keys import STORED_ID_LENGTH, abbreviated, stored_id

logger = logging.getLogger("redis_sessions")

#: A search by stored id: its start, or all of it.
_ID_QUERY_RE = re.compile(r"[A-Z2-7]{1,32}")

_TEMPLATES = "admin/redis_sessions/session/"


@dataclass(frozen=True)
class Row:
    """A session as the pages show it: by its stored id, never by its key."""

    #: The start of its stored id, as lists and titles show it.
    short_id: str
    #: Its stored id, which names it in URLs.
    stored_id: str
    #: Its page.
    url: str
    user_id: str | None
    #: The username and id of a user of the database, or the bare id.
    user_label: str
    #: The user's admin page, when there is one the viewer may open.
    user_url: str | None
    created: datetime.datetime
    saved: datetime.datetime
    #: When it expires; None if it never does.
    expires: datetime.datetime | None
    #: Bytes of its stored fields and values.
    size: int
    #: Whether it is the session of the request that shows it.
    current: bool


def _moment(seconds: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)


def _pretty(data: Any) -> str:
    """The session data as indented JSON, as ``manage.py sessions show`` prints it."""
    try:
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=repr)
    except TypeError:
        # Keys JSON cannot sort or hold, from another SESSION_SERIALIZER.
        return pprint.pformat(data, indent=2)


if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Session]
else:
    # Generic only in django-stubs.
    _ModelAdmin = admin.ModelAdmin


@admin.register(Session)
class SessionAdmin(_ModelAdmin):
    """The viewer: a list paged with SCAN's cursor, a page per session, and
    confirmation pages to end sessions. Its pages are its own views (see
    :meth:`get_urls`); Django's add, change, delete and history views are not
    served."""

    #: Sessions on a page of the list (about: see :mod:`redis_sessions.admin.paging`).
    list_per_page = 100
    #: The most SCAN calls one page of the list makes.
    max_scans = 32
    #: What makes a key of the session data secret (see :mod:`redis_sessions.admin.masking`).
    secret_words: tuple[str, ...] = SECRET_WORDS
    secret_keys: frozenset[str] = SECRET_KEYS

    # Permissions. Viewing is Django's own view permission; adding and changing
    # are refused to everyone, superusers included.

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Session | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Session | None = None) -> bool:
        return False

    def has_secrets_permission(self, request: HttpRequest) -> bool:
        """Whether the viewer sees secret values unmasked."""
        return request.user.has_perm(f"{self.opts.app_label}.view_secrets")

    def has_end_permission(self, request: HttpRequest) -> bool:
        """Whether the viewer may end sessions."""
        return request.user.has_perm(f"{self.opts.app_label}.end_session")

    # URLs

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"

        def view(function: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            return self.admin_site.admin_view(self._reporting_outages(function))

        return [
            path("", view(self.list_view), name=f"{prefix}_changelist"),
            path("users/<path:user_id>/end/", view(self.end_user_view), name=f"{prefix}_end_user"),
            path("<str:stored_id>/", view(self.detail_view), name=f"{prefix}_detail"),
            path("<str:stored_id>/end/", view(self.end_view), name=f"{prefix}_end"),
        ]

    def _url(self, name: str, *args: str) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}",
            args=args,
            current_app=self.admin_site.name,
        )

    def _reporting_outages(self, view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        """Answer 503 with the store's message, rather than a 500, while Redis is out."""

        @functools.wraps(view)
        def reporting(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except StoreUnavailable as exc:
                context = self._context(request, _("Sessions are unavailable"), error=str(exc))
                return TemplateResponse(
                    request, _TEMPLATES + "unavailable.html", context, status=503
                )

        return reporting

    def _context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        request.current_app = self.admin_site.name
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "has_view_permission": True,
            "changelist_url": self._url("changelist"),
            **extra,
        }

    # What the pages show of sessions

    def _rows(self, request: HttpRequest, listed: Iterable[paging.Listed]) -> list[Row]:
        listed = list(listed)
        users = self._users(request, {item.session.user_id for item in listed} - {None})
        now = time.time()
        current = getattr(request, "session", None)
        current_key = getattr(current, "session_key", None)
        current_id = None if current_key is None else stored_id(current_key)
        rows = []
        for session, ttl, size in listed:
            label, user_url = users.get(session.user_id or "", (session.user_id or "", None))
            rows.append(
                Row(
                    short_id=abbreviated(session.stored_id),
                    stored_id=session.stored_id,
                    url=self._url("detail", session.stored_id),
                    user_id=session.user_id,
                    user_label=label,
                    user_url=user_url,
                    created=_moment(session.created),
                    saved=_moment(session.saved),
                    expires=None if ttl is None else _moment(int(now) + ttl),
                    size=size,
                    current=session.stored_id == current_id,
                )
            )
        return rows

    def _users(
        self, request: HttpRequest, user_ids: set[str | None]
    ) -> dict[str, tuple[str, str | None]]:
        """The label and admin URL of each user id that names a user of the database."""
        if not user_ids or not apps.is_installed("django.contrib.auth"):
            return {}
        user_model = get_user_model()
        pk_field = user_model._meta.pk
        assert pk_field is not None
        pks = []
        for user_id in user_ids:
            try:
                pks.append(pk_field.to_python(user_id))
            except ValidationError:
                continue  # not a key of this user model: shown as it is
        url_name = None
        if self.admin_site.is_registered(user_model):
            user_admin = self.admin_site.get_model_admin(user_model)
            if user_admin.has_view_or_change_permission(request):
                opts = user_model._meta
                url_name = f"admin:{opts.app_label}_{opts.model_name}_change"
        found: dict[str, tuple[str, str | None]] = {}
        for user in user_model._default_manager.filter(pk__in=pks):
            url = None
            if url_name is not None:
                url = reverse(url_name, args=[quote(user.pk)], current_app=self.admin_site.name)
            label = f"{user} ({user.pk})"
            found[str(user.pk)] = (label, url)
        return found

    def _user_ids(self, query: str) -> list[str]:
        """The user ids a search names: the query itself, and the ids of the
        users whose username it is (in any case)."""
        user_ids = [query]
        if apps.is_installed("django.contrib.auth"):
            user_model = get_user_model()
            lookup = {f"{user_model.USERNAME_FIELD}__iexact": query}
            for pk in user_model._default_manager.filter(**lookup).values_list("pk", flat=True):
                if str(pk) not in user_ids:
                    user_ids.append(str(pk))
        return user_ids

    def _listed(self, store: Store, sid: str) -> paging.Listed:
        found = paging.read_sessions(store, [sid])
        if not found:
            raise Http404(_("No live session has this address: it ended, or never was."))
        return found[0]

    # The list

    def list_view(self, request: HttpRequest) -> HttpResponse:
        """The live sessions, a page at a time; or those of a user, or of a stored id."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        store = get_store()
        user_query = request.GET.get("user", "").strip()
        key_query = request.GET.get("key", "").strip().rstrip(".").upper()
        authenticated = {"1": True, "0": False}.get(request.GET.get("auth", ""))
        cursor = request.GET.get("cursor", "0")
        next_cursor = "0"
        notice = None
        listed: list[paging.Listed]
        if key_query and _ID_QUERY_RE.fullmatch(key_query) is None:
            listed = []
            notice = _("Stored ids are made of the letters A to Z and the digits 2 to 7.")
        elif user_query:
            listed = self._sessions_of(store, user_query, key_query, authenticated)
        elif len(key_query) == STORED_ID_LENGTH:
            listed = [
                item
                for item in paging.read_sessions(store, [key_query])
                if authenticated is None or (item.session.user_id is not None) == authenticated
            ]
        else:
            try:
                listed, next_cursor = paging.scan_page(
                    store,
                    cursor,
                    self.list_per_page,
                    id_prefix=key_query,
                    authenticated=authenticated,
                    max_scans=self.max_scans,
                )
            except ValueError as exc:
                raise BadRequest(str(exc)) from exc
        filters = [
            (_("All"), None, authenticated is None),
            (_("Authenticated"), "1", authenticated is True),
            (_("Anonymous"), "0", authenticated is False),
        ]
        context = self._context(
            request,
            _("Select %s to view") % self.opts.verbose_name,
            rows=self._rows(request, listed),
            user_query=user_query,
            key_query=key_query,
            auth=request.GET.get("auth", ""),
            notice=notice,
            searching=bool(user_query or key_query),
            filters=[
                (label, _query_string(request, auth=value, cursor=None), selected)
                for label, value, selected in filters
            ],
            next_url=_query_string(request, cursor=next_cursor) if next_cursor != "0" else None,
            first_url=_query_string(request, cursor=None) if cursor != "0" else None,
        )
        return TemplateResponse(request, _TEMPLATES + "session_list.html", context)

    def _sessions_of(
        self,
        store: Store,
        user_query: str,
        key_query: str,
        authenticated: bool | None,
    ) -> list[paging.Listed]:
        if authenticated is False:
            return []
        found: dict[str, StoredSession] = {}
        for user_id in self._user_ids(user_query):
            for stored in store.user_sessions(user_id):
                if stored.stored_id.startswith(key_query):
                    found[stored.stored_id] = stored
        sessions = sorted(found.values(), key=lambda stored: (stored.created, stored.stored_id))
        return paging.with_details(store, sessions)

    # One session

    def detail_view(self, request: HttpRequest, stored_id: str) -> HttpResponse:
        """A session's metadata and data, secrets masked unless the viewer may see them."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        listed = self._listed(get_store(), stored_id)
        (row,) = self._rows(request, [listed])
        data: Any = listed.session.data
        hidden = 0
        if not self.has_secrets_permission(request):
            data, hidden = masked(data, words=self.secret_words, keys=self.secret_keys)
        context = self._context(
            request,
            _("Session %(key)s") % {"key": row.short_id},
            row=row,
            data=_pretty(data),
            keys=len(listed.session.data),
            hidden=hidden,
            can_end=self.has_end_permission(request),
            end_url=self._url("end", row.stored_id),
            end_user_url=None if row.user_id is None else self._url("end_user", row.user_id),
        )
        return TemplateResponse(request, _TEMPLATES + "session_detail.html", context)

    # Ending sessions

    def end_view(self, request: HttpRequest, stored_id: str) -> HttpResponse:
        """Ask, then end one session as a logout does."""
        if not (self.has_view_permission(request) and self.has_end_permission(request)):
            raise PermissionDenied
        store = get_store()
        listed = self._listed(store, stored_id)
        session = listed.session
        short_key = abbreviated(session.stored_id)
        if request.method == "POST":
            # The user id lets the index entry go in the same round trip.
            if store.destroy_id(session.stored_id, user_id=session.user_id, reason=ADMIN):
                logger.info(
                    "%s ended session %s (user %s) in the admin.",
                    _actor(request),
                    short_key,
                    session.user_id or "anonymous",
                )
                owner = f"user {session.user_id}" if session.user_id else "anonymous"
                _record_ending(request, session.stored_id, f"{short_key} ({owner})")
                messages.success(request, _("Session %(key)s was ended.") % {"key": short_key})
            else:
                messages.warning(
                    request, _("Session %(key)s had already ended.") % {"key": short_key}
                )
            return HttpResponseRedirect(self._url("changelist"))
        rows = self._rows(request, [listed])
        context = self._context(
            request,
            _("End session %(key)s?") % {"key": short_key},
            rows=rows,
            user_id=None,
            cancel_url=self._url("detail", rows[0].stored_id),
        )
        return TemplateResponse(request, _TEMPLATES + "end_sessions.html", context)

    def end_user_view(self, request: HttpRequest, user_id: str) -> HttpResponse:
        """Ask, then end every session of a user: "log out everywhere"."""
        if not (self.has_view_permission(request) and self.has_end_permission(request)):
            raise PermissionDenied
        store = get_store()
        if request.method == "POST":
            ended = store.destroy_user_sessions(user_id, reason=ADMIN)
            logger.info(
                "%s ended %d session(s) of user %s in the admin.",
                _actor(request),
                ended,
                user_id,
            )
            if ended:
                _record_ending(request, None, f"{ended} session(s) of user {user_id}")
            messages.success(
                request,
                ngettext(
                    "%(count)d session of user %(user)s was ended.",
                    "%(count)d sessions of user %(user)s were ended.",
                    ended,
                )
                % {"count": ended, "user": user_id},
            )
            return HttpResponseRedirect(self._url("changelist"))
        sessions = store.user_sessions(user_id)
        if not sessions:
            raise Http404(_("This user has no live session."))
        rows = self._rows(request, paging.with_details(store, sessions))
        context = self._context(
            request,
            _("End every session of user %(user)s?") % {"user": rows[0].user_label},
            rows=rows,
            user_id=user_id,
            cancel_url=f"{self._url('changelist')}?{urlencode({'user': user_id})}",
        )
        return TemplateResponse(request, _TEMPLATES + "end_sessions.html", context)


def _record_ending(request: HttpRequest, object_id: str | None, description: str) -> None:
    """Record sessions ended in the admin's own log, as a deletion, so that the
    admin's recent actions list it; by the start of its stored id, never by its key."""
    LogEntry.objects.create(
        user_id=request.user.pk,
        content_type=ContentType.objects.get_for_model(Session),
        object_id=object_id,
        object_repr=description[:200],
        action_flag=DELETION,
    )


def _actor(request: HttpRequest) -> str:
    """Who did something in the admin, for the log: username and id."""
    user = request.user
    return f"{user.get_username()} (id {user.pk})"


def _query_string(request: HttpRequest, **changes: str | None) -> str:
    """This page's query string with ``changes`` made (None removes a parameter)."""
    params = request.GET.copy()
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return f"?{params.urlencode()}"
