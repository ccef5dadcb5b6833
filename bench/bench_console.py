"""Console benchmark: the overview and the letter search over HTTP with a million letters in
PostgreSQL (target: p95 under 300 ms each).

The letters are written by SQL (``generate_series``) in a fresh database migrated to the head:
a million letters over the past year from three senders, each with three history events and one
delivery (70 % Altinn 3, 30 % print), a thousand waiting jobs and a few dead ones. Then a
gateway serves the console on loopback and an admin's session asks each page ``--rounds`` times.

    python bench/bench_console.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test [--letters 1000000]
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from gateway.config import ConsoleSettings, OperatorSettings, ServerSettings, Settings, StorageSettings  # noqa: E402
from gateway.model import CaseMetadata, Party, PartyKind, Shipment  # noqa: E402
from gateway.passwords import hash_password  # noqa: E402
from gateway.store import migrate  # noqa: E402
from gateway.store.engine import create_engine, normalize_url  # noqa: E402
from gateway.stored_form import to_data  # noqa: E402

SENDERS = ("kommune-sak", "annen-kommune", "tredje-kommune")


def populate(url: str, letters: int) -> None:
    engine = create_engine(url)
    migrate.upgrade(engine)
    template = to_data(Shipment(id="x", sender="kommune-sak", title="Vedtak", documents=(),
                                recipient=Party(identifier="15076500565", kind=PartyKind.NO_PERSON, name="Ola Nordmann"),
                                case_metadata=CaseMetadata(case_year=2026, case_sequence_number=1, journal_year=2026,
                                                           journal_sequence_number=1, journal_entry_number=1)))
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.text("""
            INSERT INTO shipments (id, tenant, status, title, external_ref, content_sha256, data, created_at, status_changed_at,
                                   case_year, case_sequence_number, document_number, recipient_identifier, recipient_name_key, title_key)
            SELECT s.id, (ARRAY['kommune-sak','annen-kommune','tredje-kommune'])[1 + i % 3],
                   (ARRAY['READ','NOTIFIED','SENT_TO_PRINT','PRINTED','ACCEPTED'])[1 + i % 5],
                   'Vedtak nr ' || i, 'EXT-' || i, repeat('c', 64),
                   CAST(jsonb_set(CAST(:template AS jsonb), '{id}', to_jsonb(s.id)) AS json),
                   s.at, s.at, 2020 + i % 7, i, i % 10, lpad(CAST(10000000000 + i AS text), 11, '0'),
                   'ola nordmann ' || i, 'vedtak nr ' || i
            FROM (SELECT i, CAST(md5(CAST(i AS text)) AS uuid)::text AS id,
                         now() - make_interval(secs => i * (31536000.0 / :n)) AS at
                  FROM generate_series(1, :n) AS i) AS s
        """), dict(template=json.dumps(template), n=letters))
        conn.execute(sa.text("""
            INSERT INTO events (shipment_id, at, kind, status, channel, detail)
            SELECT id, created_at, k.kind, k.status, k.channel, k.detail
            FROM shipments CROSS JOIN (VALUES ('received', 'RECEIVED', NULL, 'Mottatt'), ('accepted', 'ACCEPTED', NULL, 'Akseptert'),
                                              ('routed', NULL, 'altinn3', 'Altinn (digital postkasse)')) AS k(kind, status, channel, detail)
        """))
        conn.execute(sa.text("""
            INSERT INTO events (shipment_id, at, kind, status, channel, detail)
            SELECT id, created_at, 'fallback_print', NULL, 'altinn3', 'ikke lest innen fristen'
            FROM shipments WHERE status IN ('SENT_TO_PRINT', 'PRINTED')
        """))
        conn.execute(sa.text("""
            INSERT INTO deliveries (shipment_id, channel, idempotency_key, reference, status, submitted_at, read_deadline,
                                    cost_estimate_ore, cost_ore, open, receipt)
            SELECT id, CASE WHEN status IN ('SENT_TO_PRINT','PRINTED') THEN 'print' ELSE 'altinn3' END,
                   id || ':' || CASE WHEN status IN ('SENT_TO_PRINT','PRINTED') THEN 'print' ELSE 'altinn3' END,
                   'ref-' || id, status, created_at, created_at + interval '7 days', 1500, NULL, false, CAST('{}' AS json)
            FROM shipments WHERE status <> 'ACCEPTED'
        """))
        conn.execute(sa.text("""
            INSERT INTO jobs (shipment_id, kind, channel, state, attempts, run_after, created_at, updated_at)
            SELECT id, 'route', NULL, 'pending', 0, now(), now(), now() FROM shipments WHERE status = 'ACCEPTED' LIMIT 1000
        """))
        conn.execute(sa.text("INSERT INTO alerts (at, kind, channel, detail) VALUES (now(), 'channel_outage', 'altinn3', 'nede')"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    print(f"wrote {letters:,} letters with events and deliveries in {time.perf_counter() - started:.0f} s", flush=True)
    engine.dispose()


def measure(url: str, rounds: int) -> None:
    from twisted.internet import reactor
    from twisted.internet.threads import blockingCallFromThread

    from gateway.runtime import Runtime
    from gateway.server import listen

    data = tempfile.mkdtemp()
    settings = Settings(server=ServerSettings(host="127.0.0.1", port=0), storage=StorageSettings(data_dir=data, database_url=url),
                        console=ConsoleSettings(operators=(OperatorSettings(name="bench", password_hash=hash_password("pw"), role="admin"),)))
    threading.Thread(target=lambda: reactor.run(installSignalHandlers=False), daemon=True).start()
    runtime = Runtime.open(settings)
    running = blockingCallFromThread(reactor, listen, runtime, reactor)
    root = "http://%s:%d/console" % running.address
    http = requests.Session()
    http.trust_env = False
    token = re.search(r'name="login_token" value="([^"]+)"', http.get(root + "/login").text).group(1)  # type: ignore[union-attr]
    assert http.post(root + "/login", data=dict(login_token=token, name="bench", password="pw")).status_code == 200
    first = http.get(root + "/letters?title=vedtak+nr+5").text
    after = re.search(r'href="\?([^"]+)" id="next-page"', first).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    some_id = str(uuid.UUID(__import__("hashlib").md5(b"4711").hexdigest()))
    pages = {
        "overview": "/",
        "search: case number": "/letters?case=2020/424242",  # letter 424242: 2020 + 424242 % 7
        "search: recipient": "/letters?recipient=10000424242",
        "search: recipient name prefix": "/letters?recipient=ola+nordmann+42424",
        "search: title prefix": "/letters?title=vedtak+nr+5",
        "search: title prefix, next page": "/letters?" + after,
        "search: status + sender + month": "/letters?status=PRINTED&sender=annen-kommune&from=2026-06-01&to=2026-06-30",
        "search: external reference": "/letters?ref=EXT-31337",
        "search: everything, newest first": "/letters",
        "a letter": f"/letters/{some_id}",
    }
    print(f"{'page':40} {'p50 ms':>8} {'p95 ms':>8}")
    for name, path in pages.items():
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            response = http.get(root + path)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code)
            assert "Ingen brev funnet" not in response.text, path  # every search finds something
        times.sort()
        print(f"{name:40} {statistics.median(times):8.1f} {times[int(0.95 * (len(times) - 1))]:8.1f}", flush=True)
    blockingCallFromThread(reactor, running.stop)
    runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", required=True, help="an admin URL; a fresh database is made beside it and dropped")
    parser.add_argument("--letters", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    args = parser.parse_args()
    admin = sa.make_url(normalize_url(args.postgres))
    name = f"gwbench_console_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)
    print(f"database {name}", flush=True)
    try:
        populate(url, args.letters)
        measure(url, args.rounds)
    finally:
        if not args.keep:
            with engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
