"""How faithfully ``sargas replay`` keeps time at 1×, and how fast it goes at ``--speed max``, through Mosquitto.

Timing at 1×: a recording is replayed in real time while a subscriber notes when each
message arrives; the error of a message is how far its arrival time minus its recorded
``t`` is from the median of that difference (so a constant delay does not count). The
publisher's own lateness against its schedule is reported too. Speed: the same and larger
recordings are replayed at ``--speed max``, timed until the subscriber has every message.
Run: ``python benchmarks/replay_timing.py [--seconds 20]``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from broker_throughput import free_port, wait_port  # noqa: E402

from fusion.mqttlink import connect, new_client  # noqa: E402
from fusion.protocol import RecordingWriter, RecordLine, read_recording  # noqa: E402
from simulators.replay import ReplayStats, replay_recording  # noqa: E402
from simulators.runner import write_recording  # noqa: E402
from simulators.scenario import RECORDING_EPOCH, load_scenario  # noqa: E402


#: The two Mosquitto configurations compared: the project's, and the same with Nagle's algorithm off.
BROKER_CONFIGS = {
    "mosquitto": "max_queued_messages 0\nmax_queued_bytes 0\nmax_inflight_messages 0\n",
    "mosquitto + set_tcp_nodelay": "max_queued_messages 0\nmax_queued_bytes 0\nmax_inflight_messages 0\n"
                                   "set_tcp_nodelay true\n",
}


def start_mosquitto(port: int, workdir: Path, settings: str) -> subprocess.Popen[bytes]:
    conf = workdir / f"mosquitto-{port}.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n{settings}")
    return subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def synthetic(path: Path, rate: float, seconds: float) -> None:
    """A recording of ``rate`` evenly spaced 400-byte truth messages a second."""
    with RecordingWriter(path) as writer:
        for i in range(int(rate * seconds)):
            t = RECORDING_EPOCH + i / rate
            writer.write(t, "sargas/v1/truth", {"schema": "sargas.truth/1", "time": t, "objects": [],
                                                "pad": "x" * 340})


def replay_and_receive(url: str, path: Path, speed: float) -> tuple[ReplayStats, list[float], float]:
    """Replay ``path``; return the replay's statistics, arrival times (perf_counter) and the wall time to the last."""
    lines = [line for line in read_recording(path) if isinstance(line, RecordLine)]
    arrivals: list[float] = []
    done = threading.Event()

    def on_message(*_: object) -> None:
        arrivals.append(time.perf_counter())
        if len(arrivals) == len(lines):
            done.set()

    sub = new_client()
    sub.on_message = on_message
    subscribed = threading.Event()
    sub.on_subscribe = lambda *_: subscribed.set()
    connect(sub, url)
    sub.subscribe("sargas/v1/#", qos=1)
    subscribed.wait(5)
    started = time.perf_counter()
    stats = replay_recording(path, url, speed, threading.Event())
    done.wait(120)
    elapsed = (arrivals[-1] if arrivals else time.perf_counter()) - started
    sub.disconnect()
    sub.loop_stop()
    if len(arrivals) != len(lines):
        print(f"  warning: {len(arrivals)} of {len(lines)} messages arrived")
    return stats, arrivals, elapsed


def timing(url: str, broker: str, name: str, path: Path) -> None:
    lines = [line for line in read_recording(path) if isinstance(line, RecordLine)]
    stats, arrivals, _ = replay_and_receive(url, path, 1.0)
    recorded = np.array([line.t for line in lines[:len(arrivals)]])
    offset = np.array(arrivals) - recorded
    error_ms = np.abs(offset - np.median(offset)) * 1000.0
    rate = len(lines) / max(recorded[-1] - recorded[0], 1e-9)
    print(f"| {broker} | {name} | {len(lines)} | {rate:.0f} | {np.percentile(error_ms, 50):.2f} | "
          f"{np.percentile(error_ms, 99):.2f} | {stats.lateness_ms(50):.2f} | {stats.lateness_ms(99):.2f} |")


def speed_max(url: str, name: str, path: Path) -> None:
    _, arrivals, elapsed = replay_and_receive(url, path, float("inf"))
    size = path.stat().st_size / 1e6
    print(f"| {name} | {len(arrivals)} | {size:.1f} | {elapsed:.2f} | {len(arrivals) / elapsed:,.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="recording length replayed at 1×")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_recording(load_scenario("default"), work / "default.jsonl.gz", duration_s=args.seconds)
        write_recording(load_scenario("mass"), work / "mass.jsonl.gz", duration_s=args.seconds)
        synthetic(work / "dense.jsonl.gz", 500.0, args.seconds)
        write_recording(load_scenario("default"), work / "default-full.jsonl.gz")
        write_recording(load_scenario("mass"), work / "mass-full.jsonl.gz")
        synthetic(work / "dense-full.jsonl.gz", 2000.0, 60.0)
        print("| broker | recording | messages | msg/s | arrival error p50 ms | p99 ms | publish lateness p50 ms | p99 ms |")
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for broker_name, settings in BROKER_CONFIGS.items():
            with running_broker(work, settings) as url:
                for name in ("default", "mass", "dense"):
                    timing(url, broker_name, name, work / f"{name}.jsonl.gz")
        print()
        print("| recording (--speed max) | messages | MB (gzip) | seconds | messages/s |")
        print("| --- | ---: | ---: | ---: | ---: |")
        with running_broker(work, BROKER_CONFIGS["mosquitto"]) as url:
            for name in ("default-full", "mass-full", "dense-full"):
                speed_max(url, name, work / f"{name}.jsonl.gz")


@contextmanager
def running_broker(work: Path, settings: str) -> Iterator[str]:
    """A Mosquitto with ``settings`` on a free port, for the duration of the block; yields its URL."""
    port = free_port()
    broker = start_mosquitto(port, work, settings)
    try:
        wait_port(port)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        broker.terminate()
        broker.wait()


if __name__ == "__main__":
    main()
