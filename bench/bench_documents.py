"""Document store benchmark: write and read back a 5 MB document, as files (``storage.documents
= "files"``, one node) and in the database (``"database"``, nodes sharing PostgreSQL), on
SQLite and on PostgreSQL.

Write: the document is in a spool file, as an MTOM attachment is at intake; the clock runs
over ``DocumentStore.stage`` and the commit of a shipment that carries it (files: fsync and
rename before the commit; database: chunk rows in the commit). Read: the whole document back
(``DocumentStore.get``, what a channel gets), and the peak Python memory while reading it
chunk by chunk (``DocumentStore.chunks``). Every round writes new bytes (content is stored
once per digest). Median of the rounds.

    python bench/bench_documents.py [--mb 5] [--rounds 20] [--postgres URL]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.model import Party, Shipment  # noqa: E402
from gateway.spool import Spool  # noqa: E402
from gateway.store import migrate  # noqa: E402
from gateway.store.blobs import DocumentStore, FileBlobStore  # noqa: E402
from gateway.store.engine import create_engine  # noqa: E402
from gateway.store.repository import Repository  # noqa: E402


def run(url: str, tmp: Path, *, in_database: bool, size: int, rounds: int) -> tuple[float, float, float]:
    """(median write ms, median read ms, peak MiB of a chunked read)."""
    engine = create_engine(url)
    migrate.upgrade(engine)
    repository = Repository(engine)
    store = DocumentStore(engine, FileBlobStore(tmp / "blobs"), inline_max_bytes=128 * 1024, in_database=in_database)
    spool = Spool(tmp / "spool")
    writes, reads, peak = [], [], 0
    try:
        for _ in range(rounds):
            f = spool.new_file()
            f.write(os.urandom(size))
            content = f.finish()
            shipment = Shipment(id=str(uuid.uuid4()), sender="bench", title="T", recipient=Party(), documents=())
            start = time.perf_counter()
            ref, staged = store.stage(content, sha256=content.sha256)
            repository.insert_shipment(shipment, content_sha256="c" * 64, events=[], dispatch=False,
                                       blobs=[staged] if staged else [])
            writes.append(time.perf_counter() - start)
            start = time.perf_counter()
            data = store.get(ref)
            reads.append(time.perf_counter() - start)
            assert hashlib.sha256(data).hexdigest() == content.sha256
            del data
            tracemalloc.start()
            for _piece in store.chunks(ref):
                pass
            peak = max(peak, tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
            spool.close()
    finally:
        engine.dispose()
    return statistics.median(writes) * 1000, statistics.median(reads) * 1000, peak / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--postgres", default=os.environ.get("GATEWAY_TEST_DATABASE_URL", ""),
                        help="an admin URL; a fresh database is made per run")
    args = parser.parse_args()
    size = int(args.mb * 1024 * 1024)
    print(f"one {args.mb:g} MB document, {args.rounds} rounds, medians; read peak: Python memory of a chunked read")
    print(f"{'':24}{'write':>10}{'read':>10}{'write MB/s':>12}{'read MB/s':>11}{'read peak':>11}")
    databases: list[tuple[str, str | None]] = [("SQLite", "sqlite")]
    if args.postgres:
        databases.append(("PostgreSQL", None))
    for name, kind in databases:
        for mode, in_database in (("files", False), ("database", True)):
            with tempfile.TemporaryDirectory() as tmp:
                if kind == "sqlite":
                    result = run(f"sqlite:///{tmp}/gateway.db", Path(tmp), in_database=in_database, size=size, rounds=args.rounds)
                else:
                    from tests.conftest import _fresh_postgres

                    os.environ["GATEWAY_TEST_DATABASE_URL"] = args.postgres
                    gen = _fresh_postgres()
                    try:
                        result = run(next(gen), Path(tmp), in_database=in_database, size=size, rounds=args.rounds)
                    finally:
                        gen.close()
            write_ms, read_ms, peak = result
            mb = size / 1e6
            print(f"{name + ', ' + mode:24}{write_ms:8.1f}ms{read_ms:8.1f}ms{mb / write_ms * 1000:12.0f}{mb / read_ms * 1000:11.0f}"
                  f"{peak:8.1f}MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
