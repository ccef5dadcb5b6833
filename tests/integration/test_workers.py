"""Separate ``gateway worker`` processes: killed with SIGKILL mid-dispatch, and two of them on
PostgreSQL sharing 1,000 letters. Every letter reaches the Altinn 3 double exactly once."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from gateway.config import load_settings
from gateway.model import Document, DocumentRole, Party, PartyKind, PostalAddress, Shipment, Status, utcnow
from gateway.runtime import Runtime
from tests.conftest import ROOT, _fresh_postgres, make_pdf
from tests.doubles.altinn3 import Altinn3Double
from tests.process import write_config

CLIENT_ID = "kommune-gateway"
PERSON = "15076500565"


@pytest.fixture
def altinn(client_key):
    public = client_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with Altinn3Double(public_key_pem=public, client_id=CLIENT_ID, token_lifetime=3600) as double:
        yield double


def worker_config(tmp_path: Path, database_url: str, double: Altinn3Double, key, *, workers: int = 4) -> Path:
    key_file = tmp_path / "maskinporten.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    extra = f"""
[dispatch]
workers = {workers}
lease_seconds = 3
poll_interval_seconds = 0.05
max_attempts = 100
backoff_base_seconds = 0.2
backoff_max_seconds = 1

[channels.altinn3]
enabled = true
base_url = "{double.url}"
resource_id = "kommune-brev"
token_url = "{double.url}/token"
token_audience = "{double.audience}"
client_id = "{CLIENT_ID}"
private_key_file = "{key_file}"
key_id = "kid-1"
subscription_key = "{double.subscription_key}"
timeout_seconds = 10
poll_interval_seconds = 3600

[channels.print]
enabled = false
"""
    return write_config(tmp_path / "gateway.toml", data_dir=tmp_path / "var", database_url=database_url, extra=extra)


def accept_letters(config: Path, count: int) -> list[str]:
    """Put ``count`` letters for a digital recipient through intake (in this process)."""
    settings = load_settings(config)
    runtime = Runtime.open(settings, channels={})
    try:
        runtime.dispatch_store.register_set([(PERSON, "person", "digital")], now=utcnow())
        pdf = make_pdf("Vedtak")
        digest = hashlib.sha256(pdf).hexdigest()
        ids = []
        for i in range(count):
            shipment = Shipment(
                id="", sender="kommune-sak", title=f"Vedtak {i}",
                recipient=Party(identifier=PERSON, kind=PartyKind.NO_PERSON, address=PostalAddress(name="Ola", postcode="0155", city="Oslo")),
                documents=(Document(filename="vedtak.pdf", media_type="application/pdf", size=len(pdf), sha256=digest, storage_ref="", role=DocumentRole.MAIN),),
            )
            ids.append(runtime.shipments.accept(shipment, [pdf], operation="test").shipment_id)
        return ids
    finally:
        runtime.close()


def statuses(config: Path, ids: list[str]) -> Counter:
    runtime = Runtime.open(load_settings(config), channels={}, upgrade=False)
    try:
        found = runtime.repository.statuses(ids)
        return Counter(status for _sender, status, _at in found.values())
    finally:
        runtime.close()


def start_worker(config: Path, *, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``gateway worker`` on ``config``; ``env``: variables added to this process's environment."""
    return subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker", "--config", str(config)], cwd=ROOT,
                            env=dict(os.environ, **(env or {}), PYTHONUNBUFFERED="1"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def assert_exactly_once(double: Altinn3Double, ids: list[str]) -> None:
    refs = Counter(c.form["Correspondence.SendersReference"] for c in double.correspondences.values())
    assert set(refs) == set(ids), f"missing {len(set(ids) - set(refs))}"
    assert max(refs.values()) == 1, "a letter was delivered twice"
    assert double.rejected == []


def test_worker_killed_mid_dispatch_delivers_every_letter_once(tmp_path, sqlite_url, altinn, client_key):
    config = worker_config(tmp_path, sqlite_url, altinn, client_key, workers=2)
    ids = accept_letters(config, 30)
    altinn.stall_after_next(2, 30.0)  # the first two uploads are created, then the answer hangs
    worker = start_worker(config)
    try:
        assert wait_for(lambda: len(altinn.correspondences) >= 2, 30)
        time.sleep(0.3)
    finally:
        worker.send_signal(signal.SIGKILL)  # mid-dispatch: Altinn has the letters, the database does not
        worker.wait(timeout=30)
    assert statuses(config, ids)[Status.SENT_DIGITAL] < len(ids)
    worker = start_worker(config)
    try:
        assert wait_for(lambda: statuses(config, ids)[Status.SENT_DIGITAL] == len(ids), 60), statuses(config, ids)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    assert_exactly_once(altinn, ids)
    assert any(u for u in altinn.uploads if u["errors"] == []) and len(altinn.uploads) >= len(ids) + 2


def test_two_worker_processes_on_postgresql_share_1000_letters(tmp_path, altinn, client_key):
    for database_url in _fresh_postgres():
        config = worker_config(tmp_path, database_url, altinn, client_key, workers=4)
        ids = accept_letters(config, 1000)
        workers = [start_worker(config), start_worker(config)]
        try:
            assert wait_for(lambda: statuses(config, ids)[Status.SENT_DIGITAL] == len(ids), 240), statuses(config, ids)
        finally:
            for w in workers:
                w.send_signal(signal.SIGTERM)
            for w in workers:
                assert w.wait(timeout=60) == 0
        assert_exactly_once(altinn, ids)
        assert len(altinn.uploads) == len(ids)  # not even a duplicate attempt
