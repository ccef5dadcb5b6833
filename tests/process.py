"""Running the real gateway as a separate process, as an operator would."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, SENDER_PASSWORD

LISTENING = re.compile(r"listening on (https?://[\d.]+:\d+)")


def write_config(path: Path, *, data_dir: Path, database_url: str, extra: str = "") -> Path:
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = 0
threads = 4

[storage]
data_dir = "{data_dir}"
database_url = "{database_url}"

[[senders]]
name = "kommune-sak"
password = "{SENDER_PASSWORD}"
organization_number = "974720760"
{extra}
""",
        encoding="utf-8",
    )
    return path


def children(pid: int) -> dict[int, str]:
    """pid → command line of the direct children of ``pid`` (Linux ``/proc``)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry.name)] = cmdline
    return found


def cpu_seconds(pid: int, *, with_children: bool = True) -> float:
    """User + system CPU time so far of ``pid`` and (by default) its living descendants."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    if not with_children:
        return own
    return own + sum(cpu_seconds(child) for child in children(pid))


class GatewayProcess:
    """``python run_gateway.py --config FILE`` on a free loopback port."""

    def __init__(self, config: Path | None = None, *, timeout: float = 60, command: list[str] | None = None,
                 cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        if command is None:
            assert config is not None
            command = [sys.executable, str(ROOT / "run_gateway.py"), "--config", str(config)]
            cwd = config.parent
        self.proc = subprocess.Popen(
            command, cwd=cwd, env=dict(env or os.environ, PYTHONUNBUFFERED="1"),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.output: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            self.output.append(line)
            match = LISTENING.search(line)
            if match:
                self.base_url = match.group(1)
                # keep reading, or a full pipe would block the gateway's logging
                threading.Thread(target=self._drain, daemon=True).start()
                return
        self.kill()
        raise RuntimeError("gateway did not start:\n" + "".join(self.output))

    @classmethod
    def start(cls, command: list[str], *, cwd: Path, env: dict[str, str]) -> "GatewayProcess":
        return cls(command=command, cwd=cwd, env=env)

    def _drain(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.output.append(line)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def terminate(self, *, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)
