"""The Django site that ``benchmarks.bench_http`` serves, one configuration per engine.

Its modules import one another relatively and nothing else of this repository,
so that a server of another virtualenv (django-redis-sessions, which has this
package's import name) can serve it from a directory holding it alone.
"""
