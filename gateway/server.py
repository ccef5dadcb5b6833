"""Twisted wiring: the site, the SOAP thread pool and the request-body limit.

spyne's WSGI application is hosted in ``twisted.web.wsgi.WSGIResource`` with a dedicated
thread pool (``spyne.server.twisted`` does not import on Twisted ≥ 24.11). twisted.web has no
body limit of its own: :class:`LimitedRequest` counts the body as it arrives, stops keeping
it once it passes ``server.max_request_bytes`` and lets the SOAP layer answer with a
``REQUEST_TOO_LARGE`` fault, so an oversized body never reaches the XML parser.
"""
from __future__ import annotations

import io
import json
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from twisted.internet.interfaces import IListeningPort
from twisted.python.threadpool import ThreadPool
from twisted.web import resource, server
from twisted.web.wsgi import WSGIResource

from gateway import __version__
from gateway.config import ServerSettings
from gateway.runtime import Runtime
from gateway.soap import memo, svarut, validation
from gateway.soap.protocol import TOO_LARGE

logger = logging.getLogger(__name__)

_REJECTED_HEADER = b"x-gateway-rejected"
IN_MEMORY_BODY_BYTES = 8 * 1024 * 1024


class LimitedRequest(server.Request):
    """A request that refuses to buffer more than the site's ``max_request_bytes``."""

    _received = 0
    _too_large = False

    def _limit(self) -> int:
        return getattr(self.channel.site, "max_request_bytes", 0) or 0

    def gotLength(self, length: int | None) -> None:
        limit = self._limit()
        if limit and length is not None and length > limit:
            self._too_large = True
            length = 0  # keep an in-memory buffer; nothing will be written to it
        if length is not None and length <= IN_MEMORY_BODY_BYTES:
            # twisted.web spools every body over 100 kB to a temporary file; a SOAP call
            # with a 100 kB PDF is routine here, so keep bodies up to 8 MiB in memory.
            super().gotLength(0)
        else:
            super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        self._received += len(data)
        limit = self._limit()
        if self._too_large or (limit and self._received > limit):
            if not self._too_large:
                self._too_large = True
                self.content = io.BytesIO()
            return
        super().handleContentChunk(data)

    def process(self) -> None:
        self.requestHeaders.removeHeader(_REJECTED_HEADER)
        if self._too_large:
            logger.warning("refused a %d-byte body on %s (limit %d)", self._received, self.uri, self._limit())
            self.content = io.BytesIO()
            self.requestHeaders.setRawHeaders(_REJECTED_HEADER, [TOO_LARGE.encode()])
            self.requestHeaders.setRawHeaders(b"content-length", [b"0"])
        super().process()


class GatewaySite(server.Site):
    """The gateway's site: bodies bounded by :class:`LimitedRequest`, and no form parsing.

    twisted.web would parse form bodies into memory in the reactor thread before anyone has
    logged in, and parses the Content-Type of every POST with the slow ``email`` package to
    find out; no endpoint here takes forms.
    """

    requestFactory = LimitedRequest

    def __init__(self, root: resource.Resource, *, max_request_bytes: int, **kwargs: Any) -> None:
        super().__init__(root, parsePOSTFormSubmission=False, **kwargs)
        self.max_request_bytes = max_request_bytes


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


def _mount(root: resource.Resource, path: str, leaf: resource.Resource) -> None:
    parts = [p.encode() for p in path.strip("/").split("/")]
    node = root
    for part in parts[:-1]:
        child = node.children.get(part)
        if child is None:
            child = resource.Resource()
            node.putChild(part, child)
        node = child
    node.putChild(parts[-1], leaf)


@dataclass
class RunningServer:
    port: IListeningPort
    threadpool: ThreadPool
    site: GatewaySite

    @property
    def address(self) -> tuple[str, int]:
        host = self.port.getHost()
        return host.host, host.port

    def stop(self) -> Any:
        """Stop listening and drain the thread pool; returns a Deferred."""
        d = self.port.stopListening()
        d.addBoth(lambda r: (self.threadpool.stop(), r)[1])
        return d


def build_site(runtime: Runtime, reactor: Any) -> tuple[GatewaySite, ThreadPool]:
    settings = runtime.settings.server
    pool = ThreadPool(minthreads=1, maxthreads=settings.threads, name="gateway-soap")
    root = resource.Resource()
    endpoints = {module.PATH: module.build_application(runtime) for module in (svarut, validation, memo)}
    for path, endpoint in endpoints.items():
        _mount(root, path, WSGIResource(reactor, pool, endpoint))
    root.putChild(b"health", HealthResource(runtime))
    site = GatewaySite(root, max_request_bytes=settings.max_request_bytes, timeout=300)
    site.endpoints = list(endpoints.values())  # their WSDLs are published once the port is bound
    site.noisy = False
    return site, pool


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
    site, pool = build_site(runtime, reactor)
    pool.start()
    if adopt_fd is not None:
        factory: Any = site
        if settings.tls:
            from twisted.protocols.tls import TLSMemoryBIOFactory

            factory = TLSMemoryBIOFactory(tls_options(settings), False, site)
        with socket.socket(fileno=os.dup(adopt_fd)) as probe:
            family = probe.family
            probe.setblocking(False)  # several processes accept on it: never block in accept()
        listening = reactor.adoptStreamPort(adopt_fd, family, factory)
        os.close(adopt_fd)  # twisted holds its own duplicate
        return _published(RunningServer(port=listening, threadpool=pool, site=site), settings)
    port = settings.port if port is None else port
    interface = settings.host if host is None else host
    if settings.tls:
        listening = reactor.listenSSL(port, site, tls_options(settings), interface=interface)
    else:
        listening = reactor.listenTCP(port, site, interface=interface)
    return _published(RunningServer(port=listening, threadpool=pool, site=site), settings)


def _published(running: RunningServer, settings: ServerSettings) -> RunningServer:
    """Every WSDL names ``server.public_url``, or the address actually bound (port 0 picks one)."""
    base_url = settings.base_url(port=running.address[1])
    for endpoint in running.site.endpoints:
        endpoint.publish(base_url)
    return running
