"""Developer tooling: benchmarks and ``manage.py evaluate``.

Installed in development and tests (settings add the app when this package is
importable), never in the production image: the Dockerfile does not copy it,
and it uses test machinery (the test client, a scratch database).
"""
