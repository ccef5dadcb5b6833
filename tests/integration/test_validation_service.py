"""The /validation SOAP service (1.1 and 1.2, a zeep client from the served WSDL) and
``gateway validate`` (exit code, JSON, line/column/path)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests
import zeep
from zeep.transports import Transport

from gateway.soap.validation import NS, PATH
from tests.conftest import ROOT, SENDER_PASSWORD, SPECS, require_spec

EXAMPLES = SPECS / "memo" / "examples"
BAD = b'<memo:Message xmlns:memo="https://DigitalPost.dk/MeMo-1" memoVersion="1.1" memoSchVersion="1.1.0">\n  <memo:Nonsense/>\n</memo:Message>'


def _client(gw, binding: str):
    session = requests.Session()
    session.auth = ("kommune-sak", SENDER_PASSWORD)
    session.trust_env = False
    client = zeep.Client(gw.base_url + PATH + "?wsdl", transport=Transport(session=session, timeout=30, operation_timeout=30))
    return client.create_service(f"{{{NS}}}{binding}", gw.base_url + PATH)


@pytest.mark.parametrize("binding", ["ValidationService", "ValidationServiceSoap12"])
def test_validate_and_list_over_soap_11_and_12(sqlite_gateway, binding):
    require_spec(EXAMPLES)
    svc = _client(sqlite_gateway, binding)
    assert {"memo-1.1", "memo-1.2"} <= set(svc.listSchemas())
    ok = svc.validate(schemaName="memo-1.1", payload=(EXAMPLES / "MeMo_v1.1_Full_Example.xml").read_bytes())
    assert ok.valid is True and not ok.errors
    bad = svc.validate(schemaName="memo-1.1", payload=BAD)
    assert bad.valid is False
    [issue] = bad.errors.ValidationIssue
    assert (issue.line, issue.path) == (2, "/memo:Message/memo:Nonsense") and issue.column is not None and "Nonsense" in issue.message
    japanese = svc.validate(schemaName="memo-1.1", payload=BAD.decode().replace(
        "<memo:Message", '<?xml version="1.0" encoding="Shift_JIS"?><memo:Message', 1).encode("shift_jis"))
    [issue] = japanese.errors.ValidationIssue  # expat cannot read Shift_JIS: no column, still a report
    assert (issue.line, issue.path, issue.column) == (2, "/memo:Message/memo:Nonsense", None)
    broken = svc.validate(schemaName="memo-1.1", payload=b"<memo:Message")
    assert broken.valid is False and broken.errors.ValidationIssue[0].line == 1
    with pytest.raises(zeep.exceptions.Fault) as err:
        svc.validate(schemaName="no-such-schema", payload=b"<a/>")
    assert err.value.detail.find(".//{urn:gateway:faults}code").text == "SCHEMA_UNKNOWN"
    with pytest.raises(zeep.exceptions.Fault) as err:
        svc.validate(schemaName="memo-1.1", payload=b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>')
    assert err.value.detail.find(".//{urn:gateway:faults}code").text == "FORBIDDEN_DTD"


def test_validation_needs_credentials(sqlite_gateway):
    session = requests.Session()
    session.trust_env = False
    client = zeep.Client(sqlite_gateway.base_url + PATH + "?wsdl", transport=Transport(session=session, timeout=30, operation_timeout=30))
    with pytest.raises(zeep.exceptions.Fault) as err:
        client.create_service(f"{{{NS}}}ValidationService", sqlite_gateway.base_url + PATH).listSchemas()
    assert err.value.detail.find(".//{urn:gateway:faults}code").text == "AUTHENTICATION_FAILED"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_cli_exit_codes_and_json(tmp_path):
    require_spec(EXAMPLES)
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("MeMo_v1.1_Full_Example.xml", "MeMo_v1.1_Minimum_Example.xml"):
        (folder / name).write_bytes((EXAMPLES / name).read_bytes())
    config = tmp_path / "g.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path / "var"}"\n', encoding="utf-8")
    ok = _cli("validate", "--schema", "memo-1.1", str(folder), "--config", str(config))
    assert ok.returncode == 0 and "2 file(s) checked against memo-1.1: 2 valid, 0 invalid" in ok.stdout
    (folder / "bad.xml").write_bytes(BAD)
    out = _cli("validate", "--schema", "memo-1.1", str(folder), "--json", "--config", str(config))
    assert out.returncode == 1
    report = json.loads(out.stdout)
    assert report["summary"] == {"files": 3, "valid": 2, "invalid": 1}
    [bad] = [r for r in report["results"] if not r["valid"]]
    assert bad["file"].endswith("bad.xml")
    assert bad["errors"][0]["line"] == 2 and bad["errors"][0]["path"] == "/memo:Message/memo:Nonsense"
    text = _cli("validate", "--schema", "memo-1.1", str(folder / "bad.xml"), "--config", str(config))
    assert text.returncode == 1 and "bad.xml:2:" in text.stdout
    unknown = _cli("validate", "--schema", "nope", str(folder), "--config", str(config))
    assert unknown.returncode == 2 and "no schema named 'nope'" in unknown.stderr


def test_cli_schemas_add_and_list(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "note.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:note" xmlns="urn:note" '
        'elementFormDefault="qualified"><xs:element name="note" type="xs:string"/></xs:schema>', encoding="utf-8")
    config = tmp_path / "g.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path / "var"}"\n', encoding="utf-8")
    assert _cli("schemas", "add", "note", str(bundle), "--config", str(config)).returncode == 0
    assert "note\tadded" in _cli("schemas", "list", "--config", str(config)).stdout
    doc = tmp_path / "n.xml"
    doc.write_text('<note xmlns="urn:note">hei</note>', encoding="utf-8")
    assert _cli("validate", "--schema", "note", str(doc), "--config", str(config)).returncode == 0
