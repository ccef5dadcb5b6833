"""``gateway serve`` and ``gateway worker``: the processes that run the gateway."""
from __future__ import annotations

import argparse
import functools
import gc
import os
import sys
from pathlib import Path
from typing import Any

from gateway import __version__
from gateway.config import Settings
from gateway.cli.common import configure_logging, settings_of


def cmd_serve(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    configure_logging(settings)
    if args.listen_fd is None and settings.server.processes > 1:
        return _supervise(args, settings)
    from twisted.internet import reactor as installed_reactor

    reactor: Any = installed_reactor  # twisted types the module, not the reactor it installs

    from gateway.runtime import Runtime
    from gateway.server import listen
    from gateway.supervisor import stop_when_orphaned

    supervised = args.listen_fd is not None
    # the supervisor applied the migrations before it started anyone
    runtime = Runtime.open(settings, upgrade=not supervised)
    running = listen(runtime, reactor, adopt_fd=args.listen_fd)
    host, port = running.address
    base = f"{'https' if settings.server.tls else 'http'}://{host}:{port}"
    if supervised:
        print(f"gateway {__version__} serving process {os.getpid()} ready on {base}", flush=True)
        stop_when_orphaned(lambda: reactor.callFromThread(reactor.stop))
    else:
        _print_banner(settings, base)
    if settings.dispatch.enabled and not supervised:
        runtime.start_workers()
        print(f"  dispatch:  {settings.dispatch.workers} worker(s); channels: {', '.join(runtime.dispatcher.channels) or 'none'}", flush=True)
    reactor.addSystemEventTrigger("before", "shutdown", running.stop)
    reactor.addSystemEventTrigger("after", "shutdown", runtime.close)
    # Everything loaded so far lives as long as the process. Freezing it keeps the full
    # collections spyne runs every second (to release request files) short.
    gc.collect()
    gc.freeze()
    reactor.run()
    return 0


def _print_banner(settings: Settings, base: str) -> None:
    from gateway.soap import noark, svarut

    print(f"gateway {__version__} listening on {base} ({settings.source})", flush=True)
    print(f"  SvarUt V9: {base}{svarut.PATH}  (WSDL: {base}{svarut.PATH}?wsdl)", flush=True)
    print(f"  noarkExchange (BEST/EDU): {base}{noark.PATH}  (WSDL: {base}{noark.PATH}?wsdl)", flush=True)
    if settings.console.enabled:
        from gateway.console import PATH as CONSOLE

        who = f"{len(settings.console.operators)} operator(s)" if settings.console.operators else "no [[operators]]: nobody can log in"
        print(f"  operator console: {base}{CONSOLE}/  ({who})", flush=True)
    print(f"  database:  {_safe_url(settings.storage.resolved_database_url)}", flush=True)


def _supervise(args: argparse.Namespace, settings: Settings) -> int:
    """``server.processes`` > 1: bind once, migrate once, run and watch the processes."""
    from gateway.store import migrate
    from gateway.store.engine import create_engine
    from gateway.metrics import MULTIPROC_ENV, mark_dead, prepare_directory
    from gateway.supervisor import Supervisor, child_specs, listening_socket

    engine = create_engine(settings.storage.resolved_database_url, pool_size=1)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    try:
        sock = listening_socket(settings.server.host, settings.server.port)
    except OSError as exc:
        print(f"gateway: cannot listen on {settings.server.host}:{settings.server.port}: {exc}", file=sys.stderr)
        return 1
    host, port = sock.getsockname()[:2]
    base = f"{'https' if settings.server.tls else 'http'}://{host}:{port}"
    children = child_specs(settings, args.config, sock.fileno())
    # the socket listens already: connections wait in its backlog until a process is up
    _print_banner(settings, base)
    dispatch = "; dispatch in a process of its own" if settings.dispatch.enabled else ""
    print(f"  processes: {settings.server.processes} serving, {settings.server.threads} thread(s) each{dispatch}", flush=True)
    # every process writes its metrics here, and a scrape of any serving process sums them
    metrics_dir = prepare_directory(Path(settings.storage.data_dir) / "metrics")
    try:
        return Supervisor(children, before_stop=sock.close, environment={MULTIPROC_ENV: str(metrics_dir)},
                          on_exit=functools.partial(mark_dead, metrics_dir)).run()
    finally:
        sock.close()


def cmd_worker(args: argparse.Namespace) -> int:
    import signal
    import threading

    from gateway.runtime import Runtime

    settings = settings_of(args)
    configure_logging(settings)
    supervised = bool(os.environ.get("GATEWAY_SUPERVISED"))
    runtime = Runtime.open(settings, upgrade=not supervised)  # a supervisor has migrated already
    pool = runtime.start_workers(args.workers)
    print(f"gateway worker: {len(pool.workers)} worker(s); channels: {', '.join(runtime.dispatcher.channels) or 'none'}", flush=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    if supervised:
        from gateway.supervisor import stop_when_orphaned

        stop_when_orphaned(done.set)
    done.wait()
    runtime.close()
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
