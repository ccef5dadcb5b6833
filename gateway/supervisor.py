"""Several serving processes on one listening socket (``server.processes``).

A Python process runs its SOAP calls under one GIL: signature checks, rules, mapping and the
database calls are Python work, so a busy gateway needs more processes, not more threads.
The supervisor binds the socket and applies the migrations once, then starts each serving
process as a fresh interpreter (no ``fork``: no reactor, connection pool or lock is copied)
that adopts the socket, so the kernel shares incoming connections between them. When
dispatch is enabled, one more process runs the dispatch workers (``gateway worker``), so
serving processes only take letters in.

A process that dies is started again after a second; one that keeps dying (more than
:attr:`RestartPolicy.max_restarts` within :attr:`RestartPolicy.window_seconds`) stops the
gateway with exit code 1, since that is a configuration or environment fault a restart
cannot fix. SIGTERM or SIGINT stops every process (each finishes its running calls) and
then the supervisor, which exits 0.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from gateway.config import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartPolicy:
    delay_seconds: float = 1.0
    max_restarts: int = 5
    window_seconds: float = 60.0
    stop_timeout_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """One supervised process: its name in the log, its command, the descriptors it inherits."""

    name: str
    command: list[str]
    pass_fds: tuple[int, ...] = ()


@dataclass(slots=True)
class _Child:
    spec: ChildSpec
    proc: subprocess.Popen[bytes] | None = None
    restarts: deque[float] = field(default_factory=deque)
    due: float = 0.0  # when a dead child is started again


def listening_socket(host: str, port: int) -> socket.socket:
    """The one socket every serving process accepts on (inheritable, so it can be passed)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=1024)
    sock.set_inheritable(True)
    # Every process is woken for a new connection and only one gets it: a blocking accept()
    # would stall the others' reactors. O_NONBLOCK belongs to the shared open file.
    sock.setblocking(False)
    return sock


def child_specs(settings: Settings, config: str | None, fd: int) -> list[ChildSpec]:
    """What the supervisor runs: ``server.processes`` serving processes (only they get the
    socket) and, with dispatch enabled, one dispatch worker process."""
    base = [sys.executable, "-m", "gateway.cli"]
    config_args = ["--config", config] if config else []
    children = [ChildSpec(f"serve-{i + 1}", [*base, "serve", *config_args, "--listen-fd", str(fd)], pass_fds=(fd,))
                for i in range(settings.server.processes)]
    if settings.dispatch.enabled:
        children.append(ChildSpec("dispatch", [*base, "worker", *config_args]))
    return children


class Supervisor:
    """Runs ``children`` until a signal. ``before_stop`` runs first when stopping (the
    supervisor closes its copy of the listening socket there, so the port is released as soon
    as the serving processes let go of it). ``environment`` is added to every child's;
    ``on_exit`` is told the pid of each child that has exited (for the metrics' files)."""

    def __init__(self, children: Sequence[ChildSpec], *, policy: RestartPolicy = RestartPolicy(),
                 before_stop: Callable[[], object] | None = None, environment: Mapping[str, str] | None = None,
                 on_exit: Callable[[int], object] | None = None) -> None:
        self.children = [_Child(spec) for spec in children]
        self.policy = policy
        self.before_stop = before_stop
        self.environment = dict(environment or {})
        self.on_exit = on_exit
        self._stopping = False

    def run(self) -> int:
        """Start the children and keep them running until a signal; answer the exit code."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            return self._run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _run(self) -> int:
        try:
            return self._watch()
        finally:
            if self.before_stop is not None:
                self.before_stop()
            self._stop_all()

    def _watch(self) -> int:
        for child in self.children:
            self._start(child)
        code = 0
        while not self._stopping:
            now = time.monotonic()
            for child in self.children:
                if child.proc is not None and child.proc.poll() is not None:
                    logger.error("%s (pid %d) exited with %s; starting it again", child.spec.name, child.proc.pid,
                                 child.proc.returncode)
                    self._exited(child.proc.pid)
                    child.proc = None
                    child.due = now + self.policy.delay_seconds
                    while child.restarts and now - child.restarts[0] > self.policy.window_seconds:
                        child.restarts.popleft()
                    child.restarts.append(now)
                    if len(child.restarts) > self.policy.max_restarts:
                        logger.critical("%s died %d times within %.0f s; stopping the gateway", child.spec.name,
                                        len(child.restarts), self.policy.window_seconds)
                        self._stopping, code = True, 1
                        break
                if child.proc is None and not self._stopping and now >= child.due:
                    self._start(child)
            time.sleep(0.1)
        return code

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._stopping = True

    def _start(self, child: _Child) -> None:
        env = dict(os.environ, **self.environment, GATEWAY_SUPERVISED="1", GATEWAY_SUPERVISOR_PID=str(os.getpid()))
        child.proc = subprocess.Popen(child.spec.command, pass_fds=child.spec.pass_fds, env=env)
        logger.info("started %s (pid %d)", child.spec.name, child.proc.pid)

    def _stop_all(self) -> None:
        running = [c.proc for c in self.children if c.proc is not None and c.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.policy.stop_timeout_seconds
        for proc in running:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.error("pid %d did not stop within %.0f s; killing it", proc.pid, self.policy.stop_timeout_seconds)
                proc.kill()
                proc.wait()
            self._exited(proc.pid)

    def _exited(self, pid: int) -> None:
        if self.on_exit is not None:
            try:
                self.on_exit(pid)
            except Exception:  # noqa: BLE001 - bookkeeping must not stop the supervisor
                logger.exception("after pid %d exited", pid)


def stop_when_orphaned(stop: Callable[[], object], *, interval: float = 1.0) -> None:
    """Call ``stop`` once this process's supervisor is gone (even if it was killed, even while
    this process was still starting), so no serving process outlives it holding the port."""
    parent = int(os.environ.get("GATEWAY_SUPERVISOR_PID") or os.getppid())

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        stop()

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()
