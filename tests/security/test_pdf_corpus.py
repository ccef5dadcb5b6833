"""The hostile PDF corpus: every case must get its fault code within the work bounds.

The cases are built by ``hostile_pdfs.py`` or are files in ``pdf/`` named
``nonconformant-<CODE>-<what>.pdf`` (or ``conformant-<what>.pdf``). They run in a child
process with its address space capped, so a bomb that escapes the bounds fails the test
instead of the machine; each case's CPU time and the child's peak memory are checked.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from gateway.config import IntakePolicy
from tests.conftest import ROOT, make_pdf
from tests.security.hostile_pdfs import CORPUS

FILES = Path(__file__).with_name("pdf")
#: pypdf's and Python's wording, which must never reach a caller: the fault is read by
#: case-system operators ("'<=' not supported between instances of 'int' and 'NameObject'",
#: "IndirectObject(4, 0, 140238681435024)", "... object has no setter").
PYTHON_WORDING = re.compile(r"instances of|object has no|IndirectObject\(|NameObject|0x[0-9a-f]|"
                            r"Error\b|Exception\b|'[A-Za-z]+' object|!$")
NAME = re.compile(r"^nonconformant-([A-Z_]+)-[\w-]+\.pdf$")
#: The child may use this much address space in all (Python, pypdf, one stream at a time).
ADDRESS_SPACE = 1536 << 20
#: Peak resident memory of the child while it inspects a case (the case's bytes and Python
#: included, building it not): a few 32 MiB streams at most.
PEAK_RSS = 400 << 20

_CHILD = r"""
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]), int(sys.argv[1])))
from pathlib import Path

def reset_peak():
    # Linux: writing 5 to clear_refs resets VmHWM, so the peak is the inspection's, not that of
    # building the case (a 2,000,000-object PDF is hundreds of MiB of Python objects to write)
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False

def peak():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

from gateway.documents.pdf import inspect_pdf
from gateway.errors import GatewayError
from tests.security.hostile_pdfs import CORPUS

cases = [(name, build) for name, (_expected, build) in CORPUS.items()]
cases += [(path.name, path.read_bytes) for path in sorted(Path(sys.argv[2]).glob("*.pdf"))]
results = {}
peak_rss = 0
for name, build in cases:
    data = build()
    if not reset_peak():
        peak_rss = 0  # no reset here: the process's own peak, building included, is the bound
    start = time.thread_time()
    message = ""
    try:
        outcome = inspect_pdf(data, field="d").page_count
    except GatewayError as exc:
        outcome, message = str(exc.code), exc.message
    except BaseException as exc:  # MemoryError above all: the bounds did not hold
        outcome = f"{type(exc).__name__}: {str(exc)[:200]}"
    results[name] = {"outcome": outcome, "message": message, "cpu": time.thread_time() - start}
    peak_rss = max(peak_rss, peak())
    del data
results["peak_rss"] = peak_rss
print(json.dumps(results))
"""


def _expected() -> dict[str, str | int]:
    expected: dict[str, str | int] = {name: code for name, (code, _build) in CORPUS.items()}
    for path in sorted(FILES.glob("*.pdf")):
        match = NAME.match(path.name)
        expected[path.name] = match.group(1) if match else ("conformant" if path.name.startswith("conformant-") else "misnamed")
    return expected


def test_hostile_pdfs_are_refused_within_bounds():
    policy = IntakePolicy()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", _CHILD, str(ADDRESS_SPACE), str(FILES)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    problems = []
    for name, expected in _expected().items():
        got = results[name]
        if expected == "conformant":
            ok = isinstance(got["outcome"], int)
        else:
            ok = got["outcome"] == expected
        if not ok:
            problems.append(f"{name}: expected {expected}, got {got['outcome']}")
        if PYTHON_WORDING.search(got["message"]):
            problems.append(f"{name}: the fault text has Python's wording: {got['message']!r}")
        # the deadline is checked between bounded steps: one step may overrun it a little
        if got["cpu"] > policy.pdf_max_seconds + 2:
            problems.append(f"{name}: {got['cpu']:.1f} s of CPU, the bound is {policy.pdf_max_seconds} s")
    assert results["peak_rss"] < PEAK_RSS, f"peak memory {results['peak_rss'] >> 20} MiB"
    assert not problems, "\n".join(problems)
    assert len(results) > 18


def test_legitimate_pdfs_are_accepted_with_their_pages(tmp_path):
    """fpdf2 PDFs with compressed pages and images, and pypdf's rewrite with object streams."""
    import io

    from fpdf import FPDF
    from PIL import Image
    from pypdf import PdfReader, PdfWriter

    from gateway.documents.pdf import inspect_pdf

    pdf = FPDF()
    photo = Image.frombytes("RGB", (300, 200), os.urandom(300 * 200 * 3))
    for page in range(30):
        pdf.add_page()
        pdf.set_font("helvetica", size=10)
        for line in range(40):
            pdf.cell(text=f"Linje {line} på side {page + 1}: " + "vedtak " * 8)
            pdf.ln()
        if page % 5 == 0:
            pdf.image(photo, x=10, y=10, w=80)
    compressed = bytes(pdf.output())
    assert inspect_pdf(compressed, field="d").page_count == 30

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(compressed)))
    writer.compress_identical_objects()
    out = io.BytesIO()
    writer.write(out)
    assert inspect_pdf(out.getvalue(), field="d").page_count == 30

    path = tmp_path / "vedtak.pdf"
    path.write_bytes(make_pdf(pages=3))
    with path.open("rb") as file:  # a large document is inspected from disk
        assert inspect_pdf(file, field="d").page_count == 3
