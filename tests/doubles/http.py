"""A tiny threaded HTTP server on 127.0.0.1 for protocol test doubles; stops by itself."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


class LoopbackServer:
    """Runs ``handler_class`` on a free loopback port in a daemon thread (a context manager).

    ``server`` is a ready server bound to 127.0.0.1 (e.g. one that speaks TLS) to run instead.
    """

    def __init__(self, handler_class: type[BaseHTTPRequestHandler] | None = None, *, context: Any = None,
                 server: ThreadingHTTPServer | None = None, scheme: str = "http") -> None:
        if server is None:
            assert handler_class is not None
            server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
            server.context = context  # type: ignore[attr-defined]
        self.httpd = server
        self.httpd.daemon_threads = True
        self.scheme = scheme
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def __enter__(self) -> "LoopbackServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def quiet(cls: type[BaseHTTPRequestHandler]) -> type[BaseHTTPRequestHandler]:
    """No request log; and TCP_NODELAY, or headers and body written separately meet the
    client's delayed ACK and every answer waits 40 ms (a double artefact, not the gateway's)."""
    cls.log_message = lambda self, *args: None  # type: ignore[method-assign]
    cls.disable_nagle_algorithm = True
    return cls


Handler = Callable[..., None]
