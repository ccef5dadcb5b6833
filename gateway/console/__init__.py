"""The operator console at ``/console``: a WSGI application on the gateway's own Twisted site,
rendered on the server with jinja2 (autoescaped) and usable without JavaScript.

A page is a route (:data:`gateway.console.pages.ROUTES`), a template under ``templates/`` and a
store query (``gateway/store/console_*.py``). :mod:`gateway.console.security` holds what every
request goes through: the session cookie, the CSRF token, the login rate limit and the headers.
"""
from __future__ import annotations

PATH = "/console"

__all__ = ["PATH"]
