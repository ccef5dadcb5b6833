"""Dispatch benchmark: letters per second from accepted to delivered at the Altinn 3 double,
with one ``gateway worker`` process and with two, on SQLite and on PostgreSQL; then print
batch throughput for 1,000 one-page letters.

Letters are accepted first (intake is measured by bench_intake.py); the clock starts when the
worker processes report ready and stops when every letter is SENDT_DIGITALT. The Altinn 3
double runs in this process (it verifies tokens and parses every multipart upload; schema
validation is switched off here so the double is not the bottleneck). Target: at least 200
letters/s per worker process, and two processes at least 1.6x one.

    python bench/bench_dispatch.py [--letters 1000] [--postgres URL]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from gateway.config import PrintSettings, load_settings  # noqa: E402
from gateway.model import Status  # noqa: E402
from tests.doubles.altinn3 import Altinn3Double  # noqa: E402
from tests.integration.test_workers import CLIENT_ID, accept_letters, worker_config  # noqa: E402


def delivered(engine) -> int:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from gateway.store import tables as t

    with engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(t.shipments).where(t.shipments.c.status == str(Status.SENT_DIGITAL))))


def run(database_url: str, processes: int, letters: int, key) -> float:
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with tempfile.TemporaryDirectory(prefix="gw-dispatch-") as tmp, Altinn3Double(public_key_pem=public, client_id=CLIENT_ID, token_lifetime=3600) as double:
        double.validator = _NoValidation()
        config = worker_config(Path(tmp), database_url.replace("{tmp}", tmp), double, key, workers=4)
        ids = accept_letters(config, letters)
        procs = [subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker", "--config", str(config)], cwd=ROOT,
                                  env=dict(os.environ, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                 for _ in range(processes)]
        try:
            for p in procs:
                p.stdout.readline()  # "gateway worker: ..." once ready
            from gateway.store.engine import create_engine

            engine = create_engine(load_settings(config).storage.resolved_database_url, pool_size=1)
            start = time.perf_counter()
            while delivered(engine) < letters:
                time.sleep(0.1)
            elapsed = time.perf_counter() - start
            engine.dispose()
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(timeout=60)
        delivered_refs = {c.form["Correspondence.SendersReference"] for c in double.correspondences.values()}
        assert len(double.correspondences) == letters and delivered_refs == set(ids)
        return letters / elapsed


class _NoValidation:
    """Stands in for the schema validator (the tests validate; the benchmark measures)."""

    schema = None

    def __init__(self) -> None:
        from tests.doubles.altinn3 import upload_validator

        self.schema = upload_validator().schema

    def iter_errors(self, _body):  # type: ignore[no-untyped-def]
        return iter(())


def print_throughput(letters: int) -> tuple[float, float]:
    from gateway.channels.base import Letter
    from gateway.channels.print import PrintChannel
    from gateway.model import Document, Party, PartyKind, PostalAddress, Shipment
    from tests.conftest import make_pdf
    import uuid

    pdf = make_pdf("Vedtak")
    sha = hashlib.sha256(pdf).hexdigest()
    with tempfile.TemporaryDirectory(prefix="gw-print-") as tmp:
        channel = PrintChannel(PrintSettings(batch_max_letters=letters), data_dir=Path(tmp))
        start = time.perf_counter()
        for i in range(letters):
            shipment = Shipment(
                id=str(uuid.uuid4()), sender="kommune-sak", title=f"Vedtak {i}",
                recipient=Party(identifier="15076500565", kind=PartyKind.NO_PERSON,
                                address=PostalAddress(name=f"Ola Nordmann {i}", lines=("Storgata 1",), postcode="0155", city="Oslo")),
                documents=(Document(filename="vedtak.pdf", media_type="application/pdf", size=len(pdf), sha256=sha, storage_ref=""),),
            )
            channel.submit(Letter(shipment=shipment, content=lambda d: pdf), idempotency_key=f"{shipment.id}:print")
        staged = time.perf_counter() - start
        start = time.perf_counter()
        batches = channel.flush(force=True)
        flushed = time.perf_counter() - start
        assert len(batches) == 1
    return letters / staged, letters / flushed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--letters", type=int, default=1000)
    parser.add_argument("--postgres", default=os.environ.get("GATEWAY_TEST_DATABASE_URL", ""),
                        help="an admin URL; a fresh database is made per run")
    args = parser.parse_args()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    databases = [("SQLite", "sqlite:///{tmp}/var/gateway.db")]
    if args.postgres:
        databases.append(("PostgreSQL", None))
    print(f"{args.letters} letters, accepted → SENDT_DIGITALT at the Altinn 3 double; 4 worker threads per process")
    print(f"{'':12}{'1 process':>14}{'2 processes':>14}{'ratio':>8}")
    for name, url in databases:
        rates = []
        for processes in (1, 2):
            if url is None:
                from tests.conftest import _fresh_postgres

                os.environ["GATEWAY_TEST_DATABASE_URL"] = args.postgres
                gen = _fresh_postgres()
                pg_url = next(gen)
                try:
                    rates.append(run(pg_url, processes, args.letters, key))
                finally:
                    gen.close()
            else:
                rates.append(run(url, processes, args.letters, key))
        print(f"{name:12}{rates[0]:11.0f}/s{rates[1]:11.0f}/s{rates[1] / rates[0]:8.2f}")
    staged, flushed = print_throughput(args.letters)
    print(f"print: {args.letters} one-page letters: cover + merge + stage {staged:.0f} letters/s; batch + manifest {flushed:.0f} letters/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
