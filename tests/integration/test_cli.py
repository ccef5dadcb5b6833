"""The ``gateway`` command and ``run_gateway.py`` on embedded defaults, as a user runs them."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import requests
from zeep import Client
from zeep.transports import Transport

from gateway import passwords
from gateway.catalogue import faults_markdown
from gateway.soap.svarut import PATH
from tests.conftest import ROOT, SVARUT_BINDING
from tests.process import GatewayProcess
from tests.svarut_builders import forsendelse


def gateway(*args: str, cwd=None, env=None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args], cwd=cwd or ROOT, env=env, input=stdin,
        capture_output=True, text=True, timeout=120,
    )


def test_hash_password():
    out = gateway("hash-password", "hemmelig")
    assert out.returncode == 0 and passwords.verify_password("hemmelig", out.stdout.strip())
    piped = gateway("hash-password", stdin="fra-stdin\n")
    assert passwords.verify_password("fra-stdin", piped.stdout.strip())


def test_faults_markdown():
    assert gateway("faults", "--markdown").stdout == faults_markdown()


def test_db_upgrade_and_current(tmp_path):
    config = tmp_path / "g.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path / "var"}"\n', encoding="utf-8")
    out = gateway("db", "upgrade", "--config", str(config))
    assert out.returncode == 0 and "at revision 0008 (head 0008)" in out.stdout
    assert (tmp_path / "var" / "gateway.db").exists()
    assert "at revision 0008" in gateway("db", "current", "--config", str(config)).stdout


def test_export_wsdl(tmp_path):
    out = gateway("export-wsdl", "--out", str(tmp_path), "--base-url", "https://gw.kommune.no")
    assert out.returncode == 0
    text = (tmp_path / "ForsendelsesServiceV9.wsdl").read_text(encoding="utf-8")
    assert f'location="https://gw.kommune.no{PATH}"' in text


def test_configuration_error_is_reported(tmp_path):
    config = tmp_path / "g.toml"
    config.write_text("[server]\nport = 'eighty'\n", encoding="utf-8")
    out = gateway("db", "upgrade", "--config", str(config))
    assert out.returncode == 2 and "server.port: expected an integer" in out.stderr


def test_run_gateway_on_embedded_defaults(tmp_path, svarut_wsdl):
    """``python run_gateway.py`` with no config: SQLite under ./var and the demo sender."""
    env = dict(os.environ, GATEWAY_SERVER_PORT="0")
    proc = GatewayProcess.start([sys.executable, str(ROOT / "run_gateway.py")], cwd=tmp_path, env=env)
    try:
        assert "(embedded defaults)" in "".join(proc.output)
        session = requests.Session()
        session.auth = ("demo", "demo")
        client = Client(str(svarut_wsdl), transport=Transport(session=session, timeout=30, operation_timeout=30))
        svc = client.create_service(SVARUT_BINDING, proc.base_url + PATH)
        sid = svc.sendForsendelse(forsendelse=forsendelse(client))
        assert requests.get(proc.base_url + "/health", timeout=30).json()["status"] == "ok"
        # nobody is in the embedded recipient register, so the letter goes to the local print folder
        deadline = time.monotonic() + 30
        while svc.retrieveForsendelseStatus(forsendelsesid=sid) != "SENDT_PRINT" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert svc.retrieveForsendelseStatus(forsendelsesid=sid) == "SENDT_PRINT"
    finally:
        assert proc.terminate() == 0
    with sqlite3.connect(tmp_path / "var" / "gateway.db") as db:  # the letter's small PDF is kept in the database
        assert db.execute("SELECT count(*) FROM document_blobs").fetchone()[0] >= 1
    assert (tmp_path / "var" / "blobs").is_dir()
    assert any((tmp_path / "var" / "print").rglob(f"{sid}.pdf"))


def test_registry_import_set_show_and_list(tmp_path):
    config = tmp_path / "g.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path / "var"}"\n', encoding="utf-8")
    good = tmp_path / "register.csv"
    good.write_text("identifier,status\n15076500565,digital\n974720760,digital\n55076500559,reserved\n", encoding="utf-8")
    out = gateway("registry", "import", str(good), "--config", str(config))
    assert out.returncode == 0 and "imported 3 entries" in out.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("15076500565,digital\n12345678901,digital\n", encoding="utf-8")
    out = gateway("registry", "import", str(bad), "--config", str(config))
    assert out.returncode == 2 and "bad.csv:2:" in out.stderr
    assert gateway("registry", "set", "15076500565", "reserved", "--config", str(config)).returncode == 0
    assert "15076500565: reserved" in gateway("registry", "show", "15076500565", "--config", str(config)).stdout
    listing = gateway("registry", "list", "--config", str(config)).stdout.splitlines()
    assert listing == ["identifier,kind,status", "15076500565,person,reserved", "55076500559,person,reserved", "974720760,organization,digital"]


def test_shipment_stop_and_show(tmp_path):
    import hashlib

    from gateway.config import load_settings
    from gateway.model import Document, Party, PartyKind, PostalAddress, Shipment
    from gateway.runtime import Runtime
    from tests.conftest import make_pdf

    config = tmp_path / "g.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path / "var"}"\n[dispatch]\nenabled = false\n', encoding="utf-8")
    runtime = Runtime.open(load_settings(config), channels={})
    pdf = make_pdf()
    shipment = Shipment(id="", sender="demo", title="Brev", recipient=Party(identifier="15076500565", kind=PartyKind.NO_PERSON,
                        address=PostalAddress(name="Ola", postcode="0155", city="Oslo")),
                        documents=(Document(filename="a.pdf", media_type="application/pdf", size=len(pdf), sha256=hashlib.sha256(pdf).hexdigest(), storage_ref=""),))
    sid = runtime.shipments.accept(shipment, [pdf], operation="test").shipment_id
    runtime.close()
    out = gateway("shipment", "stop", sid, "--reason", "feil adresse", "--config", str(config))
    assert out.returncode == 0 and "MANUALLY_HANDLED" in out.stdout
    show = gateway("shipment", "show", sid, "--config", str(config)).stdout
    assert "MANUALLY_HANDLED" in show and "feil adresse" in show
    again = gateway("shipment", "stop", sid, "--config", str(config))
    assert again.returncode == 1 and "already finished" in again.stderr


def test_serve_refuses_a_maskinporten_grant_without_kid_or_certificate_chain(tmp_path, client_key):
    from cryptography.hazmat.primitives import serialization

    key_file = tmp_path / "maskinporten.pem"
    key_file.write_bytes(client_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    config = tmp_path / "g.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path / "var"}"\n\n[channels.altinn3]\nenabled = true\n'
                      f'resource_id = "kommune-brev"\nclient_id = "kommune-gateway"\nprivate_key_file = "{key_file}"\n',
                      encoding="utf-8")
    out = gateway("serve", "--config", str(config))
    assert out.returncode != 0
    assert "[channels.altinn3] needs exactly one of key_id" in out.stderr and "neither kid nor x5c" in out.stderr
