"""The Twisted site: form bodies reach the SOAP layer as they were sent, unparsed."""
from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.web import resource

from gateway.server import GatewaySite


class _Recorder(resource.Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[dict, bytes]] = []

    def render_POST(self, request):  # type: ignore[no-untyped-def]
        self.seen.append((dict(request.args), request.content.read()))
        return b"ok"


class _Transport:
    """Just enough of a TCP transport for an HTTP channel (twisted.internet.testing is not
    imported: importing it breaks xmlschema's schema building in the same process)."""

    disconnecting = False

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def writeSequence(self, data: list[bytes]) -> None:
        self.written.extend(data)

    def loseConnection(self) -> None:
        self.disconnecting = True

    abortConnection = loseConnection

    def getPeer(self) -> IPv4Address:
        return IPv4Address("TCP", "127.0.0.1", 40000)

    def getHost(self) -> IPv4Address:
        return IPv4Address("TCP", "127.0.0.1", 8080)

    def registerProducer(self, producer: object, streaming: bool) -> None:
        pass

    def unregisterProducer(self) -> None:
        pass

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass


def _post(site: GatewaySite, content_type: bytes, body: bytes) -> None:
    channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
    channel.makeConnection(_Transport())
    channel.dataReceived(b"POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + content_type
                         + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def test_form_bodies_are_not_parsed():
    recorder = _Recorder()
    site = GatewaySite(recorder, max_request_bytes=1 << 20, timeout=None)
    multipart = (b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--\r\n")
    _post(site, b"multipart/form-data; boundary=b", multipart)
    _post(site, b"application/x-www-form-urlencoded", b"a=1&b=2")
    assert recorder.seen == [({}, multipart), ({}, b"a=1&b=2")]
