"""Accepted means durable: SIGKILL right after the answer loses nothing."""
from __future__ import annotations

import hashlib

import pytest
import requests
import sqlalchemy as sa
from zeep import Client
from zeep.transports import Transport

from gateway.config import load_settings
from gateway.runtime import Runtime
from gateway.soap.svarut import PATH
from gateway.store import tables
from tests.conftest import SENDER_PASSWORD, SVARUT_BINDING, make_pdf
from tests.process import GatewayProcess, write_config
from tests.svarut_builders import full_forsendelse


def _service(wsdl, base_url):
    session = requests.Session()
    session.auth = ("kommune-sak", SENDER_PASSWORD)
    client = Client(str(wsdl), transport=Transport(session=session, timeout=30, operation_timeout=30))
    return client, client.create_service(SVARUT_BINDING, base_url + PATH)


@pytest.mark.parametrize("documents, padding, in_files", [
    ("files", 200_000, True),  # the small document in the database, the 200 KB one as a file
    ("database", 2_500_000, False),  # both in the database, the larger one in chunk rows
])
def test_sigkill_after_acknowledged_send_loses_nothing(tmp_path, database_url, svarut_wsdl, documents, padding, in_files):
    # dispatch off: this test is about intake alone (letters would otherwise move on to print)
    config = write_config(tmp_path / "gateway.toml", data_dir=tmp_path / "var", database_url=database_url,
                          extra="[dispatch]\nenabled = false\n")
    config.write_text(config.read_text().replace("[storage]\n", f'[storage]\ndocuments = "{documents}"\n'), encoding="utf-8")
    first, second = make_pdf("Vedtak", pages=2), make_pdf("Vedlegg", pages=1, padding=padding)

    proc = GatewayProcess(config)
    try:
        client, svc = _service(svarut_wsdl, proc.base_url)
        sid = svc.sendForsendelse(forsendelse=full_forsendelse(client, first, second))
    finally:
        proc.kill()  # SIGKILL the moment the answer is in

    proc = GatewayProcess(config)
    try:
        client, svc = _service(svarut_wsdl, proc.base_url)
        assert svc.retrieveForsendelseStatus(forsendelsesid=sid) == "AKSEPTERT"
        assert [h.hendelse for h in svc.retrieveForsendelseHistorikk(forsendelsesid=sid)] == [
            "Forsendelse mottatt", "Forsendelse akseptert og lagret",
        ]
    finally:
        assert proc.terminate() == 0  # SIGTERM is a clean stop

    runtime = Runtime.open(load_settings(config), upgrade=False)
    try:
        stored = runtime.repository.get(sid)
        assert [d.filename for d in stored.shipment.documents] == ["Vedtak.pdf", "Vedlegg situasjonsplan.pdf"]
        assert [d.storage_ref.startswith("db:") for d in stored.shipment.documents] == [True, not in_files]
        with runtime.engine.connect() as conn:
            chunks = conn.execute(sa.select(sa.func.count()).select_from(tables.document_chunks)).scalar()
        assert chunks == (0 if in_files else 2)  # 2.5 MB: a head row of 1 MiB and two more chunks
        for doc, original in zip(stored.shipment.documents, (first, second)):
            data = runtime.documents.get(doc.storage_ref)
            assert data == original and hashlib.sha256(data).hexdigest() == doc.sha256
        assert stored.shipment.case_metadata.case_sequence_number == 1234
    finally:
        runtime.close()
