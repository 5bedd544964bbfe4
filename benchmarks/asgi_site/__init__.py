"""A minimal Django site for ``benchmarks.bench_asgi``, served by uvicorn.

One settings module serves the three configurations of :mod:`.configs`; the
environment variable ``ASGI_BENCH_CONFIG`` picks one when the server starts.
"""
