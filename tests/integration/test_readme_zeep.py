"""The README's zeep example, as written there, against a live gateway: with zeep built from
the official WSDL and from the WSDL the gateway serves, the letter is stored with its
digital recipient (a client built from our old WSDL lost the fødselsnummer)."""
from __future__ import annotations

import dataclasses
import re

import pytest

from gateway.config import demo_sender
from gateway.model import PartyKind
from gateway.soap.svarut import PATH
from tests.conftest import ROOT, SVARUT_WSDL, make_pdf, require_spec

README_ADDRESS = "http://127.0.0.1:8080"


def readme_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "ForsendelsesServiceV9.wsdl" in b]
    return block


@pytest.fixture
def demo_gateway(start_gateway, settings_factory):
    settings = settings_factory()
    return start_gateway(dataclasses.replace(settings, senders=settings.senders + (demo_sender(),)))


@pytest.mark.parametrize("wsdl", ["official", "served"])
def test_readme_zeep_example_stores_the_digital_recipient(demo_gateway, tmp_path, capsys, monkeypatch, wsdl):
    code = readme_example()
    location = str(require_spec(SVARUT_WSDL)) if wsdl == "official" else demo_gateway.base_url + PATH + "?wsdl"
    assert code.count('"ForsendelsesServiceV9.wsdl"') == 1 and README_ADDRESS + PATH in code
    code = code.replace('"ForsendelsesServiceV9.wsdl"', repr(location)).replace(README_ADDRESS, demo_gateway.base_url)
    (tmp_path / "vedtak.pdf").write_bytes(make_pdf("Vedtak om byggetillatelse"))
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example

    shipment_id = namespace["shipment_id"]
    printed = capsys.readouterr().out
    assert "AKSEPTERT" in printed
    stored = demo_gateway.runtime.repository.get(shipment_id).shipment
    assert (stored.recipient.identifier, stored.recipient.kind) == ("15076500565", PartyKind.NO_PERSON)
    assert stored.title == "Vedtak om byggetillatelse"
