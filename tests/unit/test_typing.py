"""mypy finds no type errors in gateway/ (configuration: mypy.ini)."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def test_mypy_finds_no_errors_in_gateway():
    result = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "mypy.ini"), "--no-incremental", "--cache-dir", os.devnull],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
