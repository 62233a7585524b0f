"""What the embedded broker (amqtt) sustains, beside Mosquitto, on this machine.

For each offered rate, one paho publisher sends detection-sized messages (QoS 1, as
sensors do) for a few seconds, paced evenly; one subscriber records each message's
latency. A broker sustains a rate while it delivers every message and the p99 latency
stays low. Run: ``python benchmarks/broker_throughput.py [--seconds 4]``.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fusion.mqttlink import Outbox, connect, new_client  # noqa: E402

RATES = [250, 500, 1000, 2000, 4000, 8000]
PAYLOAD_PAD = b"x" * 400


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(port)


def start_amqtt(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "api.cli", "broker", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_mosquitto(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
                    "max_queued_bytes 0\nmax_inflight_messages 0\nset_tcp_nodelay true\n")
    return subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure(url: str, rate: int, seconds: float) -> tuple[float, float, float]:
    """Delivered fraction, p50 and p99 latency (ms) at ``rate`` messages per second."""
    latencies: list[float] = []
    lock = threading.Lock()
    sub = new_client()
    sub.on_message = lambda _c, _u, msg: latencies.append(time.perf_counter() - float(msg.payload[:20]))
    connect(sub, url)
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.subscribe("bench/#", qos=1)
    subscribed.wait(5)
    pub = new_client()
    connect(pub, url)
    outbox = Outbox(pub)
    total = int(rate * seconds)
    start = time.perf_counter()
    for i in range(total):
        target = start + i / rate
        delay = target - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        outbox.publish("bench/sensors/s/detections", b"%20.6f" % time.perf_counter() + PAYLOAD_PAD, qos=1)
    outbox.wait(30)
    deadline = time.perf_counter() + 10
    while len(latencies) < total and time.perf_counter() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    for client in (pub, sub):
        client.disconnect()
        client.loop_stop()
    with lock:
        lat = np.array(latencies) * 1000.0
    if lat.size == 0:
        return 0.0, float("nan"), float("nan")
    return lat.size / total, float(np.percentile(lat, 50)), float(np.percentile(lat, 99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, {__import__('os').cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print("| broker | offered msg/s | delivered | p50 latency ms | p99 latency ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for name, starter in (("amqtt (embedded)", start_amqtt),
                              ("mosquitto", lambda p: start_mosquitto(p, Path(tmp)))):
            port = free_port()
            proc = starter(port)
            try:
                wait_port(port)
                for rate in RATES:
                    delivered, p50, p99 = measure(f"mqtt://127.0.0.1:{port}", rate, args.seconds)
                    print(f"| {name} | {rate} | {delivered:.1%} | {p50:.1f} | {p99:.1f} |", flush=True)
            finally:
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    main()
