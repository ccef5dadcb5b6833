"""Twisted wiring: the site, the SOAP thread pool and the request-body limit.

spyne's WSGI application is hosted in ``twisted.web.wsgi.WSGIResource`` with a dedicated
thread pool (``spyne.server.twisted`` does not import on Twisted ≥ 24.11). twisted.web has no
body limit of its own: :class:`LimitedRequest` refuses a body over
``server.max_request_bytes`` as soon as it knows (from Content-Length before reading a byte of
the body, or when a chunked body passes the limit), hands the request to the SOAP layer at
once with an empty body, and closes the connection after the answer, so the rest is never
read. The SOAP layer learns of the refusal through :data:`~gateway.soap.protocol.REFUSAL_ENV`,
an environ key no client can set (WSGI puts every header under ``HTTP_``), and answers with
a ``REQUEST_TOO_LARGE`` fault.
"""
from __future__ import annotations

import functools
import io
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from twisted.python.threadpool import ThreadPool
from twisted.web import http, resource, server
from twisted.web.wsgi import WSGIResource

from gateway import __version__
from gateway import console
from gateway.config import ServerSettings
from gateway.console import app as console_app
from gateway.limits import LIMITS
from gateway.monitoring import MetricsResource
from gateway.runtime import Runtime
from gateway.soap import memo, noark, svarut, validation
from gateway.soap.contract import WsdlEndpoint
from gateway.soap.protocol import BODY_BYTES_ENV, ENDPOINT_ENV, REFUSAL_ENV, TOO_LARGE

logger = logging.getLogger(__name__)

IN_MEMORY_BODY_BYTES = LIMITS.in_memory_body_bytes
#: Threads serving the operator console (a handful of people, never the SOAP load).
CONSOLE_THREADS = 4
#: Chunk framing a chunked body may add beyond ``max_request_bytes + max_request_bytes // 8``.
FRAMING_ALLOWANCE = 64 * 1024


class LimitedRequest(server.Request):
    """A request that refuses to read more than the site's ``max_request_bytes``."""

    #: why twisted.web refused the body (:data:`TOO_LARGE`), or None
    refusal: str | None = None
    _received = 0
    _wire = 0
    _chunked = False  # no Content-Length: the body comes chunked (set when the headers are in)

    def _limit(self) -> int:
        return getattr(getattr(self.channel, "site", None), "max_request_bytes", 0) or 0

    def gotLength(self, length: int | None) -> None:
        self._chunked = length is None
        limit = self._limit()
        if limit and length is not None and length > limit:
            self._refuse(TOO_LARGE, length)
            self.channel.length = 0  # the channel now treats the request as complete: no body is read
            super().gotLength(0)
            return
        if length is not None and length <= IN_MEMORY_BODY_BYTES:
            # twisted.web spools every body over 100 kB to a temporary file; a SOAP call
            # with a 100 kB PDF is routine here (gateway.limits: in_memory_body_bytes).
            super().gotLength(0)
        else:
            super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self.refusal is not None:
            return
        self._received += len(data)
        limit = self._limit()
        if limit and self._received > limit:
            self._stop_chunked_body()
            return
        super().handleContentChunk(data)

    def wire_received(self, size: int) -> None:
        """Bytes of a chunked body as they arrive, framing included (see :class:`LimitedChannel`)."""
        if self.refusal is not None or not self._chunked:
            return  # a Content-Length body was bounded in gotLength
        self._wire += size
        limit = self._limit()
        if limit and self._wire > limit + limit // 8 + FRAMING_ALLOWANCE:
            self._stop_chunked_body()

    def _stop_chunked_body(self) -> None:
        """A chunked body has passed the limit: stop decoding it and answer now."""
        self._refuse(TOO_LARGE, None)
        self.content = io.BytesIO()  # type: ignore[assignment]  # twisted declares content as None
        decoder = self.channel._transferDecoder
        if decoder is not None:
            decoder.dataCallback = decoder.finishCallback = _ignore
            decoder._buffer = bytearray()  # ends the decoder's loop over what it holds
        self.channel.allContentReceived()

    def _refuse(self, refusal: str, declared: int | None) -> None:
        self.refusal = refusal
        self.channel.persistent = False  # close after the answer; what follows is never read
        self.requestHeaders.removeHeader(b"expect")  # and never invite it with 100 Continue
        logger.warning("refused a body on %s: %s bytes (limit %d)", self.uri,
                       declared if declared is not None else f"over {self._received}", self._limit())

    def process(self) -> None:
        if self.refusal is not None:
            self.content = io.BytesIO()  # type: ignore[assignment]  # twisted declares content as None
            self.requestHeaders.setRawHeaders(b"content-length", [b"0"])
        super().process()


def _ignore(*_args: Any) -> None:
    return None


class LimitedChannel(http.HTTPChannel):
    """An HTTP channel that counts a chunked body's bytes on the wire.

    The body limit counts content; chunk framing is not content, and a chunk-size line may
    carry up to 1 KiB of extensions, so 1-byte chunks would have the gateway read a thousand
    times the limit. Framing may add an eighth of the limit (plus 64 KiB); CXF's 4 KiB
    chunks add 0.2 %.
    """

    def rawDataReceived(self, data: bytes) -> None:
        if not self._handlingRequest and self.requests:
            request = self.requests[-1]
            if isinstance(request, LimitedRequest):
                request.wire_received(len(data))
        super().rawDataReceived(data)


class SoapResource(WSGIResource):
    """A WSGI resource that passes :class:`LimitedRequest`'s refusal and its own mount path
    (the ``endpoint`` label of the metrics) to the application, and times each request.

    Both travel in the WSGI environ (:data:`REFUSAL_ENV`, :data:`ENDPOINT_ENV`), never as a header.
    """

    def __init__(self, reactor: Any, threadpool: ThreadPool, application: Callable[..., Any], *, endpoint: str,
                 observe: Callable[[float], None]) -> None:
        application = functools.partial(_with_environ, application, {ENDPOINT_ENV: endpoint})
        super().__init__(reactor, threadpool, application)
        self._gateway_args = (reactor, threadpool, application)
        self._observe = observe

    def render(self, request: server.Request) -> Any:
        started = time.monotonic()
        # fires when the answer is written, or the client went away (errback, not logged)
        request.notifyFinish().addBoth(lambda _: self._observe(time.monotonic() - started))
        refusal = getattr(request, "refusal", None)
        if refusal is not None:
            extra: dict[str, Any] = {REFUSAL_ENV: refusal}
        elif request.getHeader(b"content-length") is None and request.content is not None:
            # chunked: twisted.web has the whole body already; its size lets the SOAP layer
            # claim memory before it reads the body (gateway/admission.py)
            extra = {BODY_BYTES_ENV: request.content.seek(0, io.SEEK_END)}
            request.content.seek(0)
        else:
            return super().render(request)
        reactor, threadpool, application = self._gateway_args
        return WSGIResource(reactor, threadpool, functools.partial(_with_environ, application, extra)).render(request)


def _with_environ(application: Callable[..., Iterable[bytes]], extra: dict[str, Any], environ: dict[str, Any],
                  start_response: Callable[..., Any]) -> Iterable[bytes]:
    """``application`` with keys of the gateway's own added to the environ (never from a header)."""
    environ.update(extra)
    return application(environ, start_response)


class GatewaySite(server.Site):
    """The gateway's site: bodies bounded by :class:`LimitedRequest`, and no form parsing.

    twisted.web would parse form bodies into memory in the reactor thread before anyone has
    logged in, and parses the Content-Type of every POST with the slow ``email`` package to
    find out; no endpoint here takes forms.
    """

    requestFactory = LimitedRequest
    protocol = LimitedChannel  # type: ignore[assignment]  # plain HTTP/1.1 (the gateway offers no HTTP/2); twisted types it as a factory function

    def __init__(self, root: resource.Resource, *, max_request_bytes: int, **kwargs: Any) -> None:
        super().__init__(root, parsePOSTFormSubmission=False, **kwargs)
        self.max_request_bytes = max_request_bytes
        #: The endpoints served; their WSDLs are published once the port is bound.
        self.endpoints: list[WsdlEndpoint] = []


class HealthResource(resource.Resource):
    """``GET /health``: 200 with the version when the database answers, else 503."""

    isLeaf = True

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self.runtime = runtime

    def render_GET(self, request: server.Request) -> bytes:
        try:
            with self.runtime.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            body, code = {"status": "ok", "version": __version__}, 200
        except Exception as exc:  # noqa: BLE001 - report, don't crash
            logger.error("health check: the database does not answer: %s", exc)
            body, code = {"status": "unavailable", "error": "the database does not answer"}, 503
        request.setResponseCode(code)
        request.setHeader(b"content-type", b"application/json")
        return json.dumps(body).encode()


def _mount(root: resource.Resource, path: str, leaf: WSGIResource) -> None:
    parts = [p.encode() for p in path.strip("/").split("/")]
    node: Any = root  # a resource.Resource; mypy does not see that it provides IResource (zope.interface)
    for part in parts[:-1]:
        child = node.children.get(part)
        if child is None:
            child = resource.Resource()
            node.putChild(part, child)
        node = child
    node.putChild(parts[-1], leaf)


@dataclass
class RunningServer:
    port: Any  # an IListeningPort: zope.interface interfaces are no types to mypy
    threadpool: ThreadPool
    site: GatewaySite
    #: The console's own pool: a slow search never holds a SOAP call's thread.
    console_pool: ThreadPool | None = None

    @property
    def address(self) -> tuple[str, int]:
        host = self.port.getHost()
        return host.host, host.port

    def stop(self) -> Any:
        """Stop listening and drain the thread pool; returns a Deferred."""
        def stop_threads(result: Any) -> Any:
            self.threadpool.stop()
            if self.console_pool is not None:
                self.console_pool.stop()
            return result

        return self.port.stopListening().addBoth(stop_threads)


def build_site(runtime: Runtime, reactor: Any) -> tuple[GatewaySite, ThreadPool, ThreadPool | None]:
    """The site, the SOAP endpoints' thread pool, and the console's (None: no console)."""
    settings = runtime.settings.server
    pool = ThreadPool(minthreads=1, maxthreads=settings.threads, name="gateway-soap")
    root = resource.Resource()
    endpoints = {module.PATH: module.build_application(runtime) for module in (svarut, validation, memo, noark)}
    for path, endpoint in endpoints.items():
        observe = runtime.metrics.request_seconds.labels(path).observe
        _mount(root, path, SoapResource(reactor, pool, endpoint, endpoint=path, observe=observe))
    root.putChild(b"health", HealthResource(runtime))  # type: ignore[arg-type]  # provides IResource (zope.interface)
    if runtime.settings.metrics.enabled:
        root.putChild(b"metrics", MetricsResource(runtime, reactor))  # type: ignore[arg-type]  # as above
    console_pool = None
    if runtime.settings.console.enabled:
        console_pool = ThreadPool(minthreads=1, maxthreads=CONSOLE_THREADS, name="gateway-console")
        _mount(root, console.PATH, WSGIResource(reactor, console_pool, console_app.build_application(runtime)))
    site = GatewaySite(root, max_request_bytes=settings.max_request_bytes, timeout=LIMITS.connection_idle_seconds)
    site.endpoints = list(endpoints.values())
    site.noisy = False
    return site, pool, console_pool


def tls_options(settings: ServerSettings) -> Any:
    """Twisted TLS options from the configured PEM certificate (chain) and key."""
    from twisted.internet import ssl

    chain = Path(settings.tls_certificate).read_bytes()
    key = Path(settings.tls_private_key).read_bytes()
    pems = [b"-----BEGIN CERTIFICATE-----" + part for part in chain.split(b"-----BEGIN CERTIFICATE-----")[1:]]
    certificate = ssl.PrivateCertificate.loadPEM(pems[0] + b"\n" + key)
    extra = [ssl.Certificate.loadPEM(pem).original for pem in pems[1:]]
    return ssl.CertificateOptions(
        privateKey=certificate.privateKey.original,
        certificate=certificate.original,
        extraCertChain=extra,
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
    )


def listen(runtime: Runtime, reactor: Any, *, host: str | None = None, port: int | None = None,
           adopt_fd: int | None = None) -> RunningServer:
    """Start serving on the reactor (call from the reactor thread).

    ``adopt_fd``: accept on this already listening socket (a serving process started by
    :mod:`gateway.supervisor`) instead of binding one.
    """
    settings = runtime.settings.server
    site, pool, console_pool = build_site(runtime, reactor)
    pool.start()
    if console_pool is not None:
        console_pool.start()
    if adopt_fd is not None:
        factory: Any = site
        if settings.tls:
            from twisted.protocols.tls import TLSMemoryBIOFactory

            factory = TLSMemoryBIOFactory(tls_options(settings), False, site)  # type: ignore[arg-type]  # provides IProtocolFactory (zope.interface)
        with socket.socket(fileno=os.dup(adopt_fd)) as probe:
            family = probe.family
            probe.setblocking(False)  # several processes accept on it: never block in accept()
        listening = reactor.adoptStreamPort(adopt_fd, family, factory)
        os.close(adopt_fd)  # twisted holds its own duplicate
        return _published(RunningServer(port=listening, threadpool=pool, site=site, console_pool=console_pool), settings)
    port = settings.port if port is None else port
    interface = settings.host if host is None else host
    if settings.tls:
        listening = reactor.listenSSL(port, site, tls_options(settings), interface=interface)
    else:
        listening = reactor.listenTCP(port, site, interface=interface)
    return _published(RunningServer(port=listening, threadpool=pool, site=site, console_pool=console_pool), settings)


def _published(running: RunningServer, settings: ServerSettings) -> RunningServer:
    """Every WSDL names ``server.public_url``, or the address actually bound (port 0 picks one)."""
    base_url = settings.base_url(port=running.address[1])
    for endpoint in running.site.endpoints:
        endpoint.publish(base_url)
    return running
