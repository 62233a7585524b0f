"""Detection published → alert received by a WebSocket client, through Mosquitto, fusion and the API.

``sargas serve`` (fusion and API in one process) runs against Mosquitto. Ten co-located
radars publish 10 scans/s each (QoS 1, message time = wall time) so that the offered load
is ``rate`` detections/s: birds (most of the detections, kept as confirmed tracks) plus a
new drone every second, flying for 6 s. Each drone is confirmed after a few scans and
raises ``new_threat``, whose ``time`` is the time of the scan that confirmed it; the
latency is the WebSocket receipt of that alert minus the wall-clock publication of that
scan. The fusion service has the default scenario's zones. It includes the fusion's reorder window (``reorder_window_s``, 0.3 s by default),
during which every scan is held so that late ones can be put in order.

Run: ``python benchmarks/alert_latency.py [--seconds 30] [--rates 1000 10000]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from broker_throughput import free_port, start_mosquitto, wait_port
from websockets.sync.client import connect as ws_connect

from fusion.mqttlink import Outbox, connect, new_client
from fusion.protocol import Topics
from fusion.protocol.codec import dumps
from simulators import load_scenario

SITE = {"lat": 54.30, "lon": 23.15, "alt_m": 200.0}
RADARS = 10
SCAN_HZ = 10.0
DRONE_EVERY_S = 1.0
DRONE_LIFE_S = 6.0


class Scene:
    """Birds circling slowly and drones flying in, as radar plots (range, azimuth, elevation) from the site."""

    def __init__(self, birds: int, seed: int = 1) -> None:
        self.rng = np.random.default_rng(seed)
        self.birds = np.column_stack([self.rng.uniform(-3000, 3000, (birds, 2)), self.rng.uniform(30, 150, birds)])
        self.bird_v = self.rng.normal(0, 5, (birds, 3)) * [1, 1, 0]
        self.drones: list[tuple[float, np.ndarray, np.ndarray]] = []
        self.next_drone = 0.0

    def plots(self, t: float, elapsed: float) -> list[dict[str, object]]:
        if elapsed >= self.next_drone:
            bearing = self.rng.uniform(0, 2 * math.pi)
            start = np.array([2500 * math.sin(bearing), 2500 * math.cos(bearing), 120.0])
            self.drones.append((t, start, -start / np.linalg.norm(start) * 15.0 * [1, 1, 0]))
            self.next_drone += DRONE_EVERY_S
        self.drones = [d for d in self.drones if t - d[0] < DRONE_LIFE_S]
        birds = self.birds + self.bird_v * elapsed
        drones = np.array([start + v * (t - t0) for t0, start, v in self.drones]).reshape(-1, 3)
        pos = np.vstack([birds, drones])
        noisy = pos + self.rng.normal(0, 3, pos.shape)
        r = np.linalg.norm(noisy, axis=1)
        az = np.degrees(np.arctan2(noisy[:, 0], noisy[:, 1])) % 360.0
        el = np.degrees(np.arcsin(noisy[:, 2] / r))
        probs = [{"bird": 0.8, "drone": 0.1}] * len(birds) + [{"drone": 0.85, "bird": 0.05}] * len(drones)
        return [{"range_m": round(float(r[i]), 1), "azimuth_deg": round(float(az[i]), 3),
                 "elevation_deg": round(float(el[i]), 3), "class_probs": probs[i]} for i in range(len(pos))]


@contextmanager
def services(serve_args: Callable[[Path], list[str]]) -> Iterator[tuple[str, int]]:
    """Mosquitto and ``sargas serve`` (with ``serve_args(workdir)``) in a temporary directory: (broker URL, API port)."""
    with tempfile.TemporaryDirectory() as tmp:
        broker_port, api_port = free_port(), free_port()
        mosquitto = start_mosquitto(broker_port, Path(tmp))
        wait_port(broker_port)
        broker = f"mqtt://127.0.0.1:{broker_port}"
        serve = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--broker", broker, "--port",
                                  str(api_port), "--data-dir", str(Path(tmp) / "data"), *serve_args(Path(tmp))],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_healthy(api_port)
            yield broker, api_port
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.wait(30)
            mosquitto.terminate()
            mosquitto.wait()


def default_zones(workdir: Path) -> list[str]:
    """``--zones`` with the default scenario's zones (its site is where the radars are)."""
    zones = workdir / "zones.geojson"
    zones.write_text(json.dumps(load_scenario("default").zones_geojson()))
    return ["--zones", str(zones)]


def wait_healthy(port: int) -> None:
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1) as response:
                if json.load(response)["broker_connected"]:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError("the API did not come up")


class AlertReader:
    """A WebSocket client keeping the receipt time of every alert by its ``time`` field."""

    def __init__(self, port: int) -> None:
        self.received: list[tuple[float, float]] = []
        self.ws = ws_connect(f"ws://127.0.0.1:{port}/ws", max_size=2**26)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for frame in self.ws:
                now = time.time()
                message = json.loads(frame)
                if message.get("schema") == "sargas.alerts/1" and message["kind"] == "new_threat":
                    self.received.append((message["time"], now))
        except Exception:  # noqa: BLE001 - the connection closes at the end of the run
            return


def measure(broker: str, api_port: int, rate: int, seconds: float) -> dict[str, float]:
    """Publish ``rate`` detections/s for ``seconds``; alert latency percentiles (ms) and counts."""
    topics = Topics()
    per_scan = max(1, round(rate / (RADARS * SCAN_HZ)))
    scene = Scene(birds=max(1, per_scan - round(DRONE_LIFE_S / DRONE_EVERY_S)))
    reader = AlertReader(api_port)
    pub = new_client()
    connect(pub, broker)
    outbox = Outbox(pub)
    published: dict[float, float] = {}
    seqs = [0] * RADARS
    period = 1.0 / (SCAN_HZ * RADARS)
    start = time.time()
    k = 0
    detections = 0
    while (elapsed := time.time() - start) < seconds:
        delay = start + k * period - time.time()
        if delay > 0:
            time.sleep(delay)
        sensor = k % RADARS
        t = round(time.time(), 6)
        plots = scene.plots(t, elapsed)
        payload = dumps({"schema": "sargas.detections/1", "sensor_id": f"radar-{sensor}", "kind": "radar",
                         "time": t, "seq": seqs[sensor], "origin": SITE, "detections": plots})
        seqs[sensor] += 1
        published[t] = time.time()
        outbox.publish(topics.detections(f"radar-{sensor}"), payload, qos=1)
        detections += len(plots)
        k += 1
    offered = detections / (time.time() - start)
    outbox.wait(60)
    time.sleep(5.0)
    reader.ws.close()
    pub.disconnect()
    pub.loop_stop()
    latencies = np.array([(now - published[t]) * 1000 for t, now in reader.received if t in published])
    if latencies.size == 0:
        return {"offered": offered, "alerts": 0, "p50": math.nan, "p99": math.nan, "max": math.nan}
    return {"offered": offered, "alerts": latencies.size, "p50": float(np.percentile(latencies, 50)),
            "p99": float(np.percentile(latencies, 99)), "max": float(latencies.max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rates", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print("| offered detections/s | measured | new_threat alerts | p50 ms | p99 ms | max ms |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for rate in args.rates:
        with services(default_zones) as (broker, api_port):
            r = measure(broker, api_port, rate, args.seconds)
        print(f"| {rate} | {r['offered']:.0f} | {r['alerts']:.0f} | {r['p50']:.0f} | {r['p99']:.0f} "
              f"| {r['max']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
