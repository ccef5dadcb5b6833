"""The MeMo version the gateway writes for Digital Post: 1.2 by default (no memoSchVersion),
1.1 when configured; each valid against the project's schema of its version."""
from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from gateway.config import ConfigError, DigitalPostSettings, load_settings
from gateway.mapping.memo_out import shipment_to_memo
from gateway.model import Document, DocumentRole, Party, PartyKind, Shipment
from gateway.xml.schemas import SchemaRegistry

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def schemas() -> SchemaRegistry:
    return SchemaRegistry.builtin()


def _shipment() -> Shipment:
    return Shipment(id="8c2ea15d-61cc-4ba1-9d88-b8b7b6c6e0f1", sender="kommune", title="Brev",
                    recipient=Party(identifier="2211771212", kind=PartyKind.DK_CPR, name="Modtager"),
                    sender_party=Party(identifier="12345678", kind=PartyKind.DK_CVR, name="Kommunen"),
                    documents=(Document(filename="brev.pdf", media_type="application/pdf", size=4, sha256="x", storage_ref="d1",
                                        role=DocumentRole.MAIN),))


def test_the_default_is_memo_1_2_without_memo_sch_version_and_valid_1_2(schemas):
    _, data = shipment_to_memo(_shipment(), content=lambda d: b"%PDF", now=NOW)
    root = etree.fromstring(data)
    assert root.get("memoVersion") == "1.2" and root.get("memoSchVersion") is None
    assert schemas.validate("memo-1.2", data).valid
    assert not schemas.validate("memo-1.1", data).valid  # 1.1 requires memoSchVersion: the version is real


def test_version_1_1_writes_memo_sch_version_and_is_valid_1_1(schemas):
    _, data = shipment_to_memo(_shipment(), content=lambda d: b"%PDF", now=NOW, version="1.1")
    root = etree.fromstring(data)
    assert (root.get("memoVersion"), root.get("memoSchVersion")) == ("1.1", "1.1.0")
    assert schemas.validate("memo-1.1", data).valid


def test_an_unknown_version_is_not_written():
    with pytest.raises(ValueError, match="1.3"):
        shipment_to_memo(_shipment(), content=lambda d: b"", now=NOW, version="1.3")


def _config(tmp_path, body: str):
    path = tmp_path / "g.toml"
    path.write_text("[channels.digitalpost]\n" + body, encoding="utf-8")
    return load_settings(path, environ={})


def test_settings_transport_and_memo_version(tmp_path):
    assert DigitalPostSettings().memo_version == "1.2" and DigitalPostSettings().transport == "ngdp"
    s = _config(tmp_path, 'transport = "sf1601"\nmemo_version = "1.1"\n').channels.digitalpost
    assert (s.transport, s.memo_version) == ("sf1601", "1.1")
    with pytest.raises(ConfigError, match="channels.digitalpost.memo_version"):
        _config(tmp_path, 'memo_version = "1.3"\n')
    with pytest.raises(ConfigError, match="channels.digitalpost.transport"):
        _config(tmp_path, 'transport = "eboks"\n')
    with pytest.raises(ConfigError, match="unknown key"):
        _config(tmp_path, 'memo_path = "/apis/v1/messages/memo"\n')
