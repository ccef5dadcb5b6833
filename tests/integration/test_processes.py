"""``server.processes = 2``: a supervisor, two serving processes on one socket and a dispatch
process, run as an operator runs them (``run_gateway.py --config``), on SQLite and PostgreSQL.

Each serving process is shown to take letters on its own (the other one stopped with
SIGSTOP), the dispatch process delivers them, a killed process is started again, and
SIGTERM stops all of them with exit code 0.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import requests
from zeep import Client
from zeep.transports import Transport

from gateway.soap.svarut import PATH
from tests.conftest import SENDER_PASSWORD, SVARUT_BINDING
from tests.process import GatewayProcess, children, write_config
from tests.svarut_builders import forsendelse


def wait_for(predicate, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def serving(pid: int) -> list[int]:
    return sorted(p for p, cmd in children(pid).items() if " serve " in cmd + " " and "--listen-fd" in cmd)


def test_two_serving_processes_and_a_dispatch_process(tmp_path, database_url, svarut_wsdl):
    config = write_config(tmp_path / "gateway.toml", data_dir=tmp_path / "var", database_url=database_url,
                          extra="[dispatch]\nenabled = true\npoll_interval_seconds = 0.2\n")
    config.write_text(config.read_text().replace("threads = 4", "threads = 2\nprocesses = 2"), encoding="utf-8")
    gw = GatewayProcess(config)
    try:
        wait_for(lambda: "".join(gw.output).count("serving process") == 2)
        kids = children(gw.proc.pid)
        assert len(serving(gw.proc.pid)) == 2 and sum(" worker " in cmd for cmd in kids.values()) == 1

        session = requests.Session()
        session.auth = ("kommune-sak", SENDER_PASSWORD)
        session.trust_env = False
        client = Client(str(svarut_wsdl), transport=Transport(session=session, timeout=30, operation_timeout=30))
        svc = client.create_service(SVARUT_BINDING, gw.base_url + PATH)

        ids = []
        first, second = serving(gw.proc.pid)
        for stopped, running in ((first, second), (second, first)):
            os.kill(stopped, signal.SIGSTOP)  # only `running` can accept now
            try:
                session.close()  # new connections, accepted by the running process
                ids += [svc.sendForsendelse(forsendelse=forsendelse(client)) for _ in range(3)]
            finally:
                os.kill(stopped, signal.SIGCONT)
        assert len(set(ids)) == 6

        # the dispatch process sends them to the local print folder (nobody is in the register)
        wait_for(lambda: all(svc.retrieveForsendelseStatus(forsendelsesid=sid) == "SENDT_PRINT" for sid in ids))

        os.kill(first, signal.SIGKILL)
        replacement = wait_for(lambda: [p for p in serving(gw.proc.pid) if p != second and p != first])
        assert len(replacement) == 1
        wait_for(lambda: "".join(gw.output).count("serving process") == 3)
        assert "serve-1" in "".join(gw.output) and "starting it again" in "".join(gw.output)
        assert requests.get(gw.base_url + "/health", timeout=30).json()["status"] == "ok"
        all_children = list(children(gw.proc.pid))
    except BaseException:
        gw.kill()
        raise
    assert gw.terminate(timeout=90) == 0
    assert not [pid for pid in all_children if alive(pid)]


def alive(pid: int) -> bool:
    try:
        return "(zombie)" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def test_a_process_that_keeps_dying_stops_the_gateway(tmp_path, sqlite_url):
    """A restart cannot fix a broken environment: after too many deaths the gateway exits 1."""
    import sys

    from gateway.supervisor import ChildSpec, RestartPolicy, Supervisor

    supervisor = Supervisor([ChildSpec("doomed", [sys.executable, "-c", "raise SystemExit(3)"])],
                            policy=RestartPolicy(delay_seconds=0.05, max_restarts=3, window_seconds=60))
    started = time.monotonic()
    assert supervisor.run() == 1
    assert time.monotonic() - started < 30


def test_serving_processes_speak_tls_when_configured(tmp_path, sqlite_url):
    from tests.conftest import make_certificate

    cert, key = make_certificate(tmp_path)
    config = write_config(tmp_path / "gateway.toml", data_dir=tmp_path / "var", database_url=sqlite_url, extra="[dispatch]\nenabled = false\n")
    config.write_text(config.read_text().replace(
        "threads = 4", f'threads = 2\nprocesses = 2\ntls_certificate = "{cert}"\ntls_private_key = "{key}"'), encoding="utf-8")
    gw = GatewayProcess(config)
    try:
        assert gw.base_url.startswith("https://127.0.0.1:")
        wait_for(lambda: "".join(gw.output).count("serving process") == 2)
        assert len(children(gw.proc.pid)) == 2  # dispatch is off: no dispatch process
        for _ in range(4):
            with requests.Session() as s:
                s.trust_env = False
                assert s.get(gw.base_url + "/health", verify=str(cert), timeout=30).json()["status"] == "ok"
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(gw.base_url.replace("https", "http") + "/health", timeout=10)
    finally:
        assert gw.terminate(timeout=90) == 0


def test_serving_processes_stop_when_the_supervisor_is_killed(tmp_path, sqlite_url):
    config = write_config(tmp_path / "gateway.toml", data_dir=tmp_path / "var", database_url=sqlite_url, extra="[dispatch]\nenabled = true\n")
    config.write_text(config.read_text().replace("threads = 4", "threads = 2\nprocesses = 2"), encoding="utf-8")
    gw = GatewayProcess(config)
    wait_for(lambda: "".join(gw.output).count("serving process") == 2 and "gateway worker" in "".join(gw.output))
    kids = list(children(gw.proc.pid))
    assert len(kids) == 3
    gw.kill()  # SIGKILL: the supervisor cannot stop anyone
    wait_for(lambda: not [pid for pid in kids if alive(pid)], timeout=30)
