"""Beskedfordeler (SF1461) as far as SF1601's status events go: the test stands in for it and
publishes ``PostStatusBeskedModtag`` events into a queue of the machine's RabbitMQ.

The event shape is the real one as the public readers take it apart: an ``Haendelsesbesked``
(``urn:oio:besked:kuvert:1.0``, sagdok ``UUIDIdentifikator`` leaves) like KOMBIT's
``testbesked01.xml`` (rimi-itk/Beskedfordeler_kodeeksempler), whose ``Beskeddata/Base64``
(``urn:besked:kuvert:1.0``) is the base64 of a ``PKO_PostStatus`` document
(``http://serviceplatformen.dk/xml/print/PKO_PostStatus/1/types``: TransmissionId, MessageUUID,
KanalKode, TransaktionsDatoTid, TransaktionsStatusKode, CorrelationId, FejlDetaljer) as
os2forms, itk-dev's beskedfordeler module and OpenPostbud read it.
"""
from __future__ import annotations

import base64
import datetime as dt
import uuid
from xml.sax.saxutils import escape

import pika

KUVERT_NS = "urn:oio:besked:kuvert:1.0"
BESKED_NS = "urn:besked:kuvert:1.0"
SAGDOK_NS = "urn:oio:sagdok:3.0.0"
POST_STATUS_NS = "http://serviceplatformen.dk/xml/print/PKO_PostStatus/1/types"
DIGITAL_POST_SENDER = "96514e13-afdd-44d6-95a8-adc2ca19b127"  # "Digital Post" in Beskedfordeler's list
EVENTS = {  # ObjektHandling uuids of Beskedfordeler's event list (as OpenPostbud carries them)
    "Fejlet": "e225a75c-4b63-46c4-9423-77f5c8762445",
    "Afleveret Digital Post": "f7161a89-5068-4023-bc80-d7f4daad2a2e",
    "Modtaget Digital Post": "eb866ca2-b871-4387-b501-12cde577bd58",
    "Afsendt": "db5a6025-caa3-45c3-8e02-4e6fa8142ade",
}


def post_status(reference: str, code: str, *, error: tuple[str, str] | None = None, physical: bool = False,
                at: dt.datetime | None = None) -> bytes:
    """The PKO_PostStatus document of one event. ``physical`` names the letter by
    AfsendelseIdentifikator (remote print) instead of MessageUUID."""
    at = at or dt.datetime.now(dt.timezone.utc)
    key = "AfsendelseIdentifikator" if physical else "MessageUUID"
    failure = (f"<FejlDetaljer><FejlKode>{escape(error[0])}</FejlKode><FejlTekst>{escape(error[1])}</FejlTekst></FejlDetaljer>"
               if error else "")
    return (f'<?xml version="1.0" encoding="UTF-8"?><PKO_PostStatus xmlns="{POST_STATUS_NS}">'
            f"<TransmissionId>{uuid.uuid4()}</TransmissionId><{key}>{reference}</{key}>"
            f"<KanalKode>{'Fysisk Post' if physical else 'Digital Post'}</KanalKode>"
            f"<TransaktionsDatoTid>{at:%Y-%m-%dT%H:%M:%S.%f}Z</TransaktionsDatoTid>"
            f"<TransaktionsStatusKode>{escape(code)}</TransaktionsStatusKode>"
            f"<CorrelationId>{uuid.uuid4()}</CorrelationId>{failure}</PKO_PostStatus>").encode()


def haendelsesbesked(data: bytes, *, code: str = "Afleveret Digital Post") -> bytes:
    """The envelope Beskedfordeler puts around ``data``."""
    now = dt.datetime.now(dt.timezone.utc)

    def uid(value: str) -> str:
        return f"<UUIDIdentifikator>{value}</UUIDIdentifikator>"

    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<ns2:Haendelsesbesked xmlns="{SAGDOK_NS}" xmlns:ns2="{KUVERT_NS}" xmlns:ns3="{BESKED_NS}">'
            f"<ns2:BeskedId>{uid(str(uuid.uuid4()))}</ns2:BeskedId><ns2:BeskedVersion>1.0</ns2:BeskedVersion>"
            f"<ns2:Beskedkuvert><ns2:Filtreringsdata>"
            f"<ns2:Beskedtype>{uid(str(uuid.uuid4()))}</ns2:Beskedtype>"
            f"<ns2:BeskedAnsvarligAktoer>{uid(DIGITAL_POST_SENDER)}</ns2:BeskedAnsvarligAktoer>"
            f"<ns2:TilladtModtager><URNIdentifikator>urn:oio:cvr-nr:29189498</URNIdentifikator></ns2:TilladtModtager>"
            f"<ns2:ObjektRegistrering><ns2:ObjektRegistreringId>{uid(str(uuid.uuid4()))}</ns2:ObjektRegistreringId>"
            f"<ns2:ObjektHandling>{uid(EVENTS.get(code, str(uuid.uuid4())))}</ns2:ObjektHandling></ns2:ObjektRegistrering>"
            f"</ns2:Filtreringsdata><ns2:Leveranceinformation><ns2:Dannelsestidspunkt>"
            f"<TidsstempelDatoTid>{now:%Y-%m-%dT%H:%M:%S}</TidsstempelDatoTid></ns2:Dannelsestidspunkt>"
            f"</ns2:Leveranceinformation></ns2:Beskedkuvert>"
            f'<ns2:Beskeddata><ns3:Base64 content-type="text/xml" encoding="base64">{base64.b64encode(data).decode()}'
            f"</ns3:Base64></ns2:Beskeddata></ns2:Haendelsesbesked>").encode()


def event(reference: str, code: str, **kwargs: object) -> bytes:
    """One whole PostStatusBeskedModtag event about ``reference``."""
    return haendelsesbesked(post_status(reference, code, **kwargs), code=code)  # type: ignore[arg-type]


class Beskedfordeler:
    """A fresh queue on the machine's RabbitMQ, filled by :meth:`publish`; deleted at exit."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.queue = f"dueslag-{uuid.uuid4()}"
        self.connection = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.connection.channel()
        self.channel.queue_declare(self.queue, durable=False)

    def publish(self, *bodies: bytes) -> None:
        for body in bodies:
            self.channel.basic_publish("", self.queue, body, pika.BasicProperties(message_id=str(uuid.uuid4())))

    def waiting(self) -> int:
        """Messages ready in the queue (not counting those taken and not yet acknowledged)."""
        return self.channel.queue_declare(self.queue, passive=True).method.message_count

    def close(self) -> None:
        if self.connection.is_open:
            self.channel.queue_delete(self.queue)
            self.connection.close()

    def __enter__(self) -> "Beskedfordeler":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
