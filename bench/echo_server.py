"""A bare spyne echo service on the gateway's hosting stack (the benchmark's baseline).

Same stack as the gateway: spyne ``WsgiApplication`` in ``twisted.web.wsgi.WSGIResource``
with a dedicated thread pool and the gateway's site class, SOAP 1.2 in and out, and
spyne's own lxml parsing. No authentication, no validation, no storage.
Prints ``listening on http://127.0.0.1:PORT`` when ready.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys

from spyne import Application, ServiceBase, Unicode, rpc
from spyne.protocol.soap import Soap12
from spyne.server.wsgi import WsgiApplication
from twisted.internet import reactor
from twisted.python.threadpool import ThreadPool
from twisted.web import resource
from twisted.web.wsgi import WSGIResource

from gateway.server import GatewaySite
from gateway.supervisor import ChildSpec, Supervisor, listening_socket, stop_when_orphaned

NS = "urn:bench:echo"


class Echo(ServiceBase):
    @rpc(Unicode, _returns=Unicode)
    def echo(ctx, text):
        return text


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--processes", type=int, default=1, help="processes sharing one socket, as server.processes")
    parser.add_argument("--listen-fd", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.processes > 1 and args.listen_fd is None:
        return _supervise(args)
    app = Application([Echo], tns=NS, in_protocol=Soap12(validator=None), out_protocol=Soap12())
    pool = ThreadPool(minthreads=1, maxthreads=args.threads, name="echo")
    root = resource.Resource()
    root.putChild(b"echo", WSGIResource(reactor, pool, WsgiApplication(app)))
    site = GatewaySite(root, max_request_bytes=512 * 1024 * 1024, timeout=300)
    site.noisy = False
    pool.start()
    if args.listen_fd is not None:  # the same adoption as the gateway's serving processes
        reactor.adoptStreamPort(args.listen_fd, socket.AF_INET, site)
        os.close(args.listen_fd)
        stop_when_orphaned(lambda: reactor.callFromThread(reactor.stop))
        reactor.addSystemEventTrigger("before", "shutdown", pool.stop)
        reactor.run()
        return 0
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    print(f"listening on http://127.0.0.1:{port.getHost().port}", flush=True)
    reactor.addSystemEventTrigger("before", "shutdown", pool.stop)
    reactor.run()
    return 0


def _supervise(args: argparse.Namespace) -> int:
    sock = listening_socket("127.0.0.1", 0)
    command = [sys.executable, __file__, "--threads", str(args.threads), "--listen-fd", str(sock.fileno())]
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    children = [ChildSpec(f"echo-{i + 1}", command, pass_fds=(sock.fileno(),)) for i in range(args.processes)]
    return Supervisor(children, before_stop=sock.close).run()


if __name__ == "__main__":
    sys.exit(main())
