"""One frozen settings object, read from a TOML file with environment overrides.

Without a file the gateway runs on embedded defaults: 127.0.0.1:8080, SQLite and blobs
under ``var/``, and a demo sender (``demo``/``demo``) that is refused on any non-loopback
address. Environment variables ``GATEWAY_<SECTION>_<KEY>`` (for example
``GATEWAY_SERVER_PORT=9000`` or ``GATEWAY_STORAGE_DATABASE_URL=postgresql+psycopg://...``)
override scalar keys of the ``[server]``, ``[storage]``, ``[intake]`` and ``[logging]``
sections. Relative paths are relative to the working directory.

The sections are declared in :mod:`gateway.config.sections`, read in
:mod:`gateway.config.loading` and checked as a whole in :mod:`gateway.config.checks`.
"""
from gateway.config import sections
from gateway.config.loading import demo_sender, load_settings
from gateway.config.sections import *  # noqa: F403 - the sections are this package's API

__all__ = [*sections.__all__, "demo_sender", "load_settings"]
