"""Intake benchmark: sendForsendelse with one 100 KB PDF against a bare spyne echo.

Starts the gateway (``run_gateway.py``, SQLite, durable commits) and the bare echo service
(``bench/echo_server.py``, the same hosting stack) as separate processes, drives each with
the same closed-loop load (N concurrent keep-alive clients, the same request count), and
prints requests/s, p50/p99 latency and the throughput ratio. Target: ratio ≥ 0.5.
Then starts a fresh gateway and reports its peak RSS (VmHWM) while accepting one 100 MB
document inline (base64 in the envelope), and another while accepting one 350 MB document
sent as MTOM (streamed to disk: target peak RSS under 1.5x the document).

    python bench/bench_intake.py [--requests 1000] [--rounds 5] [--concurrency 8] [--big-mb 100] [--mtom-mb 350]
"""
from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.process import GatewayProcess, write_config  # noqa: E402

SVARUT = "/tjenester/forsendelseservice/ForsendelsesServiceV9"
USER, PASSWORD = "kommune-sak", "s3cret-kommune"
SOAP12 = {"Content-Type": "application/soap+xml; charset=utf-8"}


def make_pdf(size: int) -> bytes:
    """A valid one-page PDF padded to about ``size`` bytes with an unreferenced random stream."""
    pad = os.urandom(max(0, size - 700))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length 0 >>\nstream\n\nendstream",
        b"<< /Length %d >>\nstream\n" % len(pad) + pad + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def send_envelope(pdf: bytes) -> bytes:
    data = base64.b64encode(pdf).decode()
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:v9="http://www.ks.no/svarut/servicesV9" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><s:Body><v9:sendForsendelse><forsendelse>'
        f"<dokumenter><data>{data}</data><ekskluderesFraPrint>false</ekskluderesFraPrint><filnavn>vedtak.pdf</filnavn>"
        "<mimetype>application/pdf</mimetype><skalSigneres>false</skalSigneres></dokumenter>"
        "<krevNiva4Innlogging>false</krevNiva4Innlogging><kryptert>false</kryptert><kunDigitalLevering>false</kunDigitalLevering>"
        '<mottaker><digitalAdresse xsi:type="v9:personDigitalAdresse"><fnr>15076500565</fnr></digitalAdresse>'
        "<postAdresse><navn>Ola Nordmann</navn><postnr>0155</postnr><poststed>Oslo</poststed></postAdresse></mottaker>"
        '<signaturtype xsi:nil="true"/><signeringUtloper xsi:nil="true"/><svarPaForsendelseLink>false</svarPaForsendelseLink>'
        "<tittel>Vedtak</tittel></forsendelse></v9:sendForsendelse></s:Body></s:Envelope>"
    ).encode()


def write_mtom(path: Path, pdf_size: int) -> tuple[int, str]:
    """An MTOM sendForsendelse with one PDF of ``pdf_size`` bytes, written to ``path``
    (the client streams it from there). Answers the body size and its Content-Type."""
    root = send_envelope(b"").replace(
        b"<data></data>", b'<data><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:doc%40bench"/></data>')
    boundary = "uuid:bench-mtom-boundary"
    with open(path, "wb") as out:
        out.write(f"--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"application/soap+xml\"\r\n"
                  "Content-ID: <root@bench>\r\n\r\n".encode() + root)
        out.write(f"\r\n--{boundary}\r\nContent-Type: application/pdf\r\nContent-ID: <doc@bench>\r\n\r\n".encode())
        out.write(make_pdf(pdf_size))
        out.write(f"\r\n--{boundary}--\r\n".encode())
    content_type = (f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; start="<root@bench>"; '
                    'start-info="application/soap+xml"')
    return path.stat().st_size, content_type


def echo_envelope(pdf: bytes) -> bytes:
    data = base64.b64encode(pdf).decode()
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:e="urn:bench:echo">'
        f"<s:Body><e:echo><e:text>{data}</e:text></e:echo></s:Body></s:Envelope>"
    ).encode()


def drive(url: str, body: bytes | list[bytes], *, total: int, concurrency: int, auth: tuple[str, str] | None) -> dict[str, float]:
    """Closed loop: ``concurrency`` clients share ``total`` requests; every answer must be 200.

    ``body`` is one request body for all, or a list with one body per request.
    """
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    remaining = [total]

    def worker() -> None:
        with requests.Session() as s:
            s.auth = auth
            while True:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                    data = body if isinstance(body, bytes) else body[remaining[0]]
                t0 = time.perf_counter()
                r = s.post(url, data=data, headers=SOAP12, timeout=120)
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    if r.status_code != 200:
                        errors.append(f"{r.status_code}: {r.text[:200]}")

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"{len(errors)} failed requests, first: {errors[0]}")
    latencies.sort()
    return {
        "requests": total,
        "rps": total / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


def start_echo(threads: int, processes: int = 1) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "echo_server.py"), "--threads", str(threads), "--processes", str(processes)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    line = proc.stdout.readline()  # type: ignore[union-attr]
    return proc, line.rsplit(" ", 1)[-1].strip() + "/echo"


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


def load_options(description: str | None) -> argparse.ArgumentParser:
    """The options of a load run against the echo: requests, rounds, clients, PDF size."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5, help="echo and gateway alternate this many times")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--pdf-kb", type=int, default=100)
    return parser


def main() -> int:
    parser = load_options(__doc__)
    parser.add_argument("--big-mb", type=int, default=100, help="0 skips the inline memory measurement")
    parser.add_argument("--mtom-mb", type=int, default=350, help="0 skips the MTOM memory measurement")
    args = parser.parse_args()

    pdf = make_pdf(args.pdf_kb * 1024)
    with tempfile.TemporaryDirectory(prefix="gw-bench-") as tmp:
        tmpdir = Path(tmp)
        # intake alone: dispatch (cover pages, print) would compete for the same two cores
        no_dispatch = "[dispatch]\nenabled = false\n"
        config = write_config(tmpdir / "gateway.toml", data_dir=tmpdir / "var", database_url=f"sqlite:///{tmpdir / 'var' / 'gateway.db'}",
                              extra=no_dispatch)
        gateway = GatewayProcess(config)
        echo, echo_url = start_echo(threads=4)
        try:
            send_body, echo_body = send_envelope(pdf), echo_envelope(pdf)
            warm = max(20, args.requests // 10)
            drive(echo_url, echo_body, total=warm, concurrency=args.concurrency, auth=None)
            drive(gateway.base_url + SVARUT, send_body, total=warm, concurrency=args.concurrency, auth=(USER, PASSWORD))
            results = {}
            # alternate over rounds so drift on a shared machine hits both sides alike; the
            # ratio is the median of the rounds' ratios (one round's echo can be off by 30 %)
            runs: dict[str, list[dict[str, float]]] = {"echo": [], "send": []}
            per_round = max(20, args.requests // args.rounds)
            for _ in range(args.rounds):
                runs["echo"].append(drive(echo_url, echo_body, total=per_round, concurrency=args.concurrency, auth=None))
                runs["send"].append(drive(gateway.base_url + SVARUT, send_body, total=per_round, concurrency=args.concurrency, auth=(USER, PASSWORD)))
            for name, rs in runs.items():
                results[name] = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
            round_ratios = [s["rps"] / e["rps"] for s, e in zip(runs["send"], runs["echo"])]
        finally:
            gateway.terminate()
            echo.terminate()
            echo.wait(timeout=30)

        print(f"payload: one {len(pdf) // 1024} KB PDF ({len(send_body) // 1024} KB request), "
              f"{args.requests} requests, {args.concurrency} concurrent clients, SQLite WAL synchronous=FULL")
        print(f"{'':34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
        print(f"{'bare spyne echo (baseline)':34}{results['echo']['rps']:10.1f}{results['echo']['p50_ms']:10.1f}{results['echo']['p99_ms']:10.1f}")
        print(f"{'gateway sendForsendelse':34}{results['send']['rps']:10.1f}{results['send']['p50_ms']:10.1f}{results['send']['p99_ms']:10.1f}")
        ratio = statistics.median(round_ratios)
        print(f"throughput ratio gateway/echo: {ratio:.2f}, median of {args.rounds} rounds "
              f"({min(round_ratios):.2f}-{max(round_ratios):.2f}) (target >= 0.50: {'met' if ratio >= 0.5 else 'NOT met'})")

        if args.big_mb:
            big_dir = tmpdir / "big"
            big_dir.mkdir()
            config = write_config(big_dir / "gateway.toml", data_dir=big_dir / "var", database_url=f"sqlite:///{big_dir / 'var' / 'gateway.db'}",
                                  extra=no_dispatch)
            gateway = GatewayProcess(config)
            try:
                before = vm_hwm_kib(gateway.proc.pid)
                big = send_envelope(make_pdf(args.big_mb * 1024 * 1024))
                t0 = time.perf_counter()
                r = requests.post(gateway.base_url + SVARUT, data=big, headers=SOAP12, auth=(USER, PASSWORD), timeout=600)
                took = time.perf_counter() - t0
                if r.status_code != 200:
                    raise SystemExit(f"the {args.big_mb} MB document was refused: {r.status_code} {r.text[:300]}")
                del big
                after = vm_hwm_kib(gateway.proc.pid)
            finally:
                gateway.terminate()
            print(f"one {args.big_mb} MB document: accepted in {took:.1f} s; gateway peak RSS {after / 1024:.0f} MiB "
                  f"(idle {before / 1024:.0f} MiB, {after / 1024 / args.big_mb:.1f}x the document)")

        if args.mtom_mb:
            mtom_dir = tmpdir / "mtom"
            mtom_dir.mkdir()
            config = write_config(mtom_dir / "gateway.toml", data_dir=mtom_dir / "var",
                                  database_url=f"sqlite:///{mtom_dir / 'var' / 'gateway.db'}", extra=no_dispatch)
            size, content_type = write_mtom(mtom_dir / "body.mime", args.mtom_mb * 1024 * 1024)
            gateway = GatewayProcess(config)
            try:
                before = vm_hwm_kib(gateway.proc.pid)
                t0 = time.perf_counter()
                with open(mtom_dir / "body.mime", "rb") as body:
                    r = requests.post(gateway.base_url + SVARUT, data=body, auth=(USER, PASSWORD), timeout=1800,
                                      headers={"Content-Type": content_type, "Content-Length": str(size)})
                took = time.perf_counter() - t0
                if r.status_code != 200:
                    raise SystemExit(f"the {args.mtom_mb} MB MTOM document was refused: {r.status_code} {r.text[:300]}")
                after = vm_hwm_kib(gateway.proc.pid)
            finally:
                gateway.terminate()
            ratio = after / 1024 / args.mtom_mb
            print(f"one {args.mtom_mb} MB document as MTOM: accepted in {took:.1f} s; gateway peak RSS {after / 1024:.0f} MiB "
                  f"(idle {before / 1024:.0f} MiB, {ratio:.2f}x the document; target < 1.5x: {'met' if ratio < 1.5 else 'NOT met'}); "
                  f"above idle: {(after - before) / 1024:.0f} MiB ({(after - before) / 1024 / args.mtom_mb:.2f}x: "
                  f"{'flat' if after - before < args.mtom_mb * 1024 / 4 else 'NOT flat'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
