"""noarkExchange benchmark: PutMessage with one 100 KB PDF against a bare spyne echo.

As :mod:`bench.bench_intake` does for SvarUt: starts the gateway (``run_gateway.py``, SQLite,
durable commits, dispatch off) and the bare echo service (``bench/echo_server.py``, the same
hosting stack) as separate processes, drives each with the same closed-loop load (N
concurrent keep-alive clients, the same request count, alternating over rounds) and prints
requests/s, p50/p99 latency and the throughput ratio. Target: ratio >= 0.5, as for SvarUt
intake. Each PutMessage is a Noark 4 ``Melding`` sent as Public 360 sends it (an escaped
string, ``xsi:type="xsd:string"``) with the PDF inline in ``fil/base64`` and a fresh
``conversationId``, so every request is a new letter; the echo gets the same base64.

    python bench/bench_noark.py [--requests 1000] [--rounds 5] [--concurrency 8] [--pdf-kb 100]
"""
from __future__ import annotations

import base64
import sqlite3
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_intake import drive, echo_envelope, load_options, make_pdf, start_echo  # noqa: E402
from tests.process import GatewayProcess, write_config  # noqa: E402

PATH = "/noarkExchange"
USER, PASSWORD = "kommune-sak", "s3cret-kommune"


def melding(pdf: bytes) -> str:
    """A Noark 4 Melding with one recipient (with a postal address) and the PDF inline."""
    return (
        '<?xml version="1.0" encoding="utf-8"?><Melding xmlns="http://www.arkivverket.no/Noark4-1-WS-WD/types">'
        "<journpost xmlns=\"\"><jpId>219816</jpId><jpJaar>2015</jpJaar><jpSeknr>11734</jpSeknr><jpJpostnr>2</jpJpostnr>"
        "<jpJdato>2015-10-08</jpJdato><jpNdoktype>U</jpNdoktype><jpStatus>F</jpStatus><jpInnhold>Vedtak</jpInnhold>"
        "<jpSaar>2014</jpSaar><jpSaseknr>2703</jpSaseknr><avsmot><amOrgnr>974763907</amOrgnr><amIhtype>1</amIhtype>"
        "<amNavn>Fylkesmannen i Sogn og Fjordane</amNavn><amAdresse>Njøsavegen 2</amAdresse><amPostnr>6863</amPostnr>"
        "<amPoststed>Leikanger</amPoststed></avsmot><dokument><dlRnr>1</dlRnr><dlType>H</dlType><dbTittel>Vedtak</dbTittel>"
        f"<veDokformat>RA-PDF</veDokformat><fil><base64>{base64.b64encode(pdf).decode()}</base64></fil></dokument></journpost>"
        '<noarksak xmlns=""><saId>68286</saId><saSaar>2014</saSaar><saSeknr>2703</saSeknr><saTittel>Byggesak</saTittel>'
        "</noarksak></Melding>"
    )


def put_message(payload: str, conversation_id: str) -> bytes:
    """A SOAP 1.2 PutMessage (the echo speaks SOAP 1.2) carrying the escaped payload."""
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema"><s:Body>'
        '<PutMessageRequest xmlns="http://www.arkivverket.no/Noark/Exchange/types">'
        f'<envelope conversationId="{conversation_id}" contentNamespace="http://www.arkivverket.no/Noark4-1-WS-WD/types" xmlns="">'
        "<sender><orgnr/></sender><receiver><orgnr>974763907</orgnr></receiver></envelope>"
        f'<payload xsi:type="xsd:string" xmlns="">{payload}</payload></PutMessageRequest></s:Body></s:Envelope>'
    ).encode("utf-8")


def bodies(payload: str, count: int) -> list[bytes]:
    return [put_message(payload, str(uuid.uuid4())) for _ in range(count)]


def main() -> int:
    args = load_options(__doc__).parse_args()

    pdf = make_pdf(args.pdf_kb * 1024)
    payload = escape(melding(pdf))
    echo_body = echo_envelope(pdf)
    with tempfile.TemporaryDirectory(prefix="gw-bench-noark-") as tmp:
        tmpdir = Path(tmp)
        # intake alone: dispatch (cover pages, print) would compete for the same cores
        config = write_config(tmpdir / "gateway.toml", data_dir=tmpdir / "var",
                              database_url=f"sqlite:///{tmpdir / 'var' / 'gateway.db'}", extra="[dispatch]\nenabled = false\n")
        gateway = GatewayProcess(config)
        echo, echo_url = start_echo(threads=4)
        url = gateway.base_url + PATH
        try:
            warm = max(20, args.requests // 10)
            drive(echo_url, echo_body, total=warm, concurrency=args.concurrency, auth=None)
            drive(url, bodies(payload, warm), total=warm, concurrency=args.concurrency, auth=(USER, PASSWORD))
            _check_ok(url, payload)
            runs: dict[str, list[dict[str, float]]] = {"echo": [], "put": []}
            per_round = max(20, args.requests // args.rounds)
            for _ in range(args.rounds):
                round_bodies = bodies(payload, per_round)  # built before the clock starts
                runs["echo"].append(drive(echo_url, echo_body, total=per_round, concurrency=args.concurrency, auth=None))
                runs["put"].append(drive(url, round_bodies, total=per_round, concurrency=args.concurrency, auth=(USER, PASSWORD)))
            results = {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}
            round_ratios = [p["rps"] / e["rps"] for p, e in zip(runs["put"], runs["echo"])]
        finally:
            gateway.terminate()
            echo.terminate()
            echo.wait(timeout=30)
        # a 200 may be an ERROR receipt: every request must have made its letter
        with sqlite3.connect(tmpdir / "var" / "gateway.db") as db:
            stored = db.execute("SELECT count(*) FROM shipments").fetchone()[0]
        if stored != warm + 1 + per_round * args.rounds:
            raise SystemExit(f"{stored} letters stored for {warm + 1 + per_round * args.rounds} PutMessage calls")

    size = len(put_message(payload, str(uuid.uuid4())))
    print(f"payload: a Noark 4 Melding with one {len(pdf) // 1024} KB PDF, escaped ({size // 1024} KB request), "
          f"{per_round * args.rounds} requests, {args.concurrency} concurrent clients, SQLite WAL synchronous=FULL")
    print(f"{'':34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, label in (("echo", "bare spyne echo (baseline)"), ("put", "gateway PutMessage")):
        print(f"{label:34}{results[name]['rps']:10.1f}{results[name]['p50_ms']:10.1f}{results[name]['p99_ms']:10.1f}")
    ratio = statistics.median(round_ratios)
    print(f"throughput ratio gateway/echo: {ratio:.2f}, median of {args.rounds} rounds "
          f"({min(round_ratios):.2f}-{max(round_ratios):.2f}) (target >= 0.50: {'met' if ratio >= 0.5 else 'NOT met'})")
    return 0


def _check_ok(url: str, payload: str) -> None:
    """Every request must be a letter, not a 200 with an ERROR receipt."""
    import requests

    r = requests.post(url, data=put_message(payload, str(uuid.uuid4())), auth=(USER, PASSWORD), timeout=60,
                      headers={"Content-Type": "application/soap+xml; charset=utf-8"})
    if b'type="OK"' not in r.content:
        raise SystemExit(f"PutMessage was not accepted: {r.status_code} {r.text[:400]}")


if __name__ == "__main__":
    sys.exit(main())
