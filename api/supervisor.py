"""``sargas up``: start the embedded broker, the fusion service with the API, and the
simulators as child processes; stop them all on Ctrl-C or SIGTERM.

Each part runs in its own process (``sargas broker``, ``sargas serve``, ``sargas sim``), so
they use both cores and a crash in one is reported instead of hanging the rest. Children
run in sessions of their own, so that a Ctrl-C reaches only this process, which then
stops them in order (simulators, fusion, broker); they get SIGTERM if this process dies
(``PR_SET_PDEATHSIG``), so none survives it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import webbrowser
from dataclasses import dataclass, field
from pathlib import Path

from fusion.mqttlink import connect, new_client

#: How long a part may take to start or to stop before it is killed.
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def _die_with_parent() -> None:
    """In the child, before exec: receive SIGTERM when the parent dies (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def port_is_free(host: str, port: int) -> bool:
    """True if nothing listens on ``host:port``."""
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """Any port on ``host`` that is free now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_until(check, timeout: float, interval: float = 0.1) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``check()`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False


def _broker_ready(url: str) -> bool:
    """True if an MQTT session can be opened (a bare TCP probe makes amqtt log an error)."""
    client = new_client()
    try:
        connect(client, url, timeout=1.0)
    except ConnectionError:
        return False
    client.disconnect()
    client.loop_stop()
    return True


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass
class Supervisor:
    """Starts the parts of ``sargas up`` in order and stops them in reverse order."""

    broker: str | None
    prefix: str
    host: str
    port: int
    data_dir: Path
    scenario: str
    speed: str
    broker_port: int = 1883
    open_browser: bool = True
    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    _stopping: bool = False

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-m", "api.cli", *args], preexec_fn=_die_with_parent,
                                start_new_session=True)
        self.children.append((name, proc))
        return proc

    def _on_signal(self, _sig: int, _frame: object) -> None:
        self._stopping = True

    def run(self) -> int:
        """Run until a signal or until a part fails; return the exit code."""
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        try:
            return self._start_and_watch()
        finally:
            self.stop()

    def _start_and_watch(self) -> int:
        broker = self.broker or self._start_broker()
        if broker is None:
            return 1
        common = ["--broker", broker, "--prefix", self.prefix]
        serve = self._spawn("serve", "serve", *common, "--host", self.host, "--port", str(self.port),
                            "--data-dir", str(self.data_dir), *self._zones_args())
        shown_host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        url = f"http://{shown_host}:{self.port}/"
        if not wait_until(lambda: serve.poll() is not None or self._stopping or _healthy(url + "api/health"),
                          START_TIMEOUT_S) or serve.poll() is not None:
            return self._failed("the fusion service and API did not start")
        self._spawn("sim", "sim", self.scenario, *common, "--speed", self.speed, "--loop")
        print(f"Sargas is up: live console at {url}  (broker {broker}; Ctrl-C stops everything)", flush=True)
        if self.open_browser and (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            webbrowser.open(url)
        while not self._stopping:
            for name, proc in self.children:
                if proc.poll() is not None:
                    return self._failed(f"{name} stopped unexpectedly (exit code {proc.returncode})")
            time.sleep(0.2)
        return 0

    def _zones_args(self) -> list[str]:
        """``--zones`` with the scenario's zones written to ``<data-dir>/zones.geojson``, if it has any."""
        from simulators import load_scenario

        path = self.data_dir / "zones.geojson"
        return ["--zones", str(path)] if load_scenario(self.scenario).write_zones(path) else []

    def _start_broker(self) -> str | None:
        host = "127.0.0.1"
        port = self.broker_port
        if port == 0 or not port_is_free(host, port):
            if port:
                print(f"port {port} is taken; the embedded broker uses another one", file=sys.stderr)
            port = free_port(host)
        proc = self._spawn("broker", "broker", "--host", host, "--port", str(port))
        if not wait_until(lambda: proc.poll() is not None or _broker_ready(f"mqtt://{host}:{port}"), START_TIMEOUT_S) or proc.poll() is not None:
            self._failed("the embedded MQTT broker did not start")
            return None
        return f"mqtt://{host}:{port}"

    def _failed(self, message: str) -> int:
        if self._stopping:
            return 0
        print(f"sargas up: {message}; stopping", file=sys.stderr)
        return 1

    def stop(self) -> None:
        """Stop the children newest first (simulators, then fusion, then the broker)."""
        for _name, proc in reversed(self.children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.children.clear()
