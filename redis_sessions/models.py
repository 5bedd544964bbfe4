"""A model with no table, so that the Django admin can list sessions and its
permission system can guard them.

Sessions live in Redis, not in the database: the model is unmanaged, nothing
ever queries it, and its migration creates no table. It exists for what Django
attaches to a model: a place in the admin index, and permissions that can be
granted to users and groups. See :mod:`redis_sessions.admin`.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Session(models.Model):
    """A session in Redis, as the admin's permissions know it. Never queried."""

    # Declared so that the model needs no automatic primary key (and no
    # DEFAULT_AUTO_FIELD); there is no column behind it.
    session_key = models.CharField(_("session key"), max_length=64, primary_key=True)

    class Meta:
        managed = False
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        # Viewing only: the admin never adds or changes a session.
        default_permissions = ("view",)
        permissions = [
            ("view_secrets", _("Can see the secret values of sessions")),
            ("end_session", _("Can end sessions")),
        ]

    def __str__(self) -> str:
        return self.session_key
