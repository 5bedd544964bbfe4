"""Moving sessions that other engines wrote into this one.

:mod:`.legacy_settings` reads the settings of django-redis-sessions,
:mod:`.sources` reads the sessions of each engine a site may come from,
:mod:`.lazy` moves one session as a request presents its key, and
:mod:`.bulk` moves them all (``manage.py sessions migrate``).
"""
