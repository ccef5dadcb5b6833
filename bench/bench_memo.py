"""MeMo benchmark: a signed MeMo of about 40 KB through /memo (parse, verify the signature,
MeMo rules, schema validation, mapping, durable commit) against the bare spyne echo of
bench_intake.py on the same hosting stack, in the same run; then ``gateway validate`` on
1,000 files. Target: ratio at least 0.4.

    python bench/bench_memo.py [--requests 600] [--concurrency 8] [--files 1000]
"""
from __future__ import annotations

import argparse
import base64
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from lxml import etree  # noqa: E402

from bench.bench_intake import PASSWORD, USER, drive, echo_envelope, make_pdf, start_echo  # noqa: E402
from gateway.xml.signing import sign_message  # noqa: E402
from tests.process import GatewayProcess, cpu_seconds, write_config  # noqa: E402

CORPUS = ROOT / "tests" / "security" / "memo"
EXAMPLE = ROOT.parent / "shared" / "specs" / "memo" / "examples" / "MeMo_v1.1_Full_Example.xml"
MEMO = "https://DigitalPost.dk/MeMo-1"


def measured(pid: int, run) -> dict[str, float]:
    """``run()``'s throughput figures plus the server's CPU milliseconds per request (all its
    processes)."""
    before = cpu_seconds(pid)
    result = run()
    result["cpu_ms"] = (cpu_seconds(pid) - before) * 1000 / result["requests"]
    return result


_KEY = serialization.load_pem_private_key((CORPUS / "corpus-signer.pem").read_bytes(), password=None)
_CERT = x509.load_pem_x509_certificate((CORPUS / "corpus-signer.crt").read_bytes())


def signed_memo(pdf_size: int) -> bytes:
    """The Full example with a fresh messageUUID and its own PDFs of about ``pdf_size`` bytes:
    real letters never share documents, and the blob store stores identical ones once."""
    root = etree.fromstring(EXAMPLE.read_bytes())
    root.find(f"{{{MEMO}}}MessageHeader/{{{MEMO}}}messageUUID").text = str(uuid.uuid4())
    for file in root.iter(f"{{{MEMO}}}File"):
        if file.findtext(f"{{{MEMO}}}encodingFormat") == "application/pdf":
            file.find(f"{{{MEMO}}}content").text = base64.b64encode(make_pdf(pdf_size)).decode()
    for url in root.iter(f"{{{MEMO}}}url"):
        url.text = url.text.replace("http://", "https://")
    signed = sign_message(root, key=_KEY, cert=_CERT)  # keys loaded once: PEM per call costs ~30 ms
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def send_envelope(memo: bytes) -> bytes:
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:m="urn:gateway:memo:1"><s:Body>'
        f"<m:sendMessage><m:message>{base64.b64encode(memo).decode()}</m:message></m:sendMessage></s:Body></s:Envelope>"
    ).encode()


def run_pair(args: argparse.Namespace, tmpdir: Path, pdf: int, processes: int) -> tuple[dict[str, float], dict[str, float], Path]:
    """The echo and the gateway, each with ``processes`` serving processes, one after the other."""
    data = tmpdir / f"var-{processes}"
    extra = (f'signing_certificate = "{CORPUS / "corpus-signer.crt"}"\n[dispatch]\nenabled = false\n')
    config = write_config(tmpdir / f"gateway-{processes}.toml", data_dir=data, database_url=f"sqlite:///{data / 'gateway.db'}", extra=extra)
    config.write_text(config.read_text().replace("threads = 4", f"threads = {args.threads}\nprocesses = {processes}"), encoding="utf-8")
    gateway = GatewayProcess(config)
    echo, echo_url = start_echo(threads=4, processes=processes)
    try:
        echo_body = echo_envelope(signed_memo(pdf))
        url = gateway.base_url + "/memo"
        drive(echo_url, echo_body, total=40, concurrency=args.concurrency, auth=None)
        warm = [send_envelope(signed_memo(pdf)) for _ in range(40)]
        drive(url, warm, total=len(warm), concurrency=args.concurrency, auth=(USER, PASSWORD))
        # Rounds alternate echo and gateway, so a slow minute of a shared machine hits both.
        echo_rounds, memo_rounds = [], []
        for _ in range(args.rounds):
            bodies = [send_envelope(signed_memo(pdf)) for _ in range(args.requests)]  # fresh messageUUIDs
            echo_rounds.append(measured(echo.pid, lambda: drive(echo_url, echo_body, total=args.requests,
                                                                concurrency=args.concurrency, auth=None)))
            memo_rounds.append(measured(gateway.proc.pid, lambda: drive(url, bodies, total=len(bodies),
                                                                        concurrency=args.concurrency, auth=(USER, PASSWORD))))
    finally:
        gateway.terminate()
        echo.terminate()
        echo.wait(timeout=30)
    return median_round(echo_rounds), median_round(memo_rounds), config


def median_round(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the rounds, and the spread of the throughput."""
    result = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    result["rps_min"], result["rps_max"] = min(r["rps"] for r in rounds), max(r["rps"] for r in rounds)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=600, help="per round")
    parser.add_argument("--rounds", type=int, default=3, help="echo and gateway alternately; medians are reported")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="server.threads of the gateway")
    parser.add_argument("--processes", default="1,2", help="server.processes to measure, comma-separated (default: 1,2)")
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    pdf = 6 * 1024  # three PDFs in the Full example → about 40 KB of MeMo
    counts = [int(p) for p in args.processes.split(",")]
    with tempfile.TemporaryDirectory(prefix="gw-memo-") as tmp:
        tmpdir = Path(tmp)
        results = {p: run_pair(args, tmpdir, pdf, p) for p in counts}
        size = len(signed_memo(pdf))
        print(f"signed MeMo of {size // 1024} KB ({args.requests} requests, {args.concurrency} concurrent clients, SQLite, "
              f"{args.threads} threads per gateway process)")
        print(f"medians of {args.rounds} rounds")
        print(f"{'':40}{'req/s':>10}{'(range)':>16}{'p50 ms':>10}{'p99 ms':>10}{'CPU ms/req':>12}")
        for p, (echo_r, memo_r, _config) in results.items():
            for name, r in ((f"bare spyne echo, {p} process(es)", echo_r), (f"gateway /memo, {p} process(es)", memo_r)):
                spread = f"{r['rps_min']:.0f}-{r['rps_max']:.0f}"
                print(f"{name:40}{r['rps']:10.1f}{spread:>16}{r['p50_ms']:10.1f}{r['p99_ms']:10.1f}{r['cpu_ms']:12.2f}")
        baseline = results[counts[0]][0]["rps"] if counts[0] == 1 else None
        for p, (echo_r, memo_r, _config) in results.items():
            same = memo_r["rps"] / echo_r["rps"]
            line = f"gateway with {p} process(es): {same:.2f} x the echo with as many"
            if baseline:
                line += f", {memo_r['rps'] / baseline:.2f} x the one-process echo (the foundation baseline)"
            print(line + " (target >= 0.40)")

        config = results[counts[0]][2]
        files = tmpdir / "files"
        files.mkdir()
        unsigned = EXAMPLE.read_bytes()
        for i in range(args.files):
            (files / f"m{i:04}.xml").write_bytes(unsigned)
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "gateway.cli", "validate", "--schema", "memo-1.1", str(files), "--config", str(config)],
                             cwd=ROOT, capture_output=True, text=True)
        took = time.perf_counter() - start
        print(f"gateway validate: {args.files} files in {took:.1f} s = {args.files / took:.0f} files/s (whole command); {out.stdout.strip().splitlines()[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
