"""Two gateway nodes that share only a PostgreSQL database (``storage.documents = "database"``):
each has its own data folder, and each dispatches the letters the other one accepted, with
5 MB documents that reach the Altinn 3 double byte for byte.

Node A serves SvarUt with dispatch off while node B runs ``gateway worker``; then the other
way round. Neither node writes a blob file: the documents travel through the database.
"""
from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

import requests
from zeep import Client
from zeep.transports import Transport

from gateway.config import load_settings
from gateway.model import utcnow
from gateway.runtime import Runtime
from gateway.soap.svarut import PATH
from tests.conftest import SENDER_PASSWORD, SVARUT_BINDING, _fresh_postgres, make_pdf
from tests.integration.test_workers import PERSON, altinn, start_worker, wait_for, worker_config  # noqa: F401 - a fixture
from tests.process import GatewayProcess
from tests.svarut_builders import dokument, forsendelse

DOCUMENT_BYTES = 5 * 1024 * 1024
IN_DATABASE = {"GATEWAY_STORAGE_DOCUMENTS": "database"}


def node(root: Path, database_url: str, double, key) -> Path:
    """A node's configuration, with its own data folder under ``root``."""
    root.mkdir()
    return worker_config(root, database_url, double, key, workers=2)


def serve(config: Path) -> GatewayProcess:
    """The node as an intake only: its letters wait for another node to dispatch them."""
    return GatewayProcess(config, env=dict(os.environ, **IN_DATABASE, GATEWAY_DISPATCH_ENABLED="false"))


def send(gw: GatewayProcess, svarut_wsdl: Path, documents: list[bytes]) -> list[str]:
    session = requests.Session()
    session.auth = ("kommune-sak", SENDER_PASSWORD)
    session.trust_env = False
    try:
        client = Client(str(svarut_wsdl), transport=Transport(session=session, timeout=60, operation_timeout=60))
        svc = client.create_service(SVARUT_BINDING, gw.base_url + PATH)
        return [svc.sendForsendelse(forsendelse=forsendelse(client, dokumenter=[dokument(pdf, filnavn=f"vedtak-{i}.pdf")]))
                for i, pdf in enumerate(documents)]
    finally:
        session.close()


def delivered(double, shipment_id: str) -> bytes | None:
    found = double.by_senders_reference(shipment_id)
    return found[0].files[0]["data"] if found else None


def blob_files(config: Path) -> list[Path]:
    return [p for p in (config.parent / "var" / "blobs").rglob("*") if p.is_file()]


def test_two_nodes_dispatch_each_others_letters_with_5_mb_documents(tmp_path, altinn, client_key, svarut_wsdl):
    for database_url in _fresh_postgres():
        a, b = (node(tmp_path / name, database_url, altinn, client_key) for name in ("a", "b"))
        runtime = Runtime.open(load_settings(a), channels={})  # migrates the shared database
        try:
            runtime.dispatch_store.register_set([(PERSON, "person", "digital")], now=utcnow())
        finally:
            runtime.close()

        for intake, dispatcher in ((a, b), (b, a)):
            pdfs = [make_pdf(f"Vedtak {intake.parent.name}{i}", padding=DOCUMENT_BYTES) for i in range(2)]
            assert all(len(pdf) > DOCUMENT_BYTES for pdf in pdfs)
            gw = serve(intake)
            try:
                ids = send(gw, svarut_wsdl, [pdfs[0], pdfs[1], pdfs[0]])  # the third shares the first one's bytes
            finally:
                assert gw.terminate() == 0
            worker = start_worker(dispatcher, env=IN_DATABASE)
            try:
                assert wait_for(lambda: all(delivered(altinn, sid) for sid in ids), 120), "not every letter reached Altinn"
            finally:
                worker.send_signal(signal.SIGTERM)
                assert worker.wait(timeout=60) == 0
            sent = [delivered(altinn, sid) for sid in ids]
            assert [hashlib.sha256(d).hexdigest() for d in sent] == [hashlib.sha256(p).hexdigest() for p in (pdfs[0], pdfs[1], pdfs[0])]

        assert blob_files(a) == [] and blob_files(b) == []  # nothing reached either node's files
        assert altinn.rejected == []
