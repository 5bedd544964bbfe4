"""Django sessions in Redis: atomic saves, logouts that stay logged out."""

from __future__ import annotations

__version__ = "0.1.0"
