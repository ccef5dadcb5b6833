"""``/metrics`` with ``server.processes = 2``: letters and refusals land on each serving process
(the other stopped with SIGSTOP), the dispatch process delivers them, and a scrape of either
serving process sums all three, also after one of them was killed and replaced."""
from __future__ import annotations

import os
import signal
import uuid

import pytest
import requests
import zeep
from zeep import Client
from zeep.transports import Transport

from gateway.soap.svarut import PATH
from tests.conftest import SENDER_PASSWORD, SVARUT_BINDING
from tests.integration.test_metrics import scrape, settled, total, value
from tests.integration.test_processes import serving, wait_for
from tests.process import GatewayProcess, children, write_config
from tests.svarut_builders import forsendelse

pytestmark = pytest.mark.slow


def _only(pid: int, others: list[int]):
    """While in the block, only ``pid`` of the serving processes accepts connections."""
    class Only:
        def __enter__(self) -> None:
            for other in others:
                if other != pid:
                    os.kill(other, signal.SIGSTOP)

        def __exit__(self, *exc: object) -> None:
            for other in others:
                if other != pid:
                    os.kill(other, signal.SIGCONT)
    return Only()


def test_a_scrape_of_either_serving_process_sums_every_process(tmp_path, database_url, svarut_wsdl):
    data_dir = tmp_path / "var"
    (data_dir / "metrics").mkdir(parents=True)
    (data_dir / "metrics" / "counter_1.db").write_bytes(b"left by an earlier run")  # removed at start
    config = write_config(tmp_path / "gateway.toml", data_dir=data_dir, database_url=database_url,
                          extra="[dispatch]\nenabled = true\npoll_interval_seconds = 0.2\n")
    config.write_text(config.read_text().replace("threads = 4", "threads = 2\nprocesses = 2"), encoding="utf-8")
    gw = GatewayProcess(config)
    try:
        wait_for(lambda: "".join(gw.output).count("serving process") == 2 and "gateway worker" in "".join(gw.output))
        processes = serving(gw.proc.pid)
        assert len(processes) == 2
        session = requests.Session()
        session.auth = ("kommune-sak", SENDER_PASSWORD)
        session.trust_env = False
        client = Client(str(svarut_wsdl), transport=Transport(session=session, timeout=30, operation_timeout=30))
        svc = client.create_service(SVARUT_BINDING, gw.base_url + PATH)
        calls = 0

        ids = []
        for pid in processes:
            with _only(pid, processes):
                session.close()  # new connections, accepted by the running process
                ids += [svc.sendForsendelse(forsendelse=forsendelse(client)) for _ in range(2)]
                with pytest.raises(zeep.exceptions.Fault):
                    svc.retrieveForsendelseStatus(forsendelsesid=str(uuid.uuid4()))
                calls += 3
        assert len(set(ids)) == 4

        def status(sid: str) -> str:
            nonlocal calls
            calls += 1
            return svc.retrieveForsendelseStatus(forsendelsesid=sid)

        def all_printed() -> bool:
            return all(status(sid) == "SENDT_PRINT" for sid in ids)

        wait_for(all_printed)  # the dispatch process sends them to the local print folder
        session.close()
        settled(gw.base_url, {PATH: calls})  # every process has finished (and counted) its requests

        answers = []
        for pid in processes:
            with _only(pid, processes):
                answers.append(scrape(gw.base_url))
        first, second = answers
        for samples in answers:
            assert value(samples, "gateway_letters_accepted_total", operation="sendForsendelse") == 4
            assert value(samples, "gateway_requests_refused_total", endpoint=PATH, code="SHIPMENT_NOT_FOUND") == 2
            assert total(samples, "gateway_requests_refused_total") == 2
            assert value(samples, "gateway_request_duration_seconds_count", endpoint=PATH) == calls
            # counted by the dispatch process
            assert value(samples, "gateway_deliveries_total", channel="print", outcome="sent_to_print") == 4
            assert value(samples, "gateway_dispatch_duration_seconds_count", kind="route") == 4
            assert value(samples, "gateway_database_up") == 1
        assert {k: v for k, v in first.items() if "_created" not in k[0]} == {k: v for k, v in second.items() if "_created" not in k[0]}
        written = {path.name.rsplit("_", 1)[1] for path in (data_dir / "metrics").glob("*.db")}
        assert len(written) >= 3  # two serving processes and the dispatch process

        os.kill(processes[0], signal.SIGKILL)
        wait_for(lambda: len([p for p in serving(gw.proc.pid) if p not in processes]) == 1)
        wait_for(lambda: "".join(gw.output).count("serving process") == 3)
        after = scrape(gw.base_url)  # the dead process's counts are still in the sums
        assert value(after, "gateway_letters_accepted_total", operation="sendForsendelse") == 4
        assert value(after, "gateway_request_duration_seconds_count", endpoint=PATH) == calls
        all_children = list(children(gw.proc.pid))
    except BaseException:
        gw.kill()
        raise
    assert gw.terminate(timeout=90) == 0
    assert all_children


def test_the_supervisor_gives_each_child_the_folder_and_reports_each_exit(tmp_path):
    """What the multi-process mode rests on: every child starts with PROMETHEUS_MULTIPROC_DIR
    set (before it imports prometheus_client), and each exit is reported for mark_process_dead."""
    import sys

    from gateway.metrics import MULTIPROC_ENV
    from gateway.supervisor import ChildSpec, RestartPolicy, Supervisor

    folder = tmp_path / "metrics"
    script = ("import os, sys; from pathlib import Path; "
              f"Path({str(tmp_path)!r}, str(os.getpid())).write_text(os.environ[{MULTIPROC_ENV!r}]); "
              "sys.exit(3)")
    exited: list[int] = []
    supervisor = Supervisor([ChildSpec("short-lived", [sys.executable, "-c", script])],
                            policy=RestartPolicy(delay_seconds=0.05, max_restarts=2, window_seconds=60),
                            environment={MULTIPROC_ENV: str(folder)}, on_exit=exited.append)
    assert supervisor.run() == 1  # it kept dying
    assert len(exited) == len(set(exited)) == 3
    assert all((tmp_path / str(pid)).read_text() == str(folder) for pid in exited)
